/**
 * The run diff's view state as pure functions (no React, no DOM): key/value rows, metric rows
 * and their sorting, a unified diff's lines classified and paired side by side, and the kernel
 * histories with long stretches of identical cells folded.
 */
import { formatValue, JsonNumber } from '../tokens';
import { HistoryStatus, IHistoryRow, IMappingDiff, IMetricDiff, MetricStatus, Stat } from './types';

// --- keys and values ------------------------------------------------------------------------------

export type RowStatus = 'added' | 'removed' | 'changed' | 'same';

/** One key of two compared mappings: a's value and b's (null where that side has none). */
export interface IKeyRow {
  key: string;
  status: RowStatus;
  a: string | null;
  b: string | null;
}

const STATUS_ORDER: Record<RowStatus, number> = { changed: 0, added: 1, removed: 2, same: 3 };

/**
 * The rows of a mapping diff: changed, then added, then removed, then (when asked) unchanged;
 * by key within each.
 *
 * @param diff - the comparison from the server.
 * @param withUnchanged - whether to list the keys that are the same in both runs.
 */
export function keyRows(diff: IMappingDiff, withUnchanged: boolean): IKeyRow[] {
  const rows: IKeyRow[] = [
    ...Object.entries(diff.changed).map(([key, v]) => ({ key, status: 'changed' as const, a: v.a, b: v.b })),
    ...Object.entries(diff.added).map(([key, b]) => ({ key, status: 'added' as const, a: null, b })),
    ...Object.entries(diff.removed).map(([key, a]) => ({ key, status: 'removed' as const, a, b: null }))
  ];
  if (withUnchanged) {
    rows.push(
      ...Object.entries(diff.unchanged).map(([key, v]) => ({ key, status: 'same' as const, a: v, b: v }))
    );
  }
  return rows.sort((x, y) => STATUS_ORDER[x.status] - STATUS_ORDER[y.status] || compareText(x.key, y.key));
}

/** How many keys differ (added, removed or changed). */
export function differCount(diff: IMappingDiff): number {
  return Object.keys(diff.added).length + Object.keys(diff.removed).length + Object.keys(diff.changed).length;
}

function compareText(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}

// --- metrics --------------------------------------------------------------------------------------

export type MetricColumn = 'key' | 'status' | 'a' | 'b' | 'delta' | 'relative';
export type SortDirection = 'asc' | 'desc';

export interface IMetricSort {
  column: MetricColumn;
  direction: SortDirection;
}

/** One metric at one statistic (last, min or max), ready to show and sort. */
export interface IMetricRow {
  key: string;
  status: MetricStatus;
  system: boolean;
  a: JsonNumber | null;
  b: JsonNumber | null;
  delta: JsonNumber | null;
  relative: JsonNumber | null;
  pointsA: number | null;
  pointsB: number | null;
}

/**
 * The metrics at one statistic.
 *
 * @param metrics - the server's metric comparisons.
 * @param stat - which value of each series: last, min or max.
 * @param options - `system`: keep `system/...` metrics; `unchanged`: keep metrics equal in both.
 */
export function metricRows(
  metrics: IMetricDiff[],
  stat: Stat,
  options: { system: boolean; unchanged: boolean }
): IMetricRow[] {
  return metrics
    .filter(m => (options.system || !m.system) && (options.unchanged || m.status !== 'same'))
    .map(m => ({
      key: m.key,
      status: m.status,
      system: m.system,
      a: m.a ? m.a[stat] : null,
      b: m.b ? m.b[stat] : null,
      delta: m.delta[stat],
      relative: m.relative[stat],
      pointsA: m.a ? m.a.points : null,
      pointsB: m.b ? m.b.points : null
    }));
}

/** A JSON number as a number for sorting: null for a missing value or NaN. */
export function sortableNumber(value: JsonNumber | null): number | null {
  if (value === null || value === 'NaN') {
    return null;
  }
  if (value === 'Infinity') {
    return Infinity;
  }
  if (value === '-Infinity') {
    return -Infinity;
  }
  return Number.isNaN(value) ? null : value;
}

/**
 * The rows sorted by one column (a copy). Rows without a number in that column (a metric only
 * one run has, NaN) go last in both directions; ties keep the order by key.
 *
 * @param rows - the rows to sort.
 * @param sort - the column and direction.
 */
