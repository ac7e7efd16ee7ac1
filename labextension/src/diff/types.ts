/**
 * The JSON of `GET runs/<a>/diff/<b>` (mlnb/server/run_diff.py documents it). "a" is the run
 * compared against, "b" the other: *added* means in b only, *removed* in a only, deltas are b - a.
 */
import { JsonNumber } from '../tokens';

/** Who a compared run is. */
export interface IDiffRun {
  run_id: string;
  run_name: string;
  experiment_id: string;
  experiment_name: string;
  status: string;
  start_time: number | null;
  end_time: number | null;
}

/** Two `{key: value}` mappings compared (params, user tags, system tags, packages). */
export interface IMappingDiff {
  added: Record<string, string>;
  removed: Record<string, string>;
  changed: Record<string, { a: string; b: string }>;
  unchanged: Record<string, string>;
}

export type Stat = 'last' | 'min' | 'max';
export const STATS: readonly Stat[] = ['last', 'min', 'max'];

/** One run's summary of a metric (min and max null when every value is NaN). */
export interface IMetricStats {
  last: JsonNumber;
  min: JsonNumber | null;
  max: JsonNumber | null;
  points: number;
}

export type MetricStatus = 'added' | 'removed' | 'changed' | 'same';

export interface IMetricDiff {
  key: string;
  status: MetricStatus;
  /** A `system/...` metric (CPU, memory) rather than one the user logged. */
  system: boolean;
  a: IMetricStats | null;
  b: IMetricStats | null;
  delta: Record<Stat, JsonNumber | null>;
  relative: Record<Stat, JsonNumber | null>;
}

/** The cell that made a run. */
export interface ICell {
  source: string;
  sha256: string | null;
  cell_id: string | null;
  execution_count: number | null;
  truncated: boolean;
  origin: string;
}

export interface ISourceDiff {
  a: ICell | null;
  b: ICell | null;
  /** A unified diff of a's source to b's ("" when equal or either is missing). */
  unified: string;
  identical: boolean | null;
}

/** One cell executed in a run's kernel before the run. */
export interface IHistoryEntry {
  execution_count: number | null;
  cell_id: string | null;
  sha256: string;
  /** The source when it could be recovered (the notebook, the run's own cell), else null. */
  source: string | null;
}

export type HistoryStatus = 'same' | 'edited' | 'only_a' | 'only_b';

export interface IHistoryRow {
  a: IHistoryEntry | null;
  b: IHistoryEntry | null;
  status: HistoryStatus;
  /** For a one-sided line: whether that cell ran at another place in the other run. */
  elsewhere: 'same' | 'edited' | null;
}

export interface IHistoryDiff {
  rows: IHistoryRow[];
  recorded_a: boolean;
  recorded_b: boolean;
  identical: boolean;
}

export interface IEnvironment {
  packages: Record<string, string>;
  python: string | null;
  sources: string[];
  truncated: boolean;
}

export interface IEnvironmentDiff {
  a: IEnvironment;
  b: IEnvironment;
  added: Record<string, string>;
  removed: Record<string, string>;
  changed: Record<string, { a: string; b: string }>;
  unchanged: number;
  /** Whether both runs recorded their packages (else nothing was compared). */
  compared: boolean;
}

/** The whole answer. */
export interface IRunDiff {
  a: IDiffRun;
  b: IDiffRun;
  params: IMappingDiff;
  tags: IMappingDiff;
  system_tags: IMappingDiff;
  metrics: IMetricDiff[];
  cell: ISourceDiff;
  history: IHistoryDiff;
  environment: IEnvironmentDiff;
  notes: string[];
}
