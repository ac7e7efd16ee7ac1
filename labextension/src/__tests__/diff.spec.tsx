/**
 * The run diff's view model (key rows, metric sorting, unified-diff classification and the
 * side-by-side pairing, history folding, choosing the two runs) and the tab rendered with
 * react-dom against a mocked API: hostile strings stay text, swap reloads b against a, and a
 * 404 is shown in the tab.
 */
import * as React from 'react';
import { act } from 'react';
import { createRoot, Root } from 'react-dom/client';

import * as api from '../api';
import { ApiError } from '../api';
import { RunDiffView } from '../diff/RunDiffView';
import { IHistoryRow, IMetricDiff, IRunDiff } from '../diff/types';
import {
  diffArgs,
  diffDisabledReason,
  foldHistory,
  formatDelta,
  formatRelative,
  keyRows,
  metricRows,
  nextSort,
  orderPair,
  parseUnified,
  sideBySide,
  sortMetricRows
} from '../diff/viewModel';
import { IRun } from '../tokens';

jest.mock('../api', () => ({
  ...jest.requireActual<typeof import('../api')>('../api'),
  getRunDiff: jest.fn()
}));
const mocked = jest.mocked(api);

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const XSS = '<img src=x onerror=window.__xss=1>';

describe('keyRows', () => {
  const diff = {
    added: { z: '1', [XSS]: XSS },
    removed: { gone: 'old' },
    changed: { lr: { a: '0.1', b: '0.05' } },
    unchanged: { seed: '0' }
  };

  it('lists changed, added, removed, then unchanged only when asked', () => {
    expect(keyRows(diff, false).map(r => [r.key, r.status, r.a, r.b])).toEqual([
      ['lr', 'changed', '0.1', '0.05'],
      [XSS, 'added', null, XSS],
      ['z', 'added', null, '1'],
      ['gone', 'removed', 'old', null]
    ]);
    expect(keyRows(diff, true).map(r => r.key)).toEqual(['lr', XSS, 'z', 'gone', 'seed']);
  });
});

function metric(
  key: string,
  last: IMetricDiff['delta']['last'],
  extra: Partial<IMetricDiff> = {}
): IMetricDiff {
  return {
    key,
    status: 'changed',
    system: false,
    a: { last: 1, min: 0, max: 2, points: 3 },
    b: { last: 2, min: -1, max: 5, points: 4 },
    delta: { last, min: -1, max: 3 },
    relative: { last: last === null || typeof last !== 'number' ? null : last / 2, min: null, max: 1.5 },
    ...extra
  };
}

describe('metrics', () => {
  const metrics = [
    metric('loss', -0.5),
    metric('acc', 0.25),
    metric('new', null, { status: 'added', a: null }),
    metric('odd', 'NaN'),
    metric('big', 'Infinity'),
    metric('system/cpu', 3, { system: true }),
    metric('same', 0, { status: 'same' })
  ];

  it('takes the chosen statistic and filters system and unchanged metrics', () => {
    const rows = metricRows(metrics, 'max', { system: false, unchanged: false });
    expect(rows.map(r => r.key)).toEqual(['loss', 'acc', 'new', 'odd', 'big']);
    expect(rows[0]).toMatchObject({ a: 2, b: 5, delta: 3, relative: 1.5, pointsA: 3, pointsB: 4 });
    expect(rows[2]).toMatchObject({ a: null, pointsA: null, b: 5 });
    expect(metricRows(metrics, 'last', { system: true, unchanged: true })).toHaveLength(7);
  });

  it('sorts by delta with missing values and NaN last in both directions', () => {
    const rows = metricRows(metrics, 'last', { system: true, unchanged: true });
    const desc = sortMetricRows(rows, { column: 'delta', direction: 'desc' }).map(r => r.key);
    expect(desc).toEqual(['big', 'system/cpu', 'acc', 'same', 'loss', 'new', 'odd']);
    const asc = sortMetricRows(rows, { column: 'delta', direction: 'asc' }).map(r => r.key);
    expect(asc).toEqual(['loss', 'same', 'acc', 'system/cpu', 'big', 'new', 'odd']);
    expect(rows.map(r => r.key)[0]).toBe('loss'); // the input is not sorted in place
  });

  it('sorts by key and by status', () => {
    const rows = metricRows(metrics, 'last', { system: true, unchanged: true });
    expect(sortMetricRows(rows, { column: 'key', direction: 'desc' }).map(r => r.key)[0]).toBe('system/cpu');
    expect(
      sortMetricRows(rows, { column: 'status', direction: 'asc' })
        .map(r => r.key)
        .slice(0, 2)
    ).toEqual(['new', 'acc']);
  });

  it('flips the direction on the same column, starts numbers descending', () => {
    expect(nextSort({ column: 'key', direction: 'asc' }, 'key')).toEqual({
      column: 'key',
      direction: 'desc'
    });
    expect(nextSort({ column: 'key', direction: 'asc' }, 'delta')).toEqual({
      column: 'delta',
      direction: 'desc'
    });
    expect(nextSort({ column: 'delta', direction: 'desc' }, 'status')).toEqual({
      column: 'status',
      direction: 'asc'
    });
  });

  it('formats deltas with a sign and relative changes as percentages', () => {
    expect(formatDelta(0.25)).toBe('+0.2500');
    expect(formatDelta(-3)).toBe('-3');
    expect(formatDelta(null)).toBe('');
    expect(formatRelative(0.125)).toBe('+12.5%');
    expect(formatRelative(-2.5)).toBe('-250%');
    expect(formatRelative(null)).toBe('');
  });
});

