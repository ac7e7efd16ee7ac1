/**
 * Plotly traces and layouts of the workspace's charts, built from runs and their (server
 * downsampled) metric histories. Every user string goes through `escapePlotly`.
 */
import { finite, IMetricPoint } from '../tokens';
import { IWsRun, numericValue } from './columns';
import { aggregate, ema, groupBy, ISeries } from './grouping';
import { escapePlotly } from './Plot';
import { Band, Center, columnTitle, IChart, IGroupBy, parseColumnId, XAxis } from './viewState';

export const PALETTE = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf'
];

export type Histories = Record<string, Record<string, IMetricPoint[]>>;

export interface IFigure {
  data: unknown[];
  layout: Record<string, unknown>;
}

export interface IGrouping {
  groupBy: IGroupBy | null;
  center: Center;
  band: Band;
}

/** The group a run belongs to (its param or tag value), or undefined without grouping. */
export function groupKey(run: IWsRun, grouping: IGroupBy): string | undefined {
  return grouping.kind === 'param' ? run.params[grouping.key] : run.tags[grouping.key];
}

export function runLabel(run: IWsRun): string {
  return escapePlotly(`${run.run_name || run.run_id.slice(0, 8)}`);
}

function rgba(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}

/** A run's curve of a metric on the chosen x axis (NaN and infinities left out). */
export function runSeries(run: IWsRun, points: IMetricPoint[], xAxis: XAxis): ISeries {
  const x: number[] = [];
  const y: number[] = [];
  for (const p of points) {
    const value = finite(p.value);
    if (value === null) {
      continue;
    }
    x.push(
      xAxis === 'step' ? p.step : xAxis === 'wall' ? p.timestamp : (p.timestamp - run.start_time) / 1000
    );
    y.push(value);
  }
  if (xAxis !== 'step') {
    // timestamps need not grow with steps: sort by x for the chart and the alignment
    const order = x.map((_, i) => i).sort((a, b) => x[a] - x[b]);
    return { x: order.map(i => x[i]), y: order.map(i => y[i]) };
  }
  return { x, y };
}

const X_TITLES: Record<XAxis, string> = { step: 'step', wall: 'wall time', relative: 'relative time (s)' };

/** A line in the grid's legend: its text (shown as text, never as HTML) and colour. */
export interface ILegendEntry {
  label: string;
  colour: string;
}

/** Each run's colour in every line chart: by its place among the runs charted. */
function runColours(runs: IWsRun[]): Map<string, string> {
  return new Map(runs.map((run, i) => [run.run_id, PALETTE[i % PALETTE.length]]));
}

/** Each group's colour in every line chart: by the order groups first appear among the runs. */
function groupColours(runs: IWsRun[], spec: IGroupBy): Map<string, string> {
  const names = [...groupBy(runs, run => groupKey(run, spec)).keys()];
  return new Map(names.map((name, i) => [name, PALETTE[i % PALETTE.length]]));
}

function groupTitle(spec: IGroupBy, name: string, count: number): string {
  return `${spec.key}=${name} (${count})`;
}

/**
 * The legend shared by the grid's line charts (one legend instead of one per chart: the charts
 * draw faster, and a run or group has the same colour in each): a run or group per entry.
 */
export function lineLegend(runs: IWsRun[], groupSpec: IGroupBy | null): ILegendEntry[] {
  if (groupSpec) {
    const colours = groupColours(runs, groupSpec);
    return [...groupBy(runs, run => groupKey(run, groupSpec)).entries()].map(([name, members]) => ({
      label: groupTitle(groupSpec, name, members.length),
      colour: colours.get(name) ?? PALETTE[0]
    }));
  }
  const colours = runColours(runs);
  return runs.map(run => ({
    label: run.run_name || run.run_id.slice(0, 8),
    colour: colours.get(run.run_id) ?? PALETTE[0]
  }));
}

/** A metric's line chart: a line per run, or per group its center line and band. */
export function lineFigure(
  chart: IChart,
  runs: IWsRun[],
  histories: Histories,
  grouping: IGrouping
): IFigure {
  const data: unknown[] = [];
  const xType = chart.xAxis === 'wall' ? 'date' : 'linear';
  const curves = runs
    .map(run => ({ run, series: runSeries(run, histories[run.run_id]?.[chart.metric] ?? [], chart.xAxis) }))
    .filter(c => c.series.x.length > 0)
    .map(c => ({ ...c, series: { x: c.series.x, y: ema(c.series.y, chart.smoothing) } }));
  if (grouping.groupBy) {
    const spec = grouping.groupBy;
    const groups = groupBy(curves, c => groupKey(c.run, spec));
    const colours = groupColours(runs, spec);
    for (const [name, members] of groups) {
      const colour = colours.get(name) ?? PALETTE[0];
      const agg = aggregate(
        members.map(m => m.series),
        grouping.center,
        grouping.band
      );
      const label = escapePlotly(groupTitle(spec, name, members.length));
      if (grouping.band !== 'none') {
        data.push({
          x: agg.x,
          y: agg.lower,
          type: 'scatter',
          mode: 'lines',
          line: { width: 0, color: colour },
          hoverinfo: 'skip',
          showlegend: false,
          legendgroup: label,
          name: `${label} lower`
        });
        data.push({
          x: agg.x,
          y: agg.upper,
          type: 'scatter',
          mode: 'lines',
          line: { width: 0, color: colour },
          fill: 'tonexty',
          fillcolor: rgba(colour, 0.2),
          hoverinfo: 'skip',
          showlegend: false,
          legendgroup: label,
          name: `${label} band`,
          meta: 'band'
        });
      }
      data.push({
        x: agg.x,
        y: agg.center,
        type: 'scatter',
        mode: 'lines',
        line: { width: 2, color: colour },
        name: label,
        legendgroup: label,
        meta: 'center'
      });
    }
  } else {
    const colours = runColours(runs);
    curves.forEach(c =>
      data.push({
        x: c.series.x,
        y: c.series.y,
        type: 'scatter',
        mode: c.series.x.length === 1 ? 'markers' : 'lines',
        line: { width: 1.5, color: colours.get(c.run.run_id) ?? PALETTE[0] },
        name: runLabel(c.run)
      })
    );
  }
  return {
    data,
    layout: {
      xaxis: { title: { text: X_TITLES[chart.xAxis] }, type: xType },
      yaxis: { title: { text: escapePlotly(chart.metric) }, type: chart.logY ? 'log' : 'linear' },
      showlegend: false // the grid's one legend (lineLegend) names them; hovering a line does too
    }
  };
}

