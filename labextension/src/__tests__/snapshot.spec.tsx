/**
 * The run's notebook on the run page: the snapshot kept with the run is preferred (shown "as it
 * was when the run ended", at the run's cell), the disk file is the fallback with its note; and
 * the choice among a run's notebook/ artifacts.
 */
import * as React from 'react';
import { act } from 'react';
import { createRoot, Root } from 'react-dom/client';

import * as api from '../api';
import { RunNotebook } from '../runpage/Provenance';
import * as requests from '../runpage/requests';
import { chooseSnapshot, loadRunNotebook, notebookCaption, snapshotInfo } from '../runpage/snapshot';
import { IFileInfo, IRunDetail } from '../tokens';

jest.mock('@jupyterlab/apputils', () => jest.requireActual('@jupyterlab/apputils/lib/sanitizer'));
jest.mock('../api', () => ({
  ...jest.requireActual<typeof import('../api')>('../api'),
  listArtifacts: jest.fn()
}));
jest.mock('../runpage/requests', () => ({
  ...jest.requireActual<typeof import('../runpage/requests')>('../runpage/requests'),
  fetchArtifactPart: jest.fn(),
  notebookFile: jest.fn()
}));
const mockedApi = jest.mocked(api);
const mockedRequests = jest.mocked(requests);

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const RAN = '%%track first\nloss = 0.25';

function file(path: string, size = 100): IFileInfo {
  return { path, is_dir: false, file_size: size, sha256: null };
}

function notebook(source: string, snapshot?: Record<string, unknown>): Record<string, unknown> {
  return {
    nbformat: 4,
    metadata: snapshot ? { mlnb: { snapshot } } : {},
    cells: [
      { cell_type: 'code', id: 'c-0', source: 'x = 1', outputs: [], execution_count: 1, metadata: {} },
      { cell_type: 'code', id: 'c-train', source, outputs: [], execution_count: 2, metadata: {} }
    ]
  };
}

const SNAPSHOT_META = {
  saved_at: '2026-12-03T07:00:00+00:00',
  cell_id: 'c-train',
  cell_found: true,
  source_matched: false,
  from_disk_mtime: '2026-12-03T06:50:00+00:00'
};

describe('chooseSnapshot', () => {
  it('takes the notebook named as the run’s, else the only one', () => {
    const files = [file('notebook/a.ipynb'), file('notebook/train.ipynb'), file('notebook/x.txt')];
    expect(chooseSnapshot(files, 'work/train.ipynb')?.path).toBe('notebook/train.ipynb');
    expect(chooseSnapshot(files, null)).toBeNull(); // two notebooks, none named: no guess
    expect(chooseSnapshot([file('notebook/a.ipynb')], 'b.ipynb')?.path).toBe('notebook/a.ipynb');
    expect(chooseSnapshot([{ ...file('notebook/d.ipynb'), is_dir: true }], 'd.ipynb')).toBeNull();
    expect(chooseSnapshot([], 'train.ipynb')).toBeNull();
  });
});

describe('snapshotInfo and notebookCaption', () => {
  it('reads the snapshot metadata and says which version is shown', () => {
    const info = snapshotInfo(notebook(RAN, { ...SNAPSHOT_META, outputs_dropped: 'over the cap' }));
    expect(info).toEqual({
      savedAt: '2026-12-03T07:00:00+00:00',
      cellId: 'c-train',
      cellFound: true,
      sourceMatched: false,
      outputsDropped: 'over the cap'
    });
    const caption = notebookCaption({
      origin: 'snapshot',
      path: 'notebook/t.ipynb',
      content: {},
      snapshot: info
    });
    expect(caption).toContain('as it was when the run ended (kept 2026-12-03T07:00:00+00:00)');
    expect(caption).toContain('the source that ran; the saved file held an older version');
    expect(caption).toContain('outputs left out: over the cap');
    expect(snapshotInfo(notebook(RAN))).toBeNull();
    expect(notebookCaption({ origin: 'disk', path: 't.ipynb', content: {}, snapshot: null })).toContain(
      't.ipynb as it is on disk now'
    );
  });
});

