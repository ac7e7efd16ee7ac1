/**
 * The workspace's chart grid: line charts per metric (histories downsampled by the server, min
 * and max kept per bucket), scatter, parallel coordinates and bars; each chart can be set up,
 * resized (columns spanned, height) and removed, and new ones added.
 */
import * as React from 'react';

import * as api from '../api';
import { errorMessage } from '../api';
import { IWsRun } from './columns';
import {
  barFigure,
  Histories,
  IFigure,
  IGrouping,
  ILegendEntry,
  lineFigure,
  lineLegend,
  parallelFigure,
  scatterFigure
} from './figures';
import { Plot } from './Plot';
import {
  CHART_TYPES,
  ChartType,
  columnTitle,
  IChart,
  newChart,
  parseColumnId,
  X_AXES,
  XAxis
} from './viewState';

/** Points per history asked of the server (it keeps each bucket's first, min, max and last). */
export const HISTORY_POINTS = 1000;
/**
 * Points per history of the first, quick request: for a long series the server answers it from
 * its chunks' summaries without unpacking a point, so the charts paint at once; the 1,000-point
 * histories replace them when they arrive (unless every history was already whole).
 */
export const COARSE_POINTS = 100;
const SERVER_MAX_RUNS = 50; // runs per metric-histories request

const HEIGHTS: Array<[string, number]> = [
  ['S', 220],
  ['M', 300],
  ['L', 460]
];

export type Resolution = 'none' | 'coarse' | 'fine';

async function fetchHistories(ids: string[], keys: string[], maxPoints: number): Promise<Histories> {
  const batches: string[][] = [];
  for (let i = 0; i < ids.length; i += SERVER_MAX_RUNS) {
    batches.push(ids.slice(i, i + SERVER_MAX_RUNS));
  }
  const parts = await Promise.all(batches.map(b => api.metricHistories(b, keys, maxPoints)));
  return Object.assign({}, ...parts) as Histories;
}

/**
 * Whether every history is certainly whole: a downsampled one keeps at least two points of each
 * of its stretches (about a quarter of the points asked), so one of at most a fifth of them was
 * not downsampled.
 */
export function allWhole(histories: Histories, asked: number): boolean {
  const most = Math.floor(asked / 5);
  return Object.values(histories).every(byKey => Object.values(byKey).every(points => points.length <= most));
}

/** Resolves when the browser is next idle (the charts of the last render drawn), at most 1 s on. */
function afterPaint(): Promise<void> {
  return new Promise(resolve => {
    const idle = (window as { requestIdleCallback?: (fn: () => void, o?: { timeout: number }) => number })
      .requestIdleCallback;
    if (idle) {
      idle(() => resolve(), { timeout: 1000 });
    } else {
      setTimeout(resolve, 50);
    }
  });
}

/** Histories of these runs and keys: quick coarse ones first, then 1,000 points each. */
export function useHistories(
  runIds: string[],
  keys: string[]
): { histories: Histories; error: string | null; loading: boolean; resolution: Resolution } {
  const runKey = runIds.join(',');
  const keyKey = keys.join('\u0000');
  const key = `${runKey}\n${keyKey}`;
  const [state, setState] = React.useState<{
    key: string;
    histories: Histories;
    error: string | null;
    resolution: Resolution;
  }>({ key: '', histories: {}, error: null, resolution: 'none' });
  React.useEffect(() => {
    const ids = runKey ? runKey.split(',') : [];
    const wanted = keyKey ? keyKey.split('\u0000') : [];
    if (!ids.length || !wanted.length) {
      return;
    }
    let alive = true;
    const load = async (): Promise<void> => {
      const coarse = await fetchHistories(ids, wanted, COARSE_POINTS);
      if (!alive) {
        return;
      }
      const whole = allWhole(coarse, COARSE_POINTS);
      setState({ key, histories: coarse, error: null, resolution: whole ? 'fine' : 'coarse' });
      if (!whole) {
        // Asked once the coarse charts are drawn: the server's work for the fine histories
        // would otherwise compete with their drawing for the same cores.
        await afterPaint();
        if (!alive) {
          return;
        }
        const fine = await fetchHistories(ids, wanted, HISTORY_POINTS);
        if (alive) {
          setState({ key, histories: fine, error: null, resolution: 'fine' });
        }
      }
    };
    load().catch(e => alive && setState({ key, histories: {}, error: errorMessage(e), resolution: 'none' }));
    return () => {
      alive = false;
    };
  }, [runKey, keyKey, key]);
  if (!runKey || !keyKey) {
    return { histories: {}, error: null, loading: false, resolution: 'none' };
  }
  // while new histories load, the last ones stay drawn
  const current = state.key === key;
  return {
    histories: state.histories,
    error: current ? state.error : null,
    loading: !current,
    resolution: current ? state.resolution : 'none'
  };
}