export function sortMetricRows(rows: IMetricRow[], sort: IMetricSort): IMetricRow[] {
  const sign = sort.direction === 'asc' ? 1 : -1;
  const byKey = (x: IMetricRow, y: IMetricRow): number => compareText(x.key, y.key);
  return [...rows].sort((x, y) => {
    if (sort.column === 'key') {
      return sign * byKey(x, y);
    }
    if (sort.column === 'status') {
      return sign * compareText(x.status, y.status) || byKey(x, y);
    }
    const vx = sortableNumber(x[sort.column]);
    const vy = sortableNumber(y[sort.column]);
    if (vx === null || vy === null) {
      return (vx === null ? 1 : 0) - (vy === null ? 1 : 0) || byKey(x, y);
    }
    return sign * (vx - vy) || byKey(x, y);
  });
}

/** The sort after a click on a column's header: the same column flips, another starts. */
export function nextSort(current: IMetricSort, column: MetricColumn): IMetricSort {
  if (current.column === column) {
    return { column, direction: current.direction === 'asc' ? 'desc' : 'asc' };
  }
  return { column, direction: column === 'key' || column === 'status' ? 'asc' : 'desc' };
}

/** A delta with its sign ("+0.25", "-3", "" when there is none). */
export function formatDelta(value: JsonNumber | null): string {
  if (value === null) {
    return '';
  }
  const text = formatValue(value);
  return typeof value === 'number' && value > 0 ? `+${text}` : text;
}

/** A relative change as a signed percentage ("+12.5%"; "" when there is none). */
export function formatRelative(value: JsonNumber | null): string {
  if (value === null) {
    return '';
  }
  if (typeof value !== 'number') {
    return String(value);
  }
  const percent = value * 100;
  const text = Math.abs(percent) >= 100 ? percent.toFixed(0) : percent.toPrecision(3);
  return `${percent > 0 ? '+' : ''}${text}%`;
}

// --- the cell's source ----------------------------------------------------------------------------

export type LineKind = 'file' | 'hunk' | 'add' | 'del' | 'context' | 'note';

/** One line of a unified diff, with its line numbers in a's and b's source. */
export interface IDiffLine {
  kind: LineKind;
  /** The line without its one-character prefix (the whole line for file, hunk and note). */
  text: string;
  oldNo: number | null;
  newNo: number | null;
}

const HUNK = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/;

/**
 * Classify the lines of a unified diff (Python's difflib format: `---`/`+++` headers, `@@`
 * hunks, then `+`, `-` and ` ` lines) and number them.
 *
 * @param unified - the diff's text.
 */
export function parseUnified(unified: string): IDiffLine[] {
  const lines = unified.split('\n');
  if (lines.length && lines[lines.length - 1] === '') {
    lines.pop();
  }
  const out: IDiffLine[] = [];
  let oldNo = 0;
  let newNo = 0;
  let inHunk = false;
  for (const line of lines) {
    const hunk = HUNK.exec(line);
    if (hunk) {
      oldNo = Number(hunk[1]);
      newNo = Number(hunk[2]);
      inHunk = true;
      out.push({ kind: 'hunk', text: line, oldNo: null, newNo: null });
    } else if (!inHunk && (line.startsWith('--- ') || line.startsWith('+++ '))) {
      out.push({ kind: 'file', text: line, oldNo: null, newNo: null });
    } else if (line.startsWith('\\')) {
      out.push({ kind: 'note', text: line, oldNo: null, newNo: null });
    } else if (line.startsWith('+')) {
      out.push({ kind: 'add', text: line.slice(1), oldNo: null, newNo: newNo++ });
    } else if (line.startsWith('-')) {
      out.push({ kind: 'del', text: line.slice(1), oldNo: oldNo++, newNo: null });
    } else {
      out.push({ kind: 'context', text: line.slice(1), oldNo: oldNo++, newNo: newNo++ });
    }
  }
  return out;
}

/** One row of the side-by-side view: a hunk header across, or a's line beside b's. */
export type SideRow =
  { kind: 'hunk'; text: string } | { kind: 'pair'; left: IDiffLine | null; right: IDiffLine | null };

/**
 * Pair a unified diff's lines side by side: a block of removed lines faces the added lines
 * that follow it (line by line, the longer block's rest beside nothing); context lines face
 * themselves. File headers are left out (the tab names the runs).
 *
 * @param lines - the classified lines of {@link parseUnified}.
 */
export function sideBySide(lines: IDiffLine[]): SideRow[] {
  const rows: SideRow[] = [];
  let dels: IDiffLine[] = [];
  let adds: IDiffLine[] = [];
  const flush = (): void => {
    for (let i = 0; i < Math.max(dels.length, adds.length); i++) {
      rows.push({ kind: 'pair', left: dels[i] ?? null, right: adds[i] ?? null });
    }
    dels = [];
    adds = [];
  };
  for (const line of lines) {
    if (line.kind === 'del') {
      if (adds.length) {
        flush();
      }
      dels.push(line);
    } else if (line.kind === 'add') {
      adds.push(line);
    } else {
      flush();
      if (line.kind === 'hunk') {
        rows.push({ kind: 'hunk', text: line.text });
      } else if (line.kind === 'context') {
        rows.push({ kind: 'pair', left: line, right: line });
      }
    }
  }
  flush();
  return rows;
}

