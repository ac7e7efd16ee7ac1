/**
 * The run page's provenance: the tracked cell (notebook, cell, its source), the kernel and the
 * cells run before it, git, and the imported packages; and the run's notebook itself, rendered
 * read-only at the cell that made the run: the snapshot kept with the run when it has one (as it
 * was when the run ended), else the file on disk as it is now.
 */
import * as React from 'react';

import * as api from '../api';
import { KeyValueTable } from '../components/KeyValueTable';
import { IRunDetail } from '../tokens';
import { WHOLE_FILE_LIMIT } from './ArtifactBrowser';
import { INotebookView, parseNotebook } from './notebook';
import { NotebookRender } from './NotebookView';
import { groupProvenance } from './provenance';
import { fetchArtifactPart, notebookFile } from './requests';
import { INotebookSources, IRunNotebook, loadRunNotebook, notebookCaption } from './snapshot';

function Pairs(props: { title: string; entries: Array<[string, string]> }): JSX.Element | null {
  if (props.entries.length === 0) {
    return null;
  }
  return (
    <div className="mlnb-rp-prov-group">
      <h4>{props.title}</h4>
      <KeyValueTable entries={props.entries} />
    </div>
  );
}

/** The REST calls behind the run's notebook. */
const SOURCES: INotebookSources = {
  listArtifacts: (runId, folder) => api.listArtifacts(runId, folder),
  artifactText: async (runId, path) => await (await fetchArtifactPart(runId, path, 0)).blob.text(),
  diskNotebook: path => notebookFile(path)
};

/**
 * The run's notebook, loaded when asked for: the snapshot kept with the run (as it was when the
 * run ended) when there is one, else the file on disk as it is now.
 */
export function RunNotebook(props: { run: IRunDetail }): JSX.Element {
  const { run } = props;
  const [state, setState] = React.useState<{
    view?: INotebookView;
    loaded?: IRunNotebook;
    error?: string;
    loading?: boolean;
  }>({});
  const show = (): void => {
    setState({ loading: true });
    loadRunNotebook(run.run_id, run.notebook_path ?? null, SOURCES, WHOLE_FILE_LIMIT).then(
      loaded => {
        try {
          setState({ view: parseNotebook(loaded.content), loaded });
        } catch (e) {
          setState({ error: String((e as Error).message ?? e) });
        }
      },
      e => setState({ error: `The notebook could not be read: ${String((e as Error).message ?? e)}` })
    );
  };
  const target = React.useMemo(
    () => ({ cellId: run.tags['mlnb.cell.id'] ?? null, source: run.tags['mlnb.cell.source'] ?? null }),
    [run]
  );
  return (
    <div className="mlnb-rp-run-notebook" data-origin={state.loaded?.origin}>
      {!state.view && (
        <button className="jp-mod-styled mlnb-rp-show-notebook" onClick={show} disabled={state.loading}>
          {state.loading ? 'Loading the notebook…' : 'Show the notebook here (read-only)'}
        </button>
      )}
      {state.error && <div className="mlnb-error">{state.error}</div>}
      {state.view && state.loaded && (
        <>
          <div className="mlnb-muted mlnb-rp-notebook-caption">{notebookCaption(state.loaded)}</div>
          <NotebookRender view={state.view} target={target} />
        </>
      )}
    </div>
  );
}

/** The provenance section of a run page. */
export function Provenance(props: { run: IRunDetail }): JSX.Element {
  const { run } = props;
  const prov = React.useMemo(() => groupProvenance(run.tags), [run.tags]);
  return (
    <section className="mlnb-section mlnb-rp-provenance" aria-label="Provenance">
      <h3>Provenance</h3>
      <div className="mlnb-rp-prov-groups">
        <Pairs title="Notebook and cell" entries={prov.notebook} />
        <Pairs title="Kernel" entries={prov.kernel} />
        <Pairs title="Git" entries={prov.git} />
      </div>
      {prov.source !== null && (
        <details open>
          <summary>The tracked cell&apos;s source</summary>
          <pre className="mlnb-cell-source">{prov.source}</pre>
        </details>
      )}
      {prov.history.length > 0 && (
        <details>
          <summary>Cells run before it in the kernel ({prov.history.length})</summary>
          <table className="mlnb-kv mlnb-rp-history">
            <thead>
              <tr>
                <th>execution</th>
                <th>cell id</th>
                <th>source sha256 (start)</th>
              </tr>
            </thead>
            <tbody>
              {prov.history.map((h, i) => (
                <tr key={i}>
                  <td>{h.count}</td>
                  <td>{h.cellId}</td>
                  <td>{h.hash}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
      {prov.packages.length > 0 && (
        <details>
          <summary>Environment: {prov.packages.length} imported packages</summary>
          <ul className="mlnb-rp-packages">
            {prov.packages.map(p => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </details>
      )}
      {prov.other.length > 0 && <Pairs title="Other recorded tags" entries={prov.other} />}
      {run.notebook_path && <RunNotebook run={run} />}
    </section>
  );
}