function ColumnSelect(props: {
  label: string;
  value: string;
  options: string[];
  onChange: (id: string) => void;
}): JSX.Element {
  return (
    <label>
      {props.label}{' '}
      <select aria-label={props.label} value={props.value} onChange={e => props.onChange(e.target.value)}>
        <option value="">choose…</option>
        {props.options.map(id => {
          const column = parseColumnId(id);
          return (
            <option key={id} value={id}>
              {column ? `${column.kind} ${columnTitle(column)}` : id}
            </option>
          );
        })}
      </select>
    </label>
  );
}

function chartTitle(chart: IChart): string {
  const name = (id: string): string => {
    const c = parseColumnId(id);
    return c ? columnTitle(c) : '?';
  };
  switch (chart.type) {
    case 'line':
      return chart.metric || 'line chart';
    case 'bar':
      return `${chart.metric || '?'} (last)`;
    case 'scatter':
      return `${name(chart.y)} vs ${name(chart.x)}`;
    default:
      return 'parallel coordinates';
  }
}

function ChartSettings(props: {
  chart: IChart;
  metricKeys: string[];
  numericColumns: string[];
  onChange: (chart: IChart) => void;
}): JSX.Element {
  const { chart, onChange } = props;
  const set = (fields: Partial<IChart>): void => onChange({ ...chart, ...fields });
  return (
    <div className="mlnb-ws-chart-settings">
      {(chart.type === 'line' || chart.type === 'bar') && (
        <label>
          metric{' '}
          <select aria-label="metric" value={chart.metric} onChange={e => set({ metric: e.target.value })}>
            <option value="">choose…</option>
            {props.metricKeys.map(k => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
      )}
      {chart.type === 'line' && (
        <>
          <label>
            x{' '}
            <select
              aria-label="x axis"
              value={chart.xAxis}
              onChange={e => set({ xAxis: e.target.value as XAxis })}
            >
              {X_AXES.map(x => (
                <option key={x} value={x}>
                  {x === 'wall' ? 'wall time' : x === 'relative' ? 'relative time' : 'step'}
                </option>
              ))}
            </select>
          </label>
          <label>
            smoothing{' '}
            <input
              type="range"
              aria-label="smoothing"
              min={0}
              max={0.99}
              step={0.01}
              value={chart.smoothing}
              onChange={e => set({ smoothing: Number(e.target.value) })}
            />
            <span className="mlnb-ws-num">{chart.smoothing.toFixed(2)}</span>
          </label>
        </>
      )}
      {chart.type === 'scatter' && (
        <>
          <ColumnSelect label="x" value={chart.x} options={props.numericColumns} onChange={x => set({ x })} />
          <ColumnSelect label="y" value={chart.y} options={props.numericColumns} onChange={y => set({ y })} />
        </>
      )}
      {chart.type === 'parallel' && (
        <fieldset className="mlnb-ws-dims">
          <legend>axes</legend>
          {props.numericColumns.map(id => {
            const column = parseColumnId(id);
            return (
              <label key={id}>
                <input
                  type="checkbox"
                  checked={chart.dims.includes(id)}
                  onChange={e =>
                    set({ dims: e.target.checked ? [...chart.dims, id] : chart.dims.filter(d => d !== id) })
                  }
                />
                {column ? `${column.kind} ${columnTitle(column)}` : id}
              </label>
            );
          })}
        </fieldset>
      )}
      {chart.type !== 'parallel' && (
        <label>
          <input type="checkbox" checked={chart.logY} onChange={e => set({ logY: e.target.checked })} /> log y
        </label>
      )}
    </div>
  );
}

function ChartCard(props: {
  chart: IChart;
  figure: IFigure;
  metricKeys: string[];
  numericColumns: string[];
  loading: boolean;
  resolution: Resolution;
  onChange: (chart: IChart) => void;
  onRemove: () => void;
}): JSX.Element {
  const { chart, onChange } = props;
  const title = chartTitle(chart);
  const empty = props.figure.data.length === 0;
  return (
    <section
      className="mlnb-ws-chart"
      style={{ gridColumn: `span ${chart.span}` }}
      aria-label={`${chart.type} chart ${title}`}
      data-chart-type={chart.type}
    >
      <header className="mlnb-ws-chart-head">
        <span className="mlnb-ws-chart-title">{title}</span>
        <span className="mlnb-ws-chart-size" role="group" aria-label="chart size">
          {[1, 2, 3].map(span => (
            <button
              key={span}
              className={chart.span === span ? 'mlnb-active' : ''}
              aria-pressed={chart.span === span}
              title={`${span} column${span > 1 ? 's' : ''} wide`}
              onClick={() => onChange({ ...chart, span })}
            >
              {'▮'.repeat(span)}
            </button>
          ))}
          {HEIGHTS.map(([label, height]) => (
            <button
              key={label}
              className={chart.height === height ? 'mlnb-active' : ''}
              aria-pressed={chart.height === height}
              title={`height ${height}px`}
              onClick={() => onChange({ ...chart, height })}
            >
              {label}
            </button>
          ))}
        </span>
        <button className="mlnb-ws-remove" aria-label={`remove chart ${title}`} onClick={props.onRemove}>
          ✕
        </button>
      </header>
      <ChartSettings
        chart={chart}
        metricKeys={props.metricKeys}
        numericColumns={props.numericColumns}
        onChange={onChange}
      />
      {empty ? (
        <div className="mlnb-empty" style={{ height: chart.height }}>
          {props.loading ? 'Loading…' : 'Nothing to draw: choose what to plot, or runs that have it.'}
        </div>
      ) : (
        <Plot
          data={props.figure.data}
          layout={props.figure.layout}
          height={chart.height}
          name={chart.id}
          revision={chart.type === 'line' ? props.resolution : 'yes'}
        />
      )}
    </section>
  );
}

function AddChart(props: { metricKeys: string[]; onAdd: (charts: IChart[]) => void }): JSX.Element {
  const [type, setType] = React.useState<ChartType>('line');
  return (
    <div className="mlnb-ws-add-chart">
      <label>
        New chart{' '}
        <select aria-label="new chart type" value={type} onChange={e => setType(e.target.value as ChartType)}>
          {CHART_TYPES.map(t => (
            <option key={t} value={t}>
              {t === 'parallel' ? 'parallel coordinates' : t === 'bar' ? 'bar of final values' : t}
            </option>
          ))}
        </select>
      </label>
      <button onClick={() => props.onAdd([newChart(type, { metric: props.metricKeys[0] ?? '' })])}>
        Add chart
      </button>
      <button
        disabled={!props.metricKeys.length}
        onClick={() => props.onAdd(props.metricKeys.map(metric => newChart('line', { metric })))}
      >
        Line chart per metric
      </button>
    </div>
  );
}

/** The line charts' one legend: a swatch and the name of each run or group (as text). */
function LineLegend(props: { entries: ILegendEntry[] }): JSX.Element {
  return (
    <ul className="mlnb-ws-legend" aria-label="line chart legend">
      {props.entries.map((entry, i) => (
        <li key={i}>
          <span className="mlnb-ws-swatch" style={{ background: entry.colour }} aria-hidden="true" />
          {entry.label}
        </li>
      ))}
    </ul>
  );
}

/** The chart grid over `chartRuns` (line, bar) and `tableRuns` (scatter, parallel coordinates). */
export function ChartGrid(props: {
  charts: IChart[];
  chartRuns: IWsRun[];
  tableRuns: IWsRun[];
  grouping: IGrouping;
  metricKeys: string[];
  numericColumns: string[];
  onChange: (charts: IChart[]) => void;
}): JSX.Element {
  const { charts, chartRuns, tableRuns, grouping, onChange } = props;
  const lineKeys = [...new Set(charts.filter(c => c.type === 'line' && c.metric).map(c => c.metric))].sort();
  const { histories, error, loading, resolution } = useHistories(
    chartRuns.map(r => r.run_id),
    lineKeys
  );
  const figures = React.useMemo(
    () =>
      charts.map(chart => {
        switch (chart.type) {
          case 'line':
            return lineFigure(chart, chartRuns, histories, grouping);
          case 'scatter':
            return scatterFigure(chart, tableRuns, grouping);
          case 'parallel':
            return parallelFigure(chart, tableRuns);
          default:
            return barFigure(chart, chartRuns, grouping);
        }
      }),
    [charts, chartRuns, tableRuns, histories, grouping]
  );
  const hasLines = charts.some(c => c.type === 'line');
  const legend = React.useMemo(
    () => (hasLines ? lineLegend(chartRuns, grouping.groupBy) : []),
    [hasLines, chartRuns, grouping.groupBy]
  );
  return (
    <div className="mlnb-ws-charts-wrap" data-resolution={resolution}>
      <AddChart metricKeys={props.metricKeys} onAdd={added => onChange([...charts, ...added])} />
      {error && <div className="mlnb-error">{error}</div>}
      {legend.length > 0 && <LineLegend entries={legend} />}
      <div className="mlnb-ws-grid">
        {charts.map((chart, i) => (
          <ChartCard
            key={chart.id}
            chart={chart}
            figure={figures[i]}
            metricKeys={props.metricKeys}
            numericColumns={props.numericColumns}
            loading={loading}
            resolution={resolution}
            onChange={next => onChange(charts.map(c => (c.id === chart.id ? next : c)))}
            onRemove={() => onChange(charts.filter(c => c.id !== chart.id))}
          />
        ))}
      </div>
    </div>
  );
}
