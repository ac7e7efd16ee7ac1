/**
 * The runs table's cells, sorting and the filter box's completion of keys (pure helpers).
 */
import { finite, formatValue, IRun, JsonNumber } from '../tokens';
import { IColumn } from './viewState';

/** A run as the workspace lists it: with each metric's min and max (`runs?extremes=1`). */
export interface IWsRun extends IRun {
  metric_min?: Record<string, JsonNumber | null>;
  metric_max?: Record<string, JsonNumber | null>;
}

/** The raw value of a cell: a number, text, or undefined when the run has none. */
export function cellValue(run: IWsRun, column: IColumn): number | string | undefined {
  switch (column.kind) {
    case 'attr':
      switch (column.key) {
        case 'run_name':
          return run.run_name;
        case 'status':
          return run.status;
        case 'start_time':
          return run.start_time;
        case 'duration':
          return run.end_time ? run.end_time - run.start_time : undefined;
        case 'user_id':
          return run.user_id;
        default:
          return run.run_id;
      }
    case 'param':
      return run.params[column.key];
    case 'tag':
      return run.tags[column.key];
    case 'metric': {
      const source =
        column.agg === 'min' ? run.metric_min : column.agg === 'max' ? run.metric_max : run.metrics;
      const value = source?.[column.key];
      return value === null || value === undefined ? undefined : value;
    }
  }
}