describe('parseUnified', () => {
  // Python's difflib.unified_diff of the two sources, as the server sends it.
  const unified =
    '--- a\n+++ b\n@@ -1,4 +1,4 @@\n import x\n-lr = 0.1\n+lr = 0.05\n+epochs = 3\n fit(lr)\n-print(1)\n';

  it('classifies and numbers every line', () => {
    expect(parseUnified(unified).map(l => [l.kind, l.text, l.oldNo, l.newNo])).toEqual([
      ['file', '--- a', null, null],
      ['file', '+++ b', null, null],
      ['hunk', '@@ -1,4 +1,4 @@', null, null],
      ['context', 'import x', 1, 1],
      ['del', 'lr = 0.1', 2, null],
      ['add', 'lr = 0.05', null, 2],
      ['add', 'epochs = 3', null, 3],
      ['context', 'fit(lr)', 3, 4],
      ['del', 'print(1)', 4, null]
    ]);
  });

  it('reads source lines that look like headers inside a hunk as code', () => {
    const lines = parseUnified('--- a\n+++ b\n@@ -3 +3 @@\n--- x\n+++ y\n\\ No newline at end of file\n');
    expect(lines.slice(3).map(l => [l.kind, l.text, l.oldNo, l.newNo])).toEqual([
      ['del', '-- x', 3, null],
      ['add', '++ y', null, 3],
      ['note', '\\ No newline at end of file', null, null]
    ]);
  });

  it('pairs removed lines with the added lines after them, side by side', () => {
    const rows = sideBySide(parseUnified(unified)).map(row =>
      row.kind === 'hunk' ? row.text : [row.left?.text ?? null, row.right?.text ?? null]
    );
    expect(rows).toEqual([
      '@@ -1,4 +1,4 @@',
      ['import x', 'import x'],
      ['lr = 0.1', 'lr = 0.05'],
      [null, 'epochs = 3'],
      ['fit(lr)', 'fit(lr)'],
      ['print(1)', null]
    ]);
  });

  it('gives nothing for an empty diff', () => {
    expect(parseUnified('')).toEqual([]);
    expect(sideBySide([])).toEqual([]);
  });
});

function historyRows(statuses: string): IHistoryRow[] {
  const status = { s: 'same', e: 'edited', a: 'only_a', b: 'only_b' } as const;
  return [...statuses].map((c, i) => {
    const entry = { execution_count: i + 1, cell_id: `c${i}`, sha256: `h${i}`, source: `x = ${i}` };
    const s = status[c as keyof typeof status];
    return { a: s === 'only_b' ? null : entry, b: s === 'only_a' ? null : entry, status: s, elsewhere: null };
  });
}

function shape(items: ReturnType<typeof foldHistory>): string[] {
  return items.map(item =>
    item.kind === 'fold' ? `fold ${item.start}+${item.rows.length}` : String(item.index)
  );
}