describe('loadRunNotebook', () => {
  const disk = notebook('old');
  const sources = (files: IFileInfo[] | Error, text: string | Error) => ({
    listArtifacts: jest.fn(() => (files instanceof Error ? Promise.reject(files) : Promise.resolve(files))),
    artifactText: jest.fn(() => (text instanceof Error ? Promise.reject(text) : Promise.resolve(text))),
    diskNotebook: jest.fn(() => Promise.resolve(disk as unknown))
  });

  it('prefers the snapshot and reads the disk file only without one', async () => {
    const both = sources([file('notebook/train.ipynb')], JSON.stringify(notebook(RAN, SNAPSHOT_META)));
    const shown = await loadRunNotebook('r1', 'train.ipynb', both, 1000);
    expect(shown.origin).toBe('snapshot');
    expect(shown.snapshot?.cellId).toBe('c-train');
    expect(both.listArtifacts).toHaveBeenCalledWith('r1', 'notebook');
    expect(both.diskNotebook).not.toHaveBeenCalled();

    for (const fallback of [
      sources([], ''), // no snapshot
      sources(new Error('404'), ''), // no notebook/ folder
      sources([file('notebook/train.ipynb', 5000)], '{}'), // over the size shown
      sources([file('notebook/train.ipynb')], '{not json') // unreadable
    ]) {
      const loaded = await loadRunNotebook('r1', 'train.ipynb', fallback, 1000);
      expect([loaded.origin, loaded.content]).toEqual(['disk', disk]);
    }
    await expect(loadRunNotebook('r1', null, sources([], ''), 1000)).rejects.toThrow('recorded no notebook');
  });
});

describe('RunNotebook', () => {
  let host: HTMLDivElement;
  let root: Root;
  const run = {
    run_id: 'r1',
    notebook_path: 'train.ipynb',
    tags: { 'mlnb.cell.id': 'c-train', 'mlnb.cell.source': RAN }
  } as unknown as IRunDetail;

  beforeEach(() => {
    host = document.createElement('div');
    document.body.appendChild(host);
    root = createRoot(host);
    Element.prototype.scrollIntoView = jest.fn();
    jest.resetAllMocks();
  });
  afterEach(() => {
    act(() => root.unmount());
    host.remove();
  });

  async function show(): Promise<void> {
    act(() => root.render(<RunNotebook run={run} />));
    const button = host.querySelector<HTMLButtonElement>('.mlnb-rp-show-notebook');
    await act(async () => {
      button?.click();
      await new Promise(resolve => setTimeout(resolve, 0));
    });
  }

  it('shows the snapshot as it was when the run ended, at the run’s cell', async () => {
    mockedApi.listArtifacts.mockResolvedValue([file('notebook/train.ipynb')]);
    const text = JSON.stringify(notebook(RAN, SNAPSHOT_META));
    mockedRequests.fetchArtifactPart.mockResolvedValue({
      blob: { size: text.length, text: () => Promise.resolve(text) } as unknown as Blob,
      fileSize: text.length,
      partial: false
    });
    await show();
    expect(mockedRequests.notebookFile).not.toHaveBeenCalled();
    expect(mockedRequests.fetchArtifactPart).toHaveBeenCalledWith('r1', 'notebook/train.ipynb', 0);
    const box = host.querySelector('.mlnb-rp-run-notebook');
    expect(box?.getAttribute('data-origin')).toBe('snapshot');
    expect(host.querySelector('.mlnb-rp-notebook-caption')?.textContent).toContain(
      'notebook/train.ipynb: the notebook as it was when the run ended'
    );
    const target = host.querySelector('.mlnb-nb-target');
    expect(target?.getAttribute('data-cell-id')).toBe('c-train');
    expect(target?.textContent).toContain('This cell made the run.');
    expect(target?.textContent).not.toContain('changed since');
    expect(target?.querySelector('.mlnb-nb-source')?.textContent).toBe(RAN);
  });

  it('falls back to the disk file with its note when the run kept no snapshot', async () => {
    mockedApi.listArtifacts.mockResolvedValue([file('stdout.txt')]);
    mockedRequests.notebookFile.mockResolvedValue(notebook('%%track first\nloss = 0.5'));
    await show();
    expect(mockedRequests.fetchArtifactPart).not.toHaveBeenCalled();
    expect(host.querySelector('.mlnb-rp-run-notebook')?.getAttribute('data-origin')).toBe('disk');
    expect(host.querySelector('.mlnb-rp-notebook-caption')?.textContent).toContain(
      'train.ipynb as it is on disk now'
    );
    expect(host.querySelector('.mlnb-nb-target')?.textContent).toContain('its source has changed since');
  });
});