/** A cell's value as a number when it is one (params that parse as numbers too). */
export function numericValue(run: IWsRun, column: IColumn): number | null {
  const value = cellValue(run, column);
  if (typeof value === 'number') {
    return Number.isFinite(value) ? value : null;
  }
  if (value === undefined || value.trim() === '') {
    return null;
  }
  if (column.kind === 'metric') {
    return finite(value as JsonNumber);
  }
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

/** A cell's text (always shown as text, never as HTML). */
export function cellText(run: IWsRun, column: IColumn): string {
  const value = cellValue(run, column);
  if (value === undefined) {
    return '';
  }
  if (column.kind === 'attr' && column.key === 'start_time' && typeof value === 'number') {
    return new Date(value).toLocaleString();
  }
  if (column.kind === 'attr' && column.key === 'duration' && typeof value === 'number') {
    return formatDuration(value);
  }
  return formatValue(value as JsonNumber | string);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) {
    return `${ms} ms`;
  }
  const s = ms / 1000;
  if (s < 60) {
    return `${s.toFixed(1)} s`;
  }
  if (s < 3600) {
    return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  }
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

/**
 * Runs sorted by a column (a copy): numbers numerically, then text; runs without a value last
 * whichever the direction.
 */
export function sortRuns(runs: IWsRun[], column: IColumn | null, descending: boolean): IWsRun[] {
  if (!column) {
    return runs;
  }
  const keyed = runs.map(run => {
    const n = numericValue(run, column);
    const raw = cellValue(run, column);
    return { run, n, s: n === null && raw !== undefined ? String(raw) : null };
  });
  const sign = descending ? -1 : 1;
  keyed.sort((a, b) => {
    const aMissing = a.n === null && a.s === null;
    const bMissing = b.n === null && b.s === null;
    if (aMissing || bMissing) {
      return aMissing === bMissing ? 0 : aMissing ? 1 : -1;
    }
    if (a.n !== null && b.n !== null) {
      return sign * (a.n - b.n);
    }
    if (a.n !== null) {
      return -1;
    }
    if (b.n !== null) {
      return 1;
    }
    return sign * (a.s as string).localeCompare(b.s as string);
  });
  return keyed.map(k => k.run);
}

const SERVER_ATTRIBUTES = new Set(['run_name', 'status', 'start_time', 'duration', 'user_id', 'run_id']);

/**
 * The server's order-by clause for a column (MLflow's grammar, missing values last), or null
 * when the server cannot order by it: a metric's min or max, or a key with both a backtick and
 * a double quote in it.
 */
export function serverOrderBy(column: IColumn | null, descending: boolean): string | null {
  if (!column) {
    return null;
  }
  const direction = descending ? ' DESC' : ' ASC';
  if (column.kind === 'attr') {
    return SERVER_ATTRIBUTES.has(column.key) ? `attributes.${column.key}${direction}` : null;
  }
  if (column.kind === 'metric' && (column.agg ?? 'last') !== 'last') {
    return null;
  }
  const prefix = column.kind === 'metric' ? 'metrics' : column.kind === 'param' ? 'params' : 'tags';
  const key = column.key;
  if (!key.includes('`')) {
    return `${prefix}.\`${key}\`${direction}`;
  }
  return key.includes('"') ? null : `${prefix}."${key}"${direction}`;
}

/** How the table is ordered: by the browser over the runs loaded, or by the server. */
export interface ITableOrder {
  /** The order-by clause the runs are loaded with (null: the server's default, newest first). */
  orderBy: string | null;
  /** Whether the browser sorts the loaded runs. */
  sortLoaded: boolean;
  /** What the user should know about the order, or null. */
  note: string | null;
}

/**
 * The table's order. When every matching run is loaded (`total <= loadable`), the browser sorts
 * them. When there are more, a sort the server can do is done there, so the runs loaded are the
 * first of all of them in that order; one it cannot do (a metric's min or max) sorts only the
 * runs loaded, and the note says so.
 *
 * @param total - the runs matching the filter (as last counted).
 * @param loadable - the most runs the workspace loads.
 * @param column - the sort column, or null.
 * @param descending - the direction.
 */
export function tableOrder(
  total: number,
  loadable: number,
  column: IColumn | null,
  descending: boolean
): ITableOrder {
  if (total <= loadable || !column) {
    return { orderBy: null, sortLoaded: true, note: null };
  }
  const orderBy = serverOrderBy(column, descending);
  if (orderBy) {
    return { orderBy, sortLoaded: false, note: null };
  }
  return {
    orderBy: null,
    sortLoaded: true,
    note:
      `Sorted among the ${loadable.toLocaleString('en-US')} runs loaded, not all ` +
      `${total.toLocaleString('en-US')}: the server sorts by a metric's last value, not its min or max. ` +
      'Narrow the filter to sort every run.'
  };
}

/** Everything a filter may name: attributes, then `params.`, `metrics.` and `tags.` keys. */
export function filterKeys(params: string[], metrics: string[], tags: string[]): string[] {
  // A key is written bare when the grammar reads it as one word, else in backticks.
  const quote = (k: string): string => (/^[^\s'"`(),=<>!]+$/.test(k) ? k : `\`${k.replace(/`/g, '')}\``);
  return [
    'attributes.run_name',
    'attributes.status',
    'attributes.start_time',
    'attributes.end_time',
    'attributes.user_id',
    'attributes.run_id',
    ...params.map(k => `params.${quote(k)}`),
    ...metrics.map(k => `metrics.${quote(k)}`),
    ...tags.map(k => `tags.${quote(k)}`)
  ];
}

/**
 * The completions of the word before the cursor in a filter: `[start, end, choices]`, where
 * `start..end` is the word to replace; no choices when the word is empty or inside quotes.
 */
export function completions(
  text: string,
  cursor: number,
  keys: string[],
  max = 12
): { start: number; end: number; choices: string[] } {
  let start = cursor;
  while (start > 0 && /[A-Za-z0-9_.`-]/.test(text[start - 1])) {
    start -= 1;
  }
  const quotes = (text.slice(0, start).match(/'/g) ?? []).length;
  const word = text.slice(start, cursor).toLowerCase();
  if (!word || quotes % 2 === 1) {
    return { start, end: cursor, choices: [] };
  }
  const prefix = keys.filter(k => k.toLowerCase().startsWith(word));
  const inside = keys.filter(k => !k.toLowerCase().startsWith(word) && k.toLowerCase().includes(word));
  const choices = [...prefix, ...inside].filter(k => k.toLowerCase() !== word).slice(0, max);
  return { start, end: cursor, choices };
}
