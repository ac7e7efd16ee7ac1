/**
 * The run diff tab: two runs' headers, params and tags changed, metric deltas in a sortable
 * table, the tracked cell's source as a diff, the kernel histories side by side and the packages
 * compared. Every string from the store is React text (never HTML).
 */
import * as React from 'react';

import * as api from '../api';
import { useRequest } from '../hooks';
import { HistorySection } from './history';
import { SourceSection } from './source';
import { EnvironmentSection, MappingSection, MetricsSection } from './tables';
import { IDiffRun, IRunDiff } from './types';

export interface IRunDiffViewProps {
  runA: string;
  runB: string;
  /** Open a run's own tab. */
  openRun?: (runId: string, runName: string) => void;
  /** Told the two runs each time a diff is shown (the tab's label names them). */
  onRuns?: (a: IDiffRun, b: IDiffRun) => void;
}

function time(ms: number | null): string {
  return ms === null || ms === undefined ? '' : new Date(ms).toLocaleString();
}

function RunHeader(props: {
  side: 'a' | 'b';
  run: IDiffRun;
  openRun?: (runId: string, runName: string) => void;
}): JSX.Element {
  const { run, side } = props;
  return (
    <div className={`mlnb-diff-run mlnb-diff-run-${side}`} data-run-id={run.run_id}>
      <div className="mlnb-diff-run-side">{side === 'a' ? 'a (compared against)' : 'b'}</div>
      <div className="mlnb-diff-run-name">
        {props.openRun ? (
          <button
            className="mlnb-link-button"
            onClick={() => props.openRun?.(run.run_id, run.run_name)}
            title="Open this run's tab"
          >
            {run.run_name || run.run_id}
          </button>
        ) : (
          run.run_name || run.run_id
        )}
      </div>
      <div className="mlnb-muted">
        {run.run_id} · {run.experiment_name || `experiment ${run.experiment_id}`} · {run.status}
      </div>
      <div className="mlnb-muted">
        {time(run.start_time)}
        {run.end_time ? ` → ${time(run.end_time)}` : ''}
      </div>
    </div>
  );
}

/** The whole diff, once loaded. */
export function RunDiffBody(props: {
  diff: IRunDiff;
  openRun?: (runId: string, runName: string) => void;
}): JSX.Element {
  const { diff } = props;
  return (
    <>
      {diff.notes.length > 0 && (
        <ul className="mlnb-diff-notes mlnb-muted">
          {diff.notes.map((note, i) => (
            <li key={i}>{note}</li>
          ))}
        </ul>
      )}
      <MappingSection
        title="Params"
        className="mlnb-diff-params"
        keyLabel="param"
        diffs={[['params', diff.params]]}
      />
      <MappingSection
        title="Tags"
        className="mlnb-diff-tags"
        keyLabel="tag"
        diffs={[
          ['user tags', diff.tags],
          ['system tags', diff.system_tags]
        ]}
      />
      <MetricsSection metrics={diff.metrics} />
      <SourceSection cell={diff.cell} />
      <HistorySection history={diff.history} />
      <EnvironmentSection env={diff.environment} />
    </>
  );
}

/** The tab's content: loads `GET runs/<a>/diff/<b>`; the swap button exchanges a and b. */
export function RunDiffView(props: IRunDiffViewProps): JSX.Element {
  const [pair, setPair] = React.useState<[string, string]>([props.runA, props.runB]);
  const [a, b] = pair;
  const request = useRequest(() => api.getRunDiff(a, b), [a, b]);
  const diff =
    request.data && request.data.a.run_id === a && request.data.b.run_id === b ? request.data : null;
  const { onRuns } = props;
  React.useEffect(() => {
    if (diff && onRuns) {
      onRuns(diff.a, diff.b);
    }
  }, [diff, onRuns]);
  return (
    <div className="mlnb-rundiff" data-run-a={a} data-run-b={b}>
      <div className="mlnb-diff-head">
        {diff ? (
          <RunHeader side="a" run={diff.a} openRun={props.openRun} />
        ) : (
          <div className="mlnb-diff-run">{a}</div>
        )}
        <div className="mlnb-diff-head-actions">
          <button
            className="jp-mod-styled mlnb-diff-swap"
            title="Swap a and b (deltas are b − a)"
            aria-label="Swap a and b"
            onClick={() => setPair([b, a])}
          >
            ⇄ Swap
          </button>
          <button
            className="jp-mod-styled mlnb-diff-reload"
            title="Load the diff again"
            onClick={request.reload}
          >
            Reload
          </button>
        </div>
        {diff ? (
          <RunHeader side="b" run={diff.b} openRun={props.openRun} />
        ) : (
          <div className="mlnb-diff-run">{b}</div>
        )}
      </div>
      {request.error && (
        <div className="mlnb-error mlnb-diff-error" role="alert">
          {request.error}
        </div>
      )}
      {!diff && !request.error && <div className="mlnb-muted mlnb-diff-loading">Loading the diff…</div>}
      {diff && <RunDiffBody diff={diff} openRun={props.openRun} />}
    </div>
  );
}
