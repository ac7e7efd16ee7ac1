/**
 * The Experiments workspace's state: which columns (and in what order and width), the filter,
 * the sort, the grouping and the charts. It is what a saved view stores (as JSON, on the server)
 * and what is kept per experiment in the browser's localStorage.
 *
 * `parseViewState` reads any JSON value: fields it does not know are dropped, bad ones replaced
 * by defaults, numbers clamped, so a view saved by another version (or edited by hand) opens.
 */

export type ColumnKind = 'attr' | 'param' | 'tag' | 'metric';
export type MetricAgg = 'last' | 'min' | 'max';
export type Center = 'mean' | 'median';
export type Band = 'none' | 'std' | 'minmax' | 'ci95';
export type ChartType = 'line' | 'scatter' | 'parallel' | 'bar';
export type XAxis = 'step' | 'wall' | 'relative';

export const ATTRIBUTES = ['run_name', 'status', 'start_time', 'duration', 'user_id', 'run_id'] as const;
export const METRIC_AGGS: MetricAgg[] = ['last', 'min', 'max'];
export const CENTERS: Center[] = ['mean', 'median'];
export const BANDS: Band[] = ['std', 'minmax', 'ci95', 'none'];
export const CHART_TYPES: ChartType[] = ['line', 'scatter', 'parallel', 'bar'];
export const X_AXES: XAxis[] = ['step', 'wall', 'relative'];
export const MIN_WIDTH = 40;
export const MAX_WIDTH = 800;
export const DEFAULT_WIDTH = 120;
export const MAX_COLUMNS = 200;
export const MAX_CHARTS = 50;

/** One column of the runs table: a run attribute, a param, a tag, or a metric's last/min/max. */
export interface IColumn {
  kind: ColumnKind;
  key: string;
  /** For metrics only. */
  agg?: MetricAgg;
}

export interface ISort {
  /** A column id (see `columnId`). */
  column: string;
  descending: boolean;
}

export interface IGroupBy {
  kind: 'param' | 'tag';
  key: string;
}

export interface IChart {
  id: string;
  type: ChartType;
  /** line and bar: the metric's key. */
  metric: string;
  /** scatter: the x and y column ids; parallel: its dimensions' column ids. */
  x: string;
  y: string;
  dims: string[];
  /** Grid columns it spans (1 to 3) and its height in pixels. */
  span: number;
  height: number;
  /** EMA weight, 0 (none) to 0.99. */
  smoothing: number;
  logY: boolean;
  xAxis: XAxis;
}

export interface IViewState {
  version: 1;
  columns: IColumn[];
  /** Column id -> width in pixels. */
  widths: Record<string, number>;
  filter: string;
  sort: ISort | null;
  groupBy: IGroupBy | null;
  center: Center;
  band: Band;
  charts: IChart[];
}

/** The id of a column: `attr:run_name`, `param:lr`, `tag:team`, `metric:loss:min`. */
export function columnId(column: IColumn): string {
  return column.kind === 'metric'
    ? `metric:${column.agg ?? 'last'}:${column.key}`
    : `${column.kind}:${column.key}`;
}

/** The column a column id names, or null for a malformed id. */
export function parseColumnId(id: string): IColumn | null {
  const colon = id.indexOf(':');
  if (colon < 0) {
    return null;
  }
  const kind = id.slice(0, colon);
  const rest = id.slice(colon + 1);
  if (kind === 'metric') {
    const second = rest.indexOf(':');
    const agg = rest.slice(0, second) as MetricAgg;
    if (second < 0 || !METRIC_AGGS.includes(agg) || !rest.slice(second + 1)) {
      return null;
    }
    return { kind: 'metric', key: rest.slice(second + 1), agg };
  }
  if ((kind === 'param' || kind === 'tag' || kind === 'attr') && rest) {
    if (kind === 'attr' && !(ATTRIBUTES as readonly string[]).includes(rest)) {
      return null;
    }
    return { kind, key: rest };
  }
  return null;
}

/** A column's header text. */
export function columnTitle(column: IColumn): string {
  switch (column.kind) {
    case 'attr':
      return column.key === 'run_name' ? 'Run' : column.key.replace('_', ' ');
    case 'metric':
      return column.agg && column.agg !== 'last' ? `${column.key} (${column.agg})` : column.key;
    default:
      return column.key;
  }
}

export function defaultViewState(): IViewState {
  return {
    version: 1,
    columns: [
      { kind: 'attr', key: 'run_name' },
      { kind: 'attr', key: 'status' },
      { kind: 'attr', key: 'start_time' }
    ],
    widths: {},
    filter: '',
    sort: { column: 'attr:start_time', descending: true },
    groupBy: null,
    center: 'mean',
    band: 'std',
    charts: []
  };
}

let chartCounter = 0;

/** A new chart of a type with default settings. */
export function newChart(type: ChartType, fields: Partial<IChart> = {}): IChart {
  chartCounter += 1;
  return {
    id: `c${Date.now().toString(36)}${chartCounter}`,
    type,
    metric: '',
    x: '',
    y: '',
    dims: [],
    span: 1,
    height: 300,
    smoothing: 0,
    logY: false,
    xAxis: 'step',
    ...fields
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown, fallback = '', max = 10_000): string {
  return typeof value === 'string' ? value.slice(0, max) : fallback;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], fallback: T): T {
  return allowed.includes(value as T) ? (value as T) : fallback;
}