describe('foldHistory', () => {
  it('folds a long identical stretch between differences, keeping two lines of context', () => {
    const rows = historyRows('e' + 's'.repeat(10) + 'b');
    expect(shape(foldHistory(rows))).toEqual(['0', '1', '2', 'fold 3+6', '9', '10', '11']);
  });

  it('keeps no context at the very start and end', () => {
    const rows = historyRows('s'.repeat(8) + 'a' + 's'.repeat(9));
    expect(shape(foldHistory(rows))).toEqual(['fold 0+6', '6', '7', '8', '9', '10', 'fold 11+7']);
  });

  it('leaves short stretches and opened folds unfolded', () => {
    expect(shape(foldHistory(historyRows('e' + 's'.repeat(9) + 'e')))).toHaveLength(11);
    expect(shape(foldHistory(historyRows('e' + 's'.repeat(10) + 'b'), new Set([3])))).toHaveLength(12);
    expect(shape(foldHistory(historyRows('ssssss')))).toEqual(['fold 0+6']);
    expect(shape(foldHistory(historyRows('sssss')))).toEqual(['0', '1', '2', '3', '4']);
  });
});

function run(id: string, start: number): IRun {
  return {
    run_id: id,
    run_name: `name-${id}`,
    experiment_id: '1',
    status: 'FINISHED',
    start_time: start,
    end_time: null,
    lifecycle_stage: 'active',
    user_id: '',
    metrics: {},
    params: {},
    tags: {}
  };
}

describe('choosing the two runs', () => {
  it('says why the Diff button is disabled', () => {
    expect(diffDisabledReason(0)).toBe('Select two runs to diff them');
    expect(diffDisabledReason(1)).toBe('Select one more run to diff');
    expect(diffDisabledReason(3)).toBe('A diff compares exactly two runs (3 are selected)');
    expect(diffDisabledReason(2)).toBeNull();
  });

  it('puts the run started first as a', () => {
    expect(orderPair([run('late', 9), run('early', 1)]).map(r => r.run_id)).toEqual(['early', 'late']);
    expect(() => orderPair([run('x', 1)])).toThrow('Select one more run');
  });

  it('takes {runA, runB} or else the two selected runs', () => {
    expect(diffArgs({ runA: 'r1', runB: 'r2' }, [])).toEqual(['r1', 'r2']);
    expect(diffArgs({}, [run('b', 5), run('a', 2)])).toEqual(['a', 'b']);
    expect(() => diffArgs({ runA: 'r1' }, [])).toThrow('takes two run ids');
    expect(() => diffArgs({}, [run('a', 1)])).toThrow(
      'Select one more run to diff in the Experiments sidebar.'
    );
  });
});

function runDiff(a: string, b: string): IRunDiff {
  const summary = (id: string, name: string) => ({
    run_id: id,
    run_name: name,
    experiment_id: '1',
    experiment_name: XSS,
    status: 'FINISHED',
    start_time: 0,
    end_time: null
  });
  return {
    a: summary(a, `run ${a}`),
    b: summary(b, XSS),
    params: {
      added: { [XSS]: '<script>alert(1)</script>' },
      removed: {},
      changed: { lr: { a: '0.1', b: '0.05' } },
      unchanged: {}
    },
    tags: { added: {}, removed: { note: XSS }, changed: {}, unchanged: {} },
    system_tags: {
      added: {},
      removed: {},
      changed: { 'mlnb.notebook.path': { a: 'a.ipynb', b: 'b.ipynb' } },
      unchanged: {}
    },
    metrics: [metric('loss', -0.5)],
    cell: {
      a: {
        source: 'lr = 0.1',
        sha256: 'aa',
        cell_id: 'c',
        execution_count: 1,
        truncated: false,
        origin: 'provenance.json'
      },
      b: {
        source: XSS,
        sha256: 'bb',
        cell_id: 'c',
        execution_count: 2,
        truncated: false,
        origin: 'provenance.json'
      },
      unified: `--- a\n+++ b\n@@ -1 +1 @@\n-lr = 0.1\n+${XSS}\n`,
      identical: false
    },
    history: { rows: historyRows('se'), recorded_a: true, recorded_b: true, identical: false },
    environment: {
      a: { packages: { numpy: '1.26' }, python: '3.11', sources: ['requirements.txt'], truncated: false },
      b: { packages: { numpy: '2.0' }, python: '3.11', sources: ['requirements.txt'], truncated: false },
      added: { [XSS]: '1.0' },
      removed: {},
      changed: { numpy: { a: '1.26', b: '2.0' } },
      unchanged: 4,
      compared: true
    },
    notes: []
  };
}

