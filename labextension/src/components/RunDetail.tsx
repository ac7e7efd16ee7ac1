/**
 * A run's tab: params, metrics, tags, provenance (with the cell source and a button that opens
 * the notebook at the cell that made the run) and artifacts with previews. User data is only
 * ever React text (images are shown from blob: URLs of allowlisted image types).
 */
import * as React from 'react';

import * as api from '../api';
import { useRequest } from '../hooks';
import { formatValue, IFileInfo, IRunDetail } from '../tokens';
import { StatusBadge } from './RunTable';
import { SweepSection } from './Sweep';

const PREVIEW_LIMIT = 1024 * 1024;
const IMAGE = /\.(png|jpe?g|gif|webp)$/i;
const TEXT = /\.(txt|log|md|py|ya?ml|json|csv|tsv)$/i;

export interface IRunDetailProps {
  runId: string;
  openNotebook: (path: string, cellId: string | null) => Promise<void>;
  onDeleteOrRestore: (run: IRunDetail) => Promise<boolean>;
  /** Why the store may only be read (Delete / Restore is disabled with it as tooltip), or null. */
  readOnly?: string | null;
}

/** A two-column table of keys and their values. */
function KeyValueTable(props: { entries: Array<[string, string]> }): JSX.Element {
  return (
    <table className="mlnb-kv">
      <tbody>
        {props.entries.map(([key, value]) => (
          <tr key={key}>
            <th>{key}</th>
            <td>{value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function KeyValues(props: { title: string; entries: Array<[string, string]> }): JSX.Element {
  return (
    <section className="mlnb-section">
      <h3>{props.title}</h3>
      {props.entries.length === 0 ? (
        <div className="mlnb-muted">none</div>
      ) : (
        <KeyValueTable entries={props.entries} />
      )}
    </section>
  );
}

function parseCsv(text: string): string[][] {
  return text
    .split(/\r?\n/)
    .filter(line => line.length > 0)
    .slice(0, 51)
    .map(line => line.split(','));
}

interface IPreviewContent {
  text?: string;
  image?: string;
  error?: string;
}

function prettyJson(path: string, text: string): string {
  if (!/\.json$/i.test(path)) {
    return text;
  }
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text; // shown as it is
  }
}

/** What to preview of a file: its text, an object URL of its image, or why there is none. */
async function loadPreview(runId: string, file: IFileInfo): Promise<IPreviewContent> {
  if ((file.file_size ?? 0) > PREVIEW_LIMIT) {
    return { error: 'Too large to preview.' };
  }
  if (!IMAGE.test(file.path) && !TEXT.test(file.path)) {
    return { error: 'No preview for this type.' };
  }
  const blob = await api.fetchArtifact(runId, file.path);
  if (IMAGE.test(file.path)) {
    return { image: URL.createObjectURL(blob) };
  }
  return { text: prettyJson(file.path, await blob.text()) };
}

function CsvPreview(props: { path: string; text: string }): JSX.Element {
  const rows = parseCsv(/\.tsv$/i.test(props.path) ? props.text.replace(/\t/g, ',') : props.text);
  return (
    <table className="mlnb-csv">
      <tbody>
        {rows.map((row, i) => (
          <tr key={i}>
            {row.map((cell, j) => (i === 0 ? <th key={j}>{cell}</th> : <td key={j}>{cell}</td>))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Preview(props: { runId: string; file: IFileInfo }): JSX.Element {
  const { runId, file } = props;
  const preview = useRequest(() => loadPreview(runId, file), [runId, file]);
  const content = preview.data ?? {};
  const image = content.image;
  React.useEffect(() => {
    return () => {
      if (image) {
        URL.revokeObjectURL(image);
      }
    };
  }, [image]);

  const error = preview.error ?? content.error;
  if (error) {
    return <div className="mlnb-muted">{error}</div>;
  }
  if (image) {
    return <img className="mlnb-preview-image" src={image} alt={file.path} />;
  }
  if (content.text !== undefined && /\.(csv|tsv)$/i.test(file.path)) {
    return <CsvPreview path={file.path} text={content.text} />;
  }
  if (content.text !== undefined) {
    return <pre className="mlnb-preview-text">{content.text}</pre>;
  }
  return <div className="mlnb-muted">Loading…</div>;
}

function Artifacts(props: { runId: string }): JSX.Element {
  const [folder, setFolder] = React.useState('');
  const [chosen, setChosen] = React.useState<IFileInfo | null>(null);
  const { runId } = props;
  const { data: files, error } = useRequest(() => api.listArtifacts(runId, folder), [runId, folder]);

  const up = folder.includes('/') ? folder.slice(0, folder.lastIndexOf('/')) : '';
  return (
    <section className="mlnb-section mlnb-artifacts">
      <h3>Artifacts{folder ? ` / ${folder}` : ''}</h3>
      {error && <div className="mlnb-error">{error}</div>}
      <ul className="mlnb-files">
        {folder && (
          <li>
            <a onClick={() => setFolder(up)}>..</a>
          </li>
        )}
        {(files ?? []).map(file => (
          <li key={file.path} className="mlnb-file">
            <a onClick={() => (file.is_dir ? setFolder(file.path) : setChosen(file))} title={file.path}>
              {file.is_dir ? '📁 ' : ''}
              {file.path.slice(folder ? folder.length + 1 : 0)}
            </a>
            {!file.is_dir && <span className="mlnb-muted"> {file.file_size ?? 0} B</span>}
          </li>
        ))}
        {files && files.length === 0 && <li className="mlnb-muted">none</li>}
      </ul>
      {chosen && (
        <div className="mlnb-preview">
          <div className="mlnb-preview-title">{chosen.path}</div>
          <Preview runId={props.runId} file={chosen} />
        </div>
      )}
    </section>
  );
}

function Provenance(props: { run: IRunDetail }): JSX.Element {
  const { run } = props;
  const provenance = Object.entries(run.tags)
    .sort()
    .filter(([k]) => (k.startsWith('mlnb.') || k.startsWith('mlflow.')) && k !== 'mlnb.cell.source');
  const source = run.tags['mlnb.cell.source'];
  return (
    <section className="mlnb-section">
      <h3>Provenance</h3>
      {source !== undefined && <pre className="mlnb-cell-source">{source}</pre>}
      <KeyValueTable entries={provenance} />
    </section>
  );
}

function RunHeader(props: IRunDetailProps & { run: IRunDetail; onChanged: () => void }): JSX.Element {
  const { run } = props;
  const cellId = run.tags['mlnb.cell.id'] ?? null;
  const deleted = run.lifecycle_stage === 'deleted';
  return (
    <header className="mlnb-run-header">
      <h2 className="mlnb-run-title">{run.run_name}</h2>
      <StatusBadge status={run.status} deleted={deleted} />
      <div className="mlnb-muted">
        {run.experiment_name} · {run.run_id} · started {new Date(run.start_time).toLocaleString()}
        {run.end_time ? ` · ended ${new Date(run.end_time).toLocaleString()}` : ''}
      </div>
      <div className="mlnb-actions">
        {run.notebook_path && (
          <button
            className="jp-mod-styled jp-mod-accept mlnb-open-notebook"
            onClick={() => void props.openNotebook(run.notebook_path as string, cellId)}
          >
            Open notebook at cell
          </button>
        )}
        <button
          className="jp-mod-styled jp-mod-warn mlnb-run-delete"
          disabled={Boolean(props.readOnly)}
          title={props.readOnly ?? undefined}
          onClick={() => void props.onDeleteOrRestore(run).then(changed => changed && props.onChanged())}
        >
          {deleted ? 'Restore run' : 'Delete run'}
        </button>
      </div>
    </header>
  );
}

/** Call `reload` every 3 s while `live` and the browser tab is shown. */
function useReloadWhile(live: boolean, reload: () => void): void {
  React.useEffect(() => {
    if (!live) {
      return;
    }
    const timer = window.setInterval(() => !document.hidden && reload(), 3000);
    return () => window.clearInterval(timer);
  }, [live, reload]);
}

/** A run's tab; live while the run is running, quiet once it has ended. */
export function RunDetail(props: IRunDetailProps): JSX.Element {
  const { runId } = props;
  const request = useRequest(() => api.getRun(runId), [runId]);
  const run = request.data;
  useReloadWhile(run?.status === 'RUNNING', request.reload);

  if (request.error) {
    return <div className="mlnb-error">{request.error}</div>;
  }
  if (!run) {
    return <div className="mlnb-muted">Loading…</div>;
  }
  const userTags = Object.entries(run.tags)
    .sort()
    .filter(([k]) => !k.startsWith('mlnb.') && !k.startsWith('mlflow.'));
  return (
    <div className="mlnb-run-detail" data-run-id={run.run_id}>
      <RunHeader {...props} run={run} onChanged={request.reload} />
      <KeyValues title="Parameters" entries={Object.entries(run.params).sort()} />
      <KeyValues
        title="Metrics (latest)"
        entries={Object.entries(run.metrics)
          .sort()
          .map(([k, v]) => [k, formatValue(v)])}
      />
      <KeyValues title="Tags" entries={userTags} />
      {run.children.length > 0 && <SweepSection runId={run.run_id} />}
      <Provenance run={run} />
      <Artifacts runId={run.run_id} />
    </div>
  );
}
