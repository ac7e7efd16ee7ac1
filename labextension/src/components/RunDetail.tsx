/**
 * A run's page: params, metrics (latest values and charts, system metrics apart), tags,
 * provenance (with a button that opens the notebook at the cell that made the run, and the
 * notebook rendered read-only) and an artifact browser with viewers (src/runpage/). User data is
 * React text, except Markdown and HTML, which are sanitised, and HTML artifacts, which only
 * ever run in a sandboxed frame.
 */
import * as React from 'react';

import * as api from '../api';
import { useRequest } from '../hooks';
import { ArtifactBrowser } from '../runpage/ArtifactBrowser';
import { MetricCharts } from '../runpage/MetricCharts';
import { Provenance } from '../runpage/Provenance';
import { formatValue, IRunDetail } from '../tokens';
import { KeyValueTable } from './KeyValueTable';
import { StatusBadge } from './RunTable';
import { SweepSection } from './Sweep';

export interface IRunDetailProps {
  runId: string;
  openNotebook: (path: string, cellId: string | null) => Promise<void>;
  onDeleteOrRestore: (run: IRunDetail) => Promise<boolean>;
  /** Why the store may only be read (Delete / Restore is disabled with it as tooltip), or null. */
  readOnly?: string | null;
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
  const target = { cellId: run.tags['mlnb.cell.id'] ?? null, source: run.tags['mlnb.cell.source'] ?? null };
  // What a live run changes as it goes: charts and the artifact listing are read again with it.
  const revision = `${run.status}:${run.end_time ?? ''}:${JSON.stringify(run.metrics)}`;
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
      <MetricCharts runId={run.run_id} metricKeys={Object.keys(run.metrics)} revision={revision} />
      <KeyValues title="Tags" entries={userTags} />
      {run.children.length > 0 && <SweepSection runId={run.run_id} />}
      <Provenance run={run} />
      <ArtifactBrowser runId={run.run_id} target={target} revision={revision} />
    </div>
  );
}