function clamp(value: unknown, low: number, high: number, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value)
    ? Math.min(high, Math.max(low, value))
    : fallback;
}

function parseColumn(value: unknown): IColumn | null {
  if (!isRecord(value)) {
    return null;
  }
  const kind = value.kind;
  const key = text(value.key, '', 1000);
  if (!key || (kind !== 'attr' && kind !== 'param' && kind !== 'tag' && kind !== 'metric')) {
    return null;
  }
  if (kind === 'attr' && !(ATTRIBUTES as readonly string[]).includes(key)) {
    return null;
  }
  return kind === 'metric' ? { kind, key, agg: oneOf(value.agg, METRIC_AGGS, 'last') } : { kind, key };
}

function parseChart(value: unknown, index: number): IChart | null {
  if (!isRecord(value)) {
    return null;
  }
  const type = oneOf<ChartType | ''>(value.type, CHART_TYPES, '');
  if (!type) {
    return null;
  }
  const dims = Array.isArray(value.dims)
    ? value.dims.filter((d): d is string => typeof d === 'string' && parseColumnId(d) !== null).slice(0, 30)
    : [];
  return {
    id: text(value.id, '', 100) || `c${index}`,
    type,
    metric: text(value.metric, '', 1000),
    x: parseColumnId(text(value.x)) ? text(value.x) : '',
    y: parseColumnId(text(value.y)) ? text(value.y) : '',
    dims,
    span: Math.round(clamp(value.span, 1, 3, 1)),
    height: Math.round(clamp(value.height, 150, 1200, 300)),
    smoothing: clamp(value.smoothing, 0, 0.99, 0),
    logY: value.logY === true,
    xAxis: oneOf(value.xAxis, X_AXES, 'step')
  };
}

/** A view state from any JSON value (unknown fields dropped, bad ones defaulted). */
export function parseViewState(value: unknown): IViewState {
  const state = defaultViewState();
  if (!isRecord(value)) {
    return state;
  }
  if (Array.isArray(value.columns)) {
    const seen = new Set<string>();
    state.columns = [];
    for (const raw of value.columns.slice(0, MAX_COLUMNS)) {
      const column = parseColumn(raw);
      if (column && !seen.has(columnId(column))) {
        seen.add(columnId(column));
        state.columns.push(column);
      }
    }
  }
  if (isRecord(value.widths)) {
    for (const [id, width] of Object.entries(value.widths)) {
      if (parseColumnId(id) && typeof width === 'number' && Number.isFinite(width)) {
        state.widths[id] = Math.round(clamp(width, MIN_WIDTH, MAX_WIDTH, DEFAULT_WIDTH));
      }
    }
  }
  state.filter = text(value.filter);
  if (value.sort === null) {
    state.sort = null;
  } else if (isRecord(value.sort) && parseColumnId(text(value.sort.column))) {
    state.sort = { column: text(value.sort.column), descending: value.sort.descending === true };
  }
  if (isRecord(value.groupBy)) {
    const kind = value.groupBy.kind;
    const key = text(value.groupBy.key, '', 1000);
    state.groupBy = (kind === 'param' || kind === 'tag') && key ? { kind, key } : null;
  }
  state.center = oneOf(value.center, CENTERS, 'mean');
  state.band = oneOf(value.band, BANDS, 'std');
  if (Array.isArray(value.charts)) {
    state.charts = value.charts
      .slice(0, MAX_CHARTS)
      .map((c, i) => parseChart(c, i))
      .filter((c): c is IChart => c !== null);
  }
  return state;
}

/** The state as JSON text (what a saved view and localStorage keep). */
export function serializeViewState(state: IViewState): string {
  return JSON.stringify(parseViewState(JSON.parse(JSON.stringify(state))));
}

const STORAGE_PREFIX = 'mlnb-workspace:';

/** The state kept in this browser for an experiment, or the default one. */
export function loadLocalState(experimentId: string, storage: Storage | null = safeStorage()): IViewState {
  try {
    const raw = storage?.getItem(STORAGE_PREFIX + experimentId);
    return raw ? parseViewState(JSON.parse(raw)) : defaultViewState();
  } catch {
    return defaultViewState();
  }
}

/** Keep an experiment's state in this browser (columns, widths, order, sort, filter, charts). */
export function saveLocalState(
  experimentId: string,
  state: IViewState,
  storage: Storage | null = safeStorage()
): void {
  try {
    storage?.setItem(STORAGE_PREFIX + experimentId, serializeViewState(state));
  } catch {
    // storage full or disabled: the state lives for this session only
  }
}

function safeStorage(): Storage | null {
  try {
    return typeof window !== 'undefined' ? window.localStorage : null;
  } catch {
    return null;
  }
}

/** Move the column with id `id` by `delta` places (clamped); the same array when it cannot move. */
export function moveColumn(columns: IColumn[], id: string, delta: number): IColumn[] {
  const from = columns.findIndex(c => columnId(c) === id);
  const to = Math.min(columns.length - 1, Math.max(0, from + delta));
  if (from < 0 || from === to) {
    return columns;
  }
  const next = [...columns];
  const [moved] = next.splice(from, 1);
  next.splice(to, 0, moved);
  return next;
}
