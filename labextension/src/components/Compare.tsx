/**
 * The compare tab: metric curves over steps, parallel coordinates, a scatter of two chosen
 * columns, and a params diff. Plotly is loaded on first use (its own bundle chunk). Every user
 * string given to Plotly is escaped first (Plotly renders a subset of HTML in labels).
 */
import * as React from 'react';

import * as api from '../api';
import { useRequest } from '../hooks';
import { finite, formatValue, IMetricPoint, IRunDetail } from '../tokens';

type PlotlyModule = {
  react: (el: HTMLElement, data: unknown[], layout: unknown, config?: unknown) => Promise<unknown>;
  purge: (el: HTMLElement) => void;
};

let plotlyPromise: Promise<PlotlyModule> | null = null;

function loadPlotly(): Promise<PlotlyModule> {
  if (!plotlyPromise) {
    plotlyPromise = import('plotly.js-dist-min').then(
      (mod: { default?: PlotlyModule }) => (mod.default ?? mod) as PlotlyModule
    );
  }
  return plotlyPromise;
}

/**
 * Text for a Plotly label: tags and MathJax never interpreted (plotly decodes these entities).
 * Quotes stay as they are: Plotly does not decode &quot;, and without '<' no tag can form.
 */
export function escapePlotly(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\$/g, '&#36;');
}

const LAYOUT = {
  margin: { l: 50, r: 20, t: 36, b: 40 },
  height: 320,
  paper_bgcolor: 'rgba(0,0,0,0)',
  plot_bgcolor: 'rgba(0,0,0,0)',
  font: { size: 11 },
  legend: { orientation: 'h' }
};

function Chart(props: { data: unknown[]; layout: Record<string, unknown>; name: string }): JSX.Element {
  const ref = React.useRef<HTMLDivElement>(null);
  const [error, setError] = React.useState<string | null>(null);
  React.useEffect(() => {
    const element = ref.current;
    if (!element) {
      return;
    }
    loadPlotly()
      .then(Plotly =>
        Plotly.react(
          element,
          props.data,
          { ...LAYOUT, ...props.layout },
          {
            displaylogo: false,
            responsive: true
          }
        )
      )
      .catch(e => setError(String(e)));
    return () => {
      void loadPlotly().then(Plotly => Plotly.purge(element));
    };
  }, [props.data, props.layout]);
  return (
    <div className="mlnb-chart" data-chart={props.name}>
      {error && <div className="mlnb-error">{error}</div>}
      <div ref={ref} />
    </div>
  );
}

function label(run: IRunDetail): string {
  return escapePlotly(`${run.run_name} (${run.run_id.slice(0, 6)})`);
}

