/**
 * A run's tab: params, metrics, tags, provenance (with the cell source and a button that opens
 * the notebook at the cell that made the run) and artifacts with previews. User data is only
 * ever React text (images are shown from blob: URLs of allowlisted image types).
 */
import * as React from 'react';

import * as api from '../api';
import { formatValue, IFileInfo, IRunDetail } from '../tokens';
import { StatusBadge } from './RunTable';

const PREVIEW_LIMIT = 1024 * 1024;
const IMAGE = /\.(png|jpe?g|gif|webp)$/i;
const TEXT = /\.(txt|log|md|py|ya?ml|json|csv|tsv)$/i;

export interface IRunDetailProps {
  runId: string;
  openNotebook: (path: string, cellId: string | null) => Promise<void>;
  onDeleteOrRestore: (run: IRunDetail) => Promise<boolean>;
}

function KeyValues(props: { title: string; entries: Array<[string, string]> }): JSX.Element {
  return (
    <section className="mlnb-section">
      <h3>{props.title}</h3>
      {props.entries.length === 0 ? (
        <div className="mlnb-muted">none</div>
      ) : (
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

function Preview(props: { runId: string; file: IFileInfo }): JSX.Element {
  const [content, setContent] = React.useState<{ text?: string; image?: string; error?: string }>({});
  const { runId, file } = props;

  React.useEffect(() => {
    let objectUrl: string | null = null;
    if ((file.file_size ?? 0) > PREVIEW_LIMIT) {
      setContent({ error: 'Too large to preview.' });
      return;
    }
    if (!IMAGE.test(file.path) && !TEXT.test(file.path)) {
      setContent({ error: 'No preview for this type.' });
      return;
    }
    api.fetchArtifact(runId, file.path).then(
      async blob => {
        if (IMAGE.test(file.path)) {
          objectUrl = URL.createObjectURL(blob);
          setContent({ image: objectUrl });
        } else {
          let text = await blob.text();
          if (/\.json$/i.test(file.path)) {
            try {
              text = JSON.stringify(JSON.parse(text), null, 2);
            } catch {
              // shown as it is
            }
          }
          setContent({ text });
        }
      },
      error => setContent({ error: (error as Error).message })
    );
    return () => {
      if (objectUrl) {
        URL.revokeObjectURL(objectUrl);
      }
    };
  }, [runId, file.path]);

  if (content.error) {
    return <div className="mlnb-muted">{content.error}</div>;
  }
  if (content.image) {
    return <img className="mlnb-preview-image" src={content.image} alt={file.path} />;
  }
  if (content.text !== undefined && /\.(csv|tsv)$/i.test(file.path)) {
    const rows = parseCsv(/\.tsv$/i.test(file.path) ? content.text.replace(/\t/g, ',') : content.text);
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
  if (content.text !== undefined) {
    return <pre className="mlnb-preview-text">{content.text}</pre>;
  }
  return <div className="mlnb-muted">Loading…</div>;
}

function Artifacts(props: { runId: string }): JSX.Element {
  const [folder, setFolder] = React.useState('');
  const [files, setFiles] = React.useState<IFileInfo[] | null>(null);
  const [chosen, setChosen] = React.useState<IFileInfo | null>(null);
  const [error, setError] = React.useState<string | null>(null);

  React.useEffect(() => {
    api.listArtifacts(props.runId, folder).then(setFiles, e => setError((e as Error).message));
  }, [props.runId, folder]);

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
            <a
              onClick={() => (file.is_dir ? setFolder(file.path) : setChosen(file))}
              title={file.path}
            >
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

export function RunDetail(props: IRunDetailProps): JSX.Element {
  const [run, setRun] = React.useState<IRunDetail | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const load = React.useCallback(() => {
    api.getRun(props.runId).then(setRun, e => setError((e as Error).message));
  }, [props.runId]);

  const running = React.useRef(false);
  React.useEffect(() => {
    running.current = run?.status === 'RUNNING';
  }, [run]);

  React.useEffect(() => {
    load();
    // Live while the run is running; quiet once it has ended or the browser tab is hidden.
    const timer = window.setInterval(() => {
      if (!document.hidden && running.current) {
        load();
      }
    }, 3000);
    return () => window.clearInterval(timer);
  }, [load]);

  if (error) {
    return <div className="mlnb-error">{error}</div>;
  }
  if (!run) {
    return <div className="mlnb-muted">Loading…</div>;
  }
  const tags = Object.entries(run.tags).sort();
  const provenance = tags.filter(([k]) => k.startsWith('mlnb.') || k.startsWith('mlflow.'));
  const userTags = tags.filter(([k]) => !k.startsWith('mlnb.') && !k.startsWith('mlflow.'));
  const source = run.tags['mlnb.cell.source'];
  const cellId = run.tags['mlnb.cell.id'] ?? null;
  return (
    <div className="mlnb-run-detail" data-run-id={run.run_id}>
      <header className="mlnb-run-header">
        <h2 className="mlnb-run-title">{run.run_name}</h2>
        <StatusBadge status={run.status} deleted={run.lifecycle_stage === 'deleted'} />
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
            className="jp-mod-styled jp-mod-warn"
            onClick={() => void props.onDeleteOrRestore(run).then(changed => changed && load())}
          >
            {run.lifecycle_stage === 'deleted' ? 'Restore run' : 'Delete run'}
          </button>
        </div>
      </header>
      <KeyValues title="Parameters" entries={Object.entries(run.params).sort()} />
      <KeyValues
        title="Metrics (latest)"
        entries={Object.entries(run.metrics).sort().map(([k, v]) => [k, formatValue(v)])}
      />
      <KeyValues title="Tags" entries={userTags} />
      <section className="mlnb-section">
        <h3>Provenance</h3>
        {source !== undefined && <pre className="mlnb-cell-source">{source}</pre>}
        <table className="mlnb-kv">
          <tbody>
            {provenance
              .filter(([k]) => k !== 'mlnb.cell.source')
              .map(([key, value]) => (
                <tr key={key}>
                  <th>{key}</th>
                  <td>{value}</td>
                </tr>
              ))}
          </tbody>
        </table>
      </section>
      <Artifacts runId={run.run_id} />
    </div>
  );
}
