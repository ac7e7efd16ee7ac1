/**
 * A run's artifacts: a folder listing (buttons, so every file is reachable by keyboard) and a
 * viewer for the chosen file with a download link. Large files are previewed in part (their
 * first bytes, or a table's first page) and downloaded whole by the link, which the server
 * streams.
 */
import * as React from 'react';

import * as api from '../api';
import { useRequest } from '../hooks';
import { IFileInfo } from '../tokens';
import { formatBytes, viewerKind, ViewerKind } from './kinds';
import { ITargetCell } from './notebook';
import { NotebookViewer } from './NotebookView';
import { downloadUrl, fetchArtifactPart, IArtifactPart } from './requests';
import { HtmlFrame, ImageViewer, JsonViewer, MarkdownViewer, TableViewer, TextViewer } from './viewers';

/** How much of a text file is fetched for its preview. */
export const TEXT_PREVIEW_BYTES = 512 * 1024;
/** The largest image or notebook fetched whole to be shown. */
export const WHOLE_FILE_LIMIT = 25 * 1024 * 1024;

const KIND_LABEL: Record<ViewerKind, string> = {
  image: 'image',
  markdown: 'Markdown',
  text: 'text',
  table: 'table',
  json: 'JSON',
  html: 'HTML (sandboxed)',
  notebook: 'notebook',
  none: 'file'
};

interface ILoaded {
  part?: IArtifactPart;
  text?: string;
  tooLarge?: boolean;
}

async function load(runId: string, file: IFileInfo, kind: ViewerKind): Promise<ILoaded> {
  if (kind === 'table' || kind === 'none') {
    return {};
  }
  const whole = kind === 'image' || kind === 'notebook';
  if (whole && (file.file_size ?? 0) > WHOLE_FILE_LIMIT) {
    return { tooLarge: true };
  }
  const part = await fetchArtifactPart(runId, file.path, whole ? 0 : TEXT_PREVIEW_BYTES);
  return kind === 'image' ? { part } : { part, text: await part.blob.text() };
}

function Viewer(props: {
  runId: string;
  file: IFileInfo;
  kind: ViewerKind;
  target: ITargetCell;
}): JSX.Element {
  const { runId, file, kind } = props;
  const request = useRequest(() => load(runId, file, kind), [runId, file, kind]);
  if (kind === 'table') {
    return <TableViewer runId={runId} path={file.path} />;
  }
  if (kind === 'none') {
    return <div className="mlnb-muted">No preview for this type of file; download it to open it.</div>;
  }
  if (request.error) {
    return <div className="mlnb-error">{request.error}</div>;
  }
  const loaded = request.data;
  if (!loaded) {
    return <div className="mlnb-muted">Loading…</div>;
  }
  if (loaded.tooLarge) {
    return (
      <div className="mlnb-muted">
        Too large to show here ({formatBytes(file.file_size)}, the limit is {formatBytes(WHOLE_FILE_LIMIT)});
        download it instead.
      </div>
    );
  }
  const part = loaded.part as IArtifactPart;
  const text = loaded.text ?? '';
  const note = part.partial ? (
    <div className="mlnb-rp-partial" role="note">
      Showing the first {formatBytes(part.blob.size)} of {formatBytes(part.fileSize)}; download the file for
      all of it.
    </div>
  ) : null;
  let body: JSX.Element;
  switch (kind) {
    case 'image':
      body = <ImageViewer blob={part.blob} alt={file.path} />;
      break;
    case 'markdown':
      body = <MarkdownViewer markdown={text} />;
      break;
    case 'json':
      body = <JsonViewer text={text} name={file.path} partial={part.partial} />;
      break;
    case 'html':
      body = <HtmlFrame html={text} title={`${file.path} (sandboxed, scripts off)`} />;
      break;
    case 'notebook':
      body = <NotebookViewer text={text} target={props.target} partial={part.partial} />;
      break;
    default:
      body = <TextViewer text={text} />;
  }
  return (
    <>
      {note}
      {body}
    </>
  );
}

function Breadcrumbs(props: { folder: string; open: (folder: string) => void }): JSX.Element {
  const parts = props.folder ? props.folder.split('/') : [];
  return (
    <nav className="mlnb-rp-crumbs" aria-label="Artifact folder">
      <button className="mlnb-rp-link" onClick={() => props.open('')}>
        artifacts
      </button>
      {parts.map((part, i) => (
        <React.Fragment key={i}>
          {' / '}
          <button className="mlnb-rp-link" onClick={() => props.open(parts.slice(0, i + 1).join('/'))}>
            {part}
          </button>
        </React.Fragment>
      ))}
    </nav>
  );
}

export interface IArtifactBrowserProps {
  runId: string;
  /** The run's cell (its `mlnb.cell.*` tags): highlighted in notebook artifacts. */
  target: ITargetCell;
  /** The listing is read again when this changes (a live run's latest values and status). */
  revision?: string;
}

/** The artifact section of a run page. */
export function ArtifactBrowser(props: IArtifactBrowserProps): JSX.Element {
  const { runId } = props;
  const [folder, setFolder] = React.useState('');
  const [chosen, setChosen] = React.useState<IFileInfo | null>(null);
  const { data: files, error } = useRequest(
    () => api.listArtifacts(runId, folder),
    [runId, folder, props.revision]
  );
  const kind = chosen ? viewerKind(chosen.path) : 'none';
  const short = (path: string): string => path.slice(folder ? folder.length + 1 : 0);
  return (
    <section className="mlnb-section mlnb-artifacts mlnb-rp-artifacts" aria-label="Artifacts">
      <h3>Artifacts</h3>
      <Breadcrumbs folder={folder} open={setFolder} />
      {error && <div className="mlnb-error">{error}</div>}
      <div className="mlnb-rp-artifact-layout">
        <ul className="mlnb-files mlnb-rp-files">
          {(files ?? []).map(file => (
            <li key={file.path} className="mlnb-file">
              <button
                className={`mlnb-rp-file${chosen?.path === file.path ? ' mlnb-rp-chosen' : ''}`}
                aria-pressed={!file.is_dir ? chosen?.path === file.path : undefined}
                title={file.path}
                onClick={() => (file.is_dir ? setFolder(file.path) : setChosen(file))}
              >
                {short(file.path)}
                {file.is_dir ? '/' : ''}
              </button>
              {!file.is_dir && <span className="mlnb-muted"> {formatBytes(file.file_size ?? 0)}</span>}
            </li>
          ))}
          {files && files.length === 0 && <li className="mlnb-muted">none</li>}
        </ul>
        {chosen && (
          <div
            className="mlnb-preview mlnb-rp-viewer"
            data-kind={kind}
            aria-label={`Preview of ${chosen.path}`}
            role="region"
          >
            <div className="mlnb-rp-viewer-head">
              <span className="mlnb-preview-title">{chosen.path}</span>
              <span className="mlnb-muted">
                {KIND_LABEL[kind]} · {formatBytes(chosen.file_size ?? 0)}
              </span>
              <a
                className="mlnb-rp-download"
                href={downloadUrl(runId, chosen.path)}
                download={short(chosen.path).split('/').pop()}
              >
                Download
              </a>
              <button className="mlnb-rp-link" onClick={() => setChosen(null)} aria-label="Close the preview">
                ✕
              </button>
            </div>
            <Viewer key={chosen.path} runId={runId} file={chosen} kind={kind} target={props.target} />
          </div>
        )}
      </div>
    </section>
  );
}
