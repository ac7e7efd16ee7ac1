/**
 * The run page's provenance: the tracked cell (notebook, cell, its source), the kernel and the
 * cells run before it, git, and the imported packages; and the run's notebook itself, rendered
 * read-only at the cell that made the run.
 */
import * as React from 'react';

import { IRunDetail } from '../tokens';
import { INotebookView, parseNotebook } from './notebook';
import { NotebookRender } from './NotebookView';
import { groupProvenance } from './provenance';
import { notebookFile } from './requests';

function Pairs(props: { title: string; entries: Array<[string, string]> }): JSX.Element | null {
  if (props.entries.length === 0) {
    return null;
  }
  return (
    <div className="mlnb-rp-prov-group">
      <h4>{props.title}</h4>
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
    </div>
  );
}

/** The run's notebook as it is on disk now, loaded when asked for. */
function RunNotebook(props: { run: IRunDetail }): JSX.Element {
  const { run } = props;
  const [state, setState] = React.useState<{ view?: INotebookView; error?: string; loading?: boolean }>({});
  const show = (): void => {
    setState({ loading: true });
    notebookFile(run.notebook_path as string).then(
      content => {
        try {
          setState({ view: parseNotebook(content) });
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
    <div className="mlnb-rp-run-notebook">
      {!state.view && (
        <button className="jp-mod-styled mlnb-rp-show-notebook" onClick={show} disabled={state.loading}>
          {state.loading ? 'Loading the notebook…' : 'Show the notebook here (read-only)'}
        </button>
      )}
      {state.error && <div className="mlnb-error">{state.error}</div>}
      {state.view && (
        <>
          <div className="mlnb-muted">
            {run.notebook_path} as it is on disk now (the run recorded its cell&apos;s source above).
          </div>
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