describe('RunDiffView', () => {
  let root: Root;
  let container: HTMLElement;

  beforeEach(() => {
    container = document.createElement('div');
    document.body.appendChild(container);
    root = createRoot(container);
    mocked.getRunDiff.mockReset();
  });

  afterEach(() => {
    act(() => root.unmount());
    container.remove();
  });

  it('renders every section with hostile strings as text', async () => {
    mocked.getRunDiff.mockImplementation((a, b) => Promise.resolve(runDiff(a, b)));
    act(() => root.render(<RunDiffView runA="r1" runB="r2" />));
    await act(async () => undefined);
    expect(mocked.getRunDiff).toHaveBeenCalledWith('r1', 'r2');
    const text = container.textContent ?? '';
    expect(text).toContain('<script>alert(1)</script>');
    expect(text).toContain(XSS);
    expect(container.querySelectorAll('img, script')).toHaveLength(0);
    expect(container.querySelector('.mlnb-diff-params tr[data-key="lr"]')?.textContent).toBe(
      'lrchanged0.10.05'
    );
    expect(
      container.querySelector('.mlnb-diff-metric-table tr[data-key="loss"] .mlnb-diff-delta')?.textContent
    ).toBe('-0.5000');
    expect(container.querySelector('.mlnb-code-side .mlnb-line-add.mlnb-line-text')?.textContent).toBe(XSS);
    expect(container.querySelector('.mlnb-diff-packages tr[data-key="numpy"]')?.textContent).toBe(
      'numpychanged1.262.0'
    );
    expect(container.querySelector('.mlnb-diff-group[data-group="system tags"]')?.textContent).toContain(
      'mlnb.notebook.path'
    );
    // The unified layout on request.
    const unified = [...container.querySelectorAll('button')].find(
      b => b.textContent === 'Unified'
    ) as HTMLButtonElement;
    act(() => unified.click());
    expect(container.querySelector('.mlnb-code-unified tr.mlnb-line-add')?.textContent).toBe(`1+${XSS}`);
  });

  it('swaps a and b, and sorts the metric table on a header click', async () => {
    mocked.getRunDiff.mockImplementation((a, b) => Promise.resolve(runDiff(a, b)));
    const onRuns = jest.fn();
    act(() => root.render(<RunDiffView runA="r1" runB="r2" onRuns={onRuns} />));
    await act(async () => undefined);
    expect(onRuns).toHaveBeenLastCalledWith(
      expect.objectContaining({ run_id: 'r1' }),
      expect.objectContaining({ run_id: 'r2' })
    );
    act(() => (container.querySelector('.mlnb-diff-swap') as HTMLButtonElement).click());
    await act(async () => undefined);
    expect(mocked.getRunDiff).toHaveBeenLastCalledWith('r2', 'r1');
    expect(onRuns).toHaveBeenLastCalledWith(
      expect.objectContaining({ run_id: 'r2' }),
      expect.objectContaining({ run_id: 'r1' })
    );
    expect(container.querySelector('.mlnb-diff-run-a')?.getAttribute('data-run-id')).toBe('r2');
    const header = container.querySelector('button[data-column="delta"]') as HTMLButtonElement;
    act(() => header.click());
    expect(header.parentElement?.getAttribute('aria-sort')).toBe('descending');
  });

  it('shows a 404 for a deleted run in the tab', async () => {
    mocked.getRunDiff.mockRejectedValue(new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', "Run 'gone' not found"));
    act(() => root.render(<RunDiffView runA="gone" runB="r2" />));
    await act(async () => undefined);
    expect(container.querySelector('.mlnb-diff-error')?.textContent).toBe("Run 'gone' not found");
    expect(container.querySelector('.mlnb-diff-loading')).toBeNull();
  });
});
