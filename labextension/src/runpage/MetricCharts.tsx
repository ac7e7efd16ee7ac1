/**
 * A run's metric charts: one line chart per metric over steps, the run's own metrics first and
 * the system metrics (`system/...`) in a section of their own.
 */
import * as React from 'react';

import * as api from '../api';
import { escapePlotly } from '../components/Compare';
import { useRequest } from '../hooks';
import { IMetricPoint } from '../tokens';
import { PlotlyView } from './PlotlyView';

const SYSTEM = 'system/';

/** Metric keys split into the run's own and the system metrics, each sorted. */
export function splitMetricKeys(keys: string[]): { own: string[]; system: string[] } {
  const sorted = [...keys].sort();
  return { own: sorted.filter(k => !k.startsWith(SYSTEM)), system: sorted.filter(k => k.startsWith(SYSTEM)) };
}

function MetricChart(props: { metric: string; points: IMetricPoint[] }): JSX.Element {
  const { metric, points } = props;
  const data = React.useMemo(
    () => [
      {
        type: 'scattergl',
        mode: points.length > 1 ? 'lines' : 'markers',
        x: points.map(p => p.step),
        y: points.map(p => (typeof p.value === 'number' ? p.value : Number(p.value))),
        name: escapePlotly(metric)
      }
    ],
    [metric, points]
  );
  const layout = React.useMemo(
    () => ({
      title: { text: escapePlotly(metric), font: { size: 12 } },
      margin: { l: 48, r: 12, t: 32, b: 32 },
      height: 220,
      showlegend: false,
      xaxis: { title: { text: 'step' } }
    }),
    [metric]
  );
  return <PlotlyView data={data} layout={layout} name={metric} />;
}

function ChartGrid(props: {
  title: string;
  keys: string[];
  histories: Record<string, IMetricPoint[]>;
}): JSX.Element {
  return (
    <section className="mlnb-section mlnb-rp-charts" aria-label={props.title}>
      <h3>{props.title}</h3>
      <div className="mlnb-rp-chart-grid">
        {props.keys.map(key => (
          <MetricChart key={key} metric={key} points={props.histories[key] ?? []} />
        ))}
      </div>
    </section>
  );
}

/**
 * The charts of every metric the run logged (down-sampled by the server); loaded again when
 * `revision` changes (the run's latest values, so a live run's charts follow it).
 */
export function MetricCharts(props: {
  runId: string;
  metricKeys: string[];
  revision: string;
}): JSX.Element | null {
  const { runId, metricKeys, revision } = props;
  const hasMetrics = metricKeys.length > 0;
  const request = useRequest(
    () =>
      hasMetrics
        ? api.metricHistories([runId], [], 1000)
        : Promise.resolve({} as Record<string, Record<string, IMetricPoint[]>>),
    [runId, hasMetrics, revision]
  );
  if (metricKeys.length === 0) {
    return null;
  }
  if (request.error) {
    return <div className="mlnb-error">{request.error}</div>;
  }
  const histories = request.data?.[runId] ?? null;
  if (!histories) {
    return <div className="mlnb-muted">Loading charts…</div>;
  }
  const { own, system } = splitMetricKeys(Object.keys(histories));
  return (
    <>
      {own.length > 0 && <ChartGrid title="Metric charts" keys={own} histories={histories} />}
      {system.length > 0 && <ChartGrid title="System metrics" keys={system} histories={histories} />}
    </>
  );
}