// --- the kernel histories -------------------------------------------------------------------------

/** A history line shown, or a fold standing for `rows` (identical in both runs). */
export type HistoryItem =
  { kind: 'row'; index: number; row: IHistoryRow } | { kind: 'fold'; start: number; rows: IHistoryRow[] };

/** Stretches of identical cells longer than this are folded ... */
export const FOLD_MIN = 6;
/** ... keeping this many lines next to each difference. */
export const FOLD_CONTEXT = 2;

/**
 * The history lines with each long stretch of `same` lines folded, keeping `context` lines
 * beside the differences around it (none at the very start or end).
 *
 * @param rows - the aligned history.
 * @param expanded - the start indices of folds the user opened (shown as lines).
 * @param context - lines kept beside a difference.
 * @param minFold - the fewest lines a fold hides.
 */
export function foldHistory(
  rows: IHistoryRow[],
  expanded: ReadonlySet<number> = new Set(),
  context = FOLD_CONTEXT,
  minFold = FOLD_MIN
): HistoryItem[] {
  const items: HistoryItem[] = [];
  let i = 0;
  while (i < rows.length) {
    if (rows[i].status !== 'same') {
      items.push({ kind: 'row', index: i, row: rows[i] });
      i++;
      continue;
    }
    let j = i;
    while (j < rows.length && rows[j].status === 'same') {
      j++;
    }
    const head = i === 0 ? 0 : context;
    const tail = j === rows.length ? 0 : context;
    const start = i + head;
    const end = j - tail;
    const fold = end - start >= minFold && !expanded.has(start);
    for (let k = i; k < j; k++) {
      if (fold && k === start) {
        items.push({ kind: 'fold', start, rows: rows.slice(start, end) });
        k = end - 1;
      } else {
        items.push({ kind: 'row', index: k, row: rows[k] });
      }
    }
    i = j;
  }
  return items;
}

/** What a history line's status reads as. */
export function historyLabel(row: IHistoryRow): string {
  const labels: Record<HistoryStatus, string> = {
    same: 'same',
    edited: 'edited',
    only_a: 'only in a',
    only_b: 'only in b'
  };
  const elsewhere =
    row.elsewhere === 'same'
      ? ' (ran elsewhere in the other)'
      : row.elsewhere === 'edited'
        ? ' (ran edited elsewhere in the other)'
        : '';
  return labels[row.status] + elsewhere;
}

// --- choosing the runs ----------------------------------------------------------------------------

/** Why the Diff button is disabled for this many selected runs, or null when it is enabled. */
export function diffDisabledReason(selected: number): string | null {
  if (selected === 2) {
    return null;
  }
  if (selected < 2) {
    return selected === 0 ? 'Select two runs to diff them' : 'Select one more run to diff';
  }
  return `A diff compares exactly two runs (${selected} are selected)`;
}

/**
 * The two runs of a diff in order: the one started first is "a" (compared against).
 *
 * @param runs - exactly two runs.
 */
export function orderPair<T extends { run_id: string; start_time: number | null }>(
  runs: readonly T[]
): [T, T] {
  if (runs.length !== 2) {
    throw new Error(diffDisabledReason(runs.length) ?? 'Select two runs');
  }
  const [x, y] = runs;
  return (x.start_time ?? 0) <= (y.start_time ?? 0) ? [x, y] : [y, x];
}

/**
 * The two run ids of a command call: both of `runA` and `runB`, else the sidebar's two
 * selected runs (the earlier started is a).
 *
 * @param args - the command's arguments.
 * @param selected - the runs selected in the sidebar.
 * @throws {Error} naming what is missing.
 */
export function diffArgs(
  args: Record<string, unknown>,
  selected: ReadonlyArray<{ run_id: string; start_time: number | null }>
): [string, string] {
  const { runA, runB } = args;
  if (runA !== undefined || runB !== undefined) {
    if (typeof runA !== 'string' || !runA || typeof runB !== 'string' || !runB) {
      throw new Error('mlnb:diff-runs takes two run ids: {runA, runB}.');
    }
    return [runA, runB];
  }
  const reason = diffDisabledReason(selected.length);
  if (reason) {
    throw new Error(`${reason} in the Experiments sidebar.`);
  }
  const [a, b] = orderPair(selected);
  return [a.run_id, b.run_id];
}
