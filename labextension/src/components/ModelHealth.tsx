/**
 * A model version's attached evaluation and registry gate (why a promotion is blocked), and a
 * model's Monitoring tab (drift share per window over time, prediction and target drift per
 * window, the newest window's report with its prediction and target rows).
 * Every value from the store is rendered as a React text node, never as HTML.
 */
import * as React from 'react';

import * as api from '../api';
import { useRequest } from '../hooks';
import { IDriftColumn, IGateCheck, IMonitoringRun, IOutputDriftPoint, IVersionEvaluation } from '../tokens';

function fmt(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) {
    return '—';
  }
  return Math.abs(value) >= 1000 || Math.abs(value) < 0.001 ? value.toExponential(3) : value.toFixed(4);
}

/** The gate's verdict for each guarded stage or alias: "blocked" with the reason as text. */
export function GateBadges(props: { checks: IGateCheck[] }): JSX.Element | null {
  if (props.checks.length === 0) {
    return null;
  }
  return (
    <span className="mlnb-gate-badges">
      {props.checks.map(check => (
        <span
          key={check.target}
          className={`mlnb-chip mlnb-gate ${check.passed ? 'mlnb-gate-pass' : 'mlnb-gate-blocked'}`}
          data-target={check.target}
          title={check.reason || `may move to ${check.target}`}
        >
          {check.passed ? '✓' : '✗'} {check.target}
        </span>
      ))}
    </span>
  );
}

/** The evaluation attached to a version: its metrics, and each gate check with its reason. */
export function EvaluationView(props: { evaluation: IVersionEvaluation }): JSX.Element {
  const { evaluation } = props;
  const blocked = evaluation.checks.filter(c => !c.passed);
  return (
    <div className="mlnb-evaluation">
      <div className="mlnb-muted">
        {evaluation.evaluation_run_id
          ? `Evaluation run ${evaluation.evaluation_run_id}`
          : 'No evaluation attached (mlnb.evaluate("models:/…/N", …) attaches one).'}
      </div>
      {blocked.map(check => (
        <div key={check.target} className="mlnb-gate-reason" data-target={check.target}>
          {check.reason}
        </div>
      ))}
      {evaluation.metrics && (
        <table className="mlnb-evaluation-metrics">
          <tbody>
            {Object.entries(evaluation.metrics).map(([key, value]) => (
              <tr key={key}>
                <td>{key}</td>
                <td>{fmt(value)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** Drift share per window as bars (an SVG built from numbers only). */
function DriftBars(props: { run: IMonitoringRun }): JSX.Element {
  const points = props.run.points;
  const width = 240;
  const height = 48;
  const bar = points.length ? Math.max(2, Math.floor(width / points.length) - 1) : 0;
  return (
    <svg className="mlnb-drift-bars" width={width} height={height} role="img">
      {points.map((p, i) => {
        const h = Math.max(1, Math.round((p.value ?? 0) * (height - 2)));
        return (
          <rect
            key={p.step}
            x={i * (bar + 1)}
            y={height - h}
            width={bar}
            height={h}
            className={(p.value ?? 0) >= 0.5 ? 'mlnb-drift-bar-high' : 'mlnb-drift-bar'}
          >
            <title>{`window ${p.step} (${new Date(p.timestamp).toISOString()}): drift share ${fmt(p.value)}`}</title>
          </rect>
        );
      })}
    </svg>
  );
}

/** Prediction or target drift per window, as one verdict mark per window that tested it. */
function OutputVerdicts(props: {
  role: string;
  points: IOutputDriftPoint[] | undefined;
}): JSX.Element | null {
  const points = props.points ?? [];
  if (points.length === 0) {
    return null;
  }
  const drifted = points.filter(p => p.drifted).length;
  return (
    <div className="mlnb-output-drift" data-role={props.role}>
      {props.role} drift in {drifted} of {points.length} windows:{' '}
      {points.map(p => (
        <span
          key={p.step}
          className={p.drifted ? 'mlnb-output-drifted' : 'mlnb-output-ok'}
          title={`window ${p.step} (${new Date(p.timestamp).toISOString()}): ${
            p.drifted ? 'drift' : 'no drift'
          }, statistic ${fmt(p.statistic)}`}
        >
          {p.drifted ? '✗' : '✓'}
        </span>
      ))}
    </div>
  );
}

function LatestReport(props: { run: IMonitoringRun }): JSX.Element | null {
  const latest = props.run.latest;
  if (!latest) {
    return null;
  }
  const report = latest.report;
  const rows: IDriftColumn[] = [
    ...report.columns,
    ...(latest.prediction_report?.columns ?? []).map(c => ({ ...c, role: 'prediction' })),
    ...(latest.target_report?.columns ?? []).map(c => ({ ...c, role: 'target' }))
  ];
  return (
    <div className="mlnb-drift-report">
      <div>
        Window {latest.index} ({new Date(latest.start_ms).toISOString()}): {latest.rows} rows, drift share{' '}
        {fmt(report.share_drifted)} {report.dataset_drift ? '— dataset drift' : ''}
      </div>
      <table className="mlnb-drift-columns">
        <thead>
          <tr>
            <th>Column</th>
            <th>Test</th>
            <th>Statistic</th>
            <th>Threshold</th>
            <th>Verdict</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(c => (
            <tr
              key={`${c.role ?? 'feature'}:${c.column}`}
              className={c.drifted ? 'mlnb-drifted' : ''}
              data-role={c.role ?? 'feature'}
            >
              <td className="mlnb-drift-column">
                {c.column}
                {c.role && c.role !== 'feature' ? ` (${c.role})` : ''}
              </td>
              <td>{c.method}</td>
              <td>{fmt(c.statistic)}</td>
              <td>{fmt(c.threshold)}</td>
              <td>{c.verdict}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {(latest.notes ?? []).map(note => (
        <div key={note} className="mlnb-muted mlnb-drift-note">
          {note}
        </div>
      ))}
    </div>
  );
}

/** A model's Monitoring tab: one block per `mlnb monitor` run of it. */
export function MonitoringTab(props: { name: string; onError: (m: string) => void }): JSX.Element {
  const { name, onError } = props;
  const runs = useRequest(() => api.getModelMonitoring(name), [name]);
  React.useEffect(() => {
    if (runs.error) {
      onError(runs.error);
    }
  }, [runs.error, onError]);
  if (!runs.data) {
    return <div className="mlnb-muted">Loading…</div>;
  }
  if (runs.data.length === 0) {
    return (
      <div className="mlnb-muted mlnb-monitoring-empty">
        No monitoring yet: run `mlnb monitor models:/{name}/N`.
      </div>
    );
  }
  return (
    <div className="mlnb-monitoring">
      {runs.data.map(run => (
        <div key={run.run_id} className="mlnb-monitoring-run" data-run={run.run_id}>
          <div className="mlnb-muted">
            {run.model_uri} vs {run.reference}
          </div>
          <DriftBars run={run} />
          <OutputVerdicts role="prediction" points={run.prediction_points} />
          <OutputVerdicts role="target" points={run.target_points} />
          <LatestReport run={run} />
        </div>
      ))}
    </div>
  );
}