function numeric(value: string | undefined): number | null {
  if (value === undefined || value.trim() === '') {
    return null;
  }
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

interface IColumnChoice {
  id: string;
  title: string;
  get: (run: IRunDetail) => number | null;
}

function numericColumns(runs: IRunDetail[]): IColumnChoice[] {
  const metricKeys = [...new Set(runs.flatMap(r => Object.keys(r.metrics)))].sort();
  const paramKeys = [...new Set(runs.flatMap(r => Object.keys(r.params)))]
    .sort()
    .filter(k => runs.some(r => numeric(r.params[k]) !== null));
  return [
    ...paramKeys.map(k => ({
      id: `params.${k}`,
      title: `param ${k}`,
      get: (r: IRunDetail) => numeric(r.params[k])
    })),
    ...metricKeys.map(k => ({
      id: `metrics.${k}`,
      title: `metric ${k}`,
      get: (r: IRunDetail) => finite(r.metrics[k])
    }))
  ];
}

function ParamsDiff(props: { runs: IRunDetail[] }): JSX.Element {
  const keys = [...new Set(props.runs.flatMap(r => Object.keys(r.params)))].sort();
  const [onlyDiff, setOnlyDiff] = React.useState(true);
  const rows = keys.filter(k => !onlyDiff || new Set(props.runs.map(r => r.params[k])).size > 1);
  return (
    <section className="mlnb-section">
      <h3>Parameters</h3>
      <label className="mlnb-muted">
        <input type="checkbox" checked={onlyDiff} onChange={() => setOnlyDiff(!onlyDiff)} /> only differences
      </label>
      <table className="mlnb-kv mlnb-diff">
        <thead>
          <tr>
            <th />
            {props.runs.map(r => (
              <th key={r.run_id}>{r.run_name}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map(k => (
            <tr key={k} className={new Set(props.runs.map(r => r.params[k])).size > 1 ? 'mlnb-differs' : ''}>
              <th>{k}</th>
              {props.runs.map(r => (
                <td key={r.run_id}>{r.params[k] ?? '—'}</td>
              ))}
            </tr>
          ))}
          {Object.keys(props.runs[0]?.metrics ?? {}).length > 0 &&
            [...new Set(props.runs.flatMap(r => Object.keys(r.metrics)))].sort().map(k => (
              <tr key={`m-${k}`}>
                <th>metric {k}</th>
                {props.runs.map(r => (
                  <td key={r.run_id}>{formatValue(r.metrics[k])}</td>
                ))}
              </tr>
            ))}
        </tbody>
      </table>
    </section>
  );
}

type Histories = Record<string, Record<string, IMetricPoint[]>>;

function curvesOf(runs: IRunDetail[], histories: Histories): Array<{ key: string; data: unknown[] }> {
  const keys = [...new Set(runs.flatMap(r => Object.keys(histories[r.run_id] ?? {})))].sort();
  return keys.map(key => ({
    key,
    data: runs
      .filter(r => histories[r.run_id]?.[key])
      .map(r => ({
        type: 'scatter',
        mode: 'lines+markers',
        name: label(r),
        x: histories[r.run_id][key].map(p => p.step),
        y: histories[r.run_id][key].map(p => finite(p.value)),
        hoverinfo: 'x+y+name'
      }))
  }));
}

function Curves(props: { runs: IRunDetail[]; histories: Histories }): JSX.Element {
  const { runs, histories } = props;
  const curves = React.useMemo(() => curvesOf(runs, histories), [runs, histories]);
  return (
    <section className="mlnb-section">
      <h3>Metric curves</h3>
      {curves.length === 0 && <div className="mlnb-muted">No metric histories.</div>}
      <div className="mlnb-charts">
        {curves.map(curve => (
          <Chart
            key={curve.key}
            name={`curve:${curve.key}`}
            data={curve.data}
            layout={{ title: { text: escapePlotly(curve.key) }, xaxis: { title: { text: 'step' } } }}
          />
        ))}
      </div>
    </section>
  );
}

function ParallelCoordinates(props: { runs: IRunDetail[]; columns: IColumnChoice[] }): JSX.Element {
  const { runs, columns } = props;
  const data = [
    {
      type: 'parcoords',
      line: { color: runs.map((_, i) => i), colorscale: 'Viridis' },
      dimensions: columns.map(c => ({
        label: escapePlotly(c.title),
        values: runs.map(r => c.get(r) ?? NaN)
      }))
    }
  ];
  return (
    <section className="mlnb-section">
      <h3>Parallel coordinates</h3>
      <Chart name="parcoords" data={data} layout={{ margin: { l: 60, r: 60, t: 50, b: 20 } }} />
    </section>
  );
}

function ColumnSelect(props: {
  label: string;
  value: string;
  columns: IColumnChoice[];
  onChange: (id: string) => void;
}): JSX.Element {
  return (
    <select value={props.value} onChange={e => props.onChange(e.target.value)} aria-label={props.label}>
      {props.columns.map(c => (
        <option key={c.id} value={c.id}>
          {c.title}
        </option>
      ))}
    </select>
  );
}

function Scatter(props: { runs: IRunDetail[]; columns: IColumnChoice[] }): JSX.Element | null {
  const { runs, columns } = props;
  const [xColumn, setX] = React.useState('');
  const [yColumn, setY] = React.useState('');
  const x = columns.find(c => c.id === xColumn) ?? columns[0];
  const y = columns.find(c => c.id === yColumn) ?? columns[columns.length - 1];
  if (!x || !y) {
    return null;
  }
  const data = [
    {
      type: 'scatter',
      mode: 'markers+text',
      x: runs.map(r => x.get(r)),
      y: runs.map(r => y.get(r)),
      text: runs.map(label),
      textposition: 'top center',
      hoverinfo: 'x+y+text'
    }
  ];
  const layout = {
    xaxis: { title: { text: escapePlotly(x.title) } },
    yaxis: { title: { text: escapePlotly(y.title) } }
  };
  return (
    <section className="mlnb-section">
      <h3>Scatter</h3>
      <ColumnSelect label="x axis" value={x.id} columns={columns} onChange={setX} />
      {' vs '}
      <ColumnSelect label="y axis" value={y.id} columns={columns} onChange={setY} />
      <Chart name="scatter" data={data} layout={layout} />
    </section>
  );
}

function Comparison(props: { runs: IRunDetail[]; histories: Histories }): JSX.Element {
  const { runs } = props;
  const columns = React.useMemo(() => numericColumns(runs), [runs]);
  return (
    <div className="mlnb-compare">
      <h2>Comparing {runs.length} runs</h2>
      <div className="mlnb-muted">{runs.map(r => r.run_name).join(' · ')}</div>
      <Curves runs={runs} histories={props.histories} />
      {columns.length >= 2 && <ParallelCoordinates runs={runs} columns={columns} />}
      <Scatter runs={runs} columns={columns} />
      <ParamsDiff runs={runs} />
    </div>
  );
}

const NO_HISTORIES: Histories = {};

/** The compare tab of the given runs. */
export function Compare(props: { runIds: string[] }): JSX.Element {
  const { runIds } = props;
  const runs = useRequest(() => Promise.all(runIds.map(id => api.getRun(id))), [runIds]);
  const histories = useRequest(() => api.metricHistories(runIds, [], 500), [runIds]);
  const error = runs.error ?? histories.error;
  if (error) {
    return <div className="mlnb-error">{error}</div>;
  }
  if (!runs.data) {
    return <div className="mlnb-muted">Loading…</div>;
  }
  return <Comparison runs={runs.data} histories={histories.data ?? NO_HISTORIES} />;
}