function columnLabel(id: string): string {
  const column = parseColumnId(id);
  return escapePlotly(
    column ? `${column.kind === 'attr' ? '' : column.kind + ' '}${columnTitle(column)}` : id
  );
}

/** Scatter of two columns over the runs (a trace per group when grouped). */
export function scatterFigure(chart: IChart, runs: IWsRun[], grouping: IGrouping): IFigure {
  const xc = parseColumnId(chart.x);
  const yc = parseColumnId(chart.y);
  const data: unknown[] = [];
  if (xc && yc) {
    const points = runs
      .map(run => ({ run, x: numericValue(run, xc), y: numericValue(run, yc) }))
      .filter(p => p.x !== null && p.y !== null);
    const spec = grouping.groupBy;
    const groups = spec ? groupBy(points, p => groupKey(p.run, spec)) : new Map([['runs', points]]);
    let index = 0;
    for (const [name, members] of groups) {
      data.push({
        x: members.map(p => p.x),
        y: members.map(p => p.y),
        text: members.map(p => runLabel(p.run)),
        type: members.length > 1000 ? 'scattergl' : 'scatter',
        mode: 'markers',
        marker: { size: 7, color: PALETTE[index++ % PALETTE.length] },
        name: spec ? escapePlotly(`${spec.key}=${name}`) : 'runs',
        hovertemplate: '%{text}<br>%{x}, %{y}<extra></extra>'
      });
    }
  }
  return {
    data,
    layout: {
      xaxis: { title: { text: columnLabel(chart.x) } },
      yaxis: { title: { text: columnLabel(chart.y) }, type: chart.logY ? 'log' : 'linear' },
      showlegend: data.length > 1
    }
  };
}

/** Parallel coordinates of some columns over the runs, coloured by the last one. */
export function parallelFigure(chart: IChart, runs: IWsRun[]): IFigure {
  const columns = chart.dims.map(id => ({ id, column: parseColumnId(id) })).filter(d => d.column !== null);
  const rows = runs.filter(run => columns.every(d => d.column && numericValue(run, d.column) !== null));
  const dimensions = columns.map(d => ({
    label: columnLabel(d.id),
    values: rows.map(run => numericValue(run, d.column as NonNullable<typeof d.column>))
  }));
  const colour = dimensions.length ? dimensions[dimensions.length - 1].values : [];
  return {
    data: dimensions.length
      ? [
          {
            type: 'parcoords',
            dimensions,
            line: { color: colour, colorscale: 'Viridis', showscale: false }
          }
        ]
      : [],
    layout: { margin: { l: 60, r: 60, t: 40, b: 20 } }
  };
}

/** The last value of a metric per run, or per group the mean with its std as error bars. */
export function barFigure(chart: IChart, runs: IWsRun[], grouping: IGrouping): IFigure {
  const column = { kind: 'metric' as const, key: chart.metric, agg: 'last' as const };
  const valued = runs
    .map(run => ({ run, value: numericValue(run, column) }))
    .filter((r): r is { run: IWsRun; value: number } => r.value !== null);
  let data: unknown[];
  if (grouping.groupBy) {
    const spec = grouping.groupBy;
    const groups = [...groupBy(valued, r => groupKey(r.run, spec))];
    const means = groups.map(([, m]) => m.reduce((a, r) => a + r.value, 0) / m.length);
    const stds = groups.map(([, m], i) =>
      m.length < 2 ? 0 : Math.sqrt(m.reduce((a, r) => a + (r.value - means[i]) ** 2, 0) / (m.length - 1))
    );
    data = [
      {
        type: 'bar',
        x: groups.map(([name]) => escapePlotly(`${spec.key}=${name}`)),
        y: means,
        error_y: { type: 'data', array: stds, visible: true },
        marker: { color: PALETTE[0] },
        name: escapePlotly(chart.metric)
      }
    ];
  } else {
    data = [
      {
        type: 'bar',
        // distinct categories even when names repeat; the name is the tick text
        x: valued.map(r => r.run.run_id),
        y: valued.map(r => r.value),
        marker: { color: PALETTE[0] },
        name: escapePlotly(chart.metric)
      }
    ];
  }
  const layout: Record<string, unknown> = {
    yaxis: { title: { text: escapePlotly(chart.metric) }, type: chart.logY ? 'log' : 'linear' },
    showlegend: false
  };
  if (!grouping.groupBy) {
    layout.xaxis = {
      type: 'category',
      tickmode: 'array',
      tickvals: valued.map(r => r.run.run_id),
      ticktext: valued.map(r => runLabel(r.run))
    };
  }
  return { data, layout };
}
