/**
 * Types of mlnb's REST API under /mlnb/api/ (see mlnb/server/).
 * Floats may arrive as the strings "NaN", "Infinity" or "-Infinity" (strict JSON).
 */

export const API_VERSION = 1;

export type JsonNumber = number | 'NaN' | 'Infinity' | '-Infinity';

export interface IVersion {
  mlnb_version: string;
  api_version: number;
  /** The store's URI, any password masked. */
  store: string;
  store_kind?: 'sqlite' | 'postgresql';
  /** Whether the server's user may change the store (false for a PostgreSQL reader role). */
  can_write?: boolean;
  /** Why it may not (shown on every write action, which is disabled), or null. */
  read_only_reason?: string | null;
  db_role?: string | null;
}

export interface IExperiment {
  experiment_id: string;
  name: string;
  lifecycle_stage: string;
  tags: Record<string, string>;
  creation_time: number | null;
  last_update_time: number | null;
}

export interface IRun {
  run_id: string;
  run_name: string;
  experiment_id: string;
  status: string;
  start_time: number;
  end_time: number | null;
  lifecycle_stage: string;
  user_id: string;
  metrics: Record<string, JsonNumber>;
  params: Record<string, string>;
  tags: Record<string, string>;
}

export interface IRunDetail extends IRun {
  experiment_name: string;
  children: string[];
  notebook_path: string | null;
}

export interface IRunPage {
  runs: IRun[];
  total: number;
  limit: number;
  offset: number;
  metric_keys: string[];
  param_keys: string[];
}

export interface IMetricPoint {
  step: number;
  value: JsonNumber;
  timestamp: number;
}

export interface IFileInfo {
  path: string;
  is_dir: boolean;
  file_size: number | null;
  sha256: string | null;
}

export interface IModelVersion {
  name: string;
  version: string | number;
  current_stage: string;
  run_id?: string | null;
  source?: string;
  status?: string;
  description?: string | null;
  aliases?: string[];
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  [key: string]: unknown;
}

export interface IRegisteredModel {
  name: string;
  description?: string | null;
  latest_versions?: IModelVersion[];
  aliases?: Record<string, string | number> | Array<{ alias: string; version: string }>;
  tags?: Record<string, string>;
  [key: string]: unknown;
}

export type RunView = 'active' | 'deleted' | 'all';

export interface IRunQuery {
  /** '' for every experiment */
  experimentId: string;
  filter: string;
  orderBy: string;
  view: RunView;
  limit: number;
}

/** One JSON error shape from the server. */
export interface IApiErrorBody {
  error_code?: string;
  message?: string;
  reason?: string;
}

export const STAGES = ['None', 'Staging', 'Production', 'Archived'];

/** A finite number for charts, or null for NaN/inf/missing (charts draw a gap). */
export function finite(value: JsonNumber | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** A metric as text: numbers shortened, "NaN"/"Infinity" as is. */
export function formatValue(value: JsonNumber | string | undefined): string {
  if (value === undefined) {
    return '';
  }
  if (typeof value === 'number') {
    return Number.isInteger(value) ? String(value) : value.toPrecision(4);
  }
  return String(value);
}

/** One threshold of a model's registry gate, measured on a version's attached evaluation. */
export interface IGateResult {
  metric: string;
  min: number | null;
  max: number | null;
  value: number | null;
  passed: boolean;
}

/** Whether a version may move to a stage or alias under its model's gate, and why not. */
export interface IGateCheck {
  target: string;
  applies: boolean;
  passed: boolean;
  evaluation_run_id: string | null;
  reason: string;
  results: IGateResult[];
}

/** `GET models/<name>/versions/<v>/evaluation`. */
export interface IVersionEvaluation {
  name: string;
  version: string;
  evaluation_run_id: string | null;
  metrics: Record<string, number | null> | null;
  gate: { thresholds: Record<string, { min?: number; max?: number }>; applies_to: string[] } | null;
  checks: IGateCheck[];
}

/** One column of a window's drift report. */
export interface IDriftColumn {
  column: string;
  /** 'feature', 'prediction' or 'target'. */
  role?: string;
  column_type: string;
  method: string;
  statistic: number | null;
  threshold: number;
  verdict: string;
  drifted: boolean;
  current_missing_share: number;
}

/** One `mlnb monitor` run of a model: drift share per window and the newest window's report. */
export interface IMonitoringRun {
  run_id: string;
  model_uri: string | null;
  reference: string | null;
  window_ms: number;
  points: Array<{ step: number; timestamp: number; value: number | null }>;
  /** Per window that tested them: did the model's predictions (the targets) drift. */
  prediction_points?: IOutputDriftPoint[];
  target_points?: IOutputDriftPoint[];
  latest: {
    index: number;
    start_ms: number;
    end_ms: number;
    rows: number;
    model_metrics: Record<string, number>;
    report: IDriftReport;
    prediction_report?: IDriftReport | null;
    target_report?: IDriftReport | null;
    /** Why prediction or target drift was not tested. */
    notes?: string[];
  } | null;
}

export interface IDriftReport {
  share_drifted: number;
  dataset_drift: boolean;
  columns: IDriftColumn[];
}

export interface IOutputDriftPoint {
  step: number;
  timestamp: number;
  drifted: boolean;
  statistic: number | null;
}

/** MLflow 3's logged model (a model with an id of its own; with or without a run). */
export interface ILoggedModel {
  model_id: string;
  experiment_id: string;
  name: string;
  source_run_id: string | null;
  artifact_path: string | null;
  status: string;
  model_type: string | null;
  creation_timestamp: number;
  last_updated_timestamp: number;
  params: Record<string, string>;
  tags: Record<string, string>;
  /** The latest metrics of its run (none for a model without a run). */
  metrics: Record<string, JsonNumber>;
  model_uri: string;
}

export interface ILoggedModelDetail {
  model: ILoggedModel;
  files: IFileInfo[];
  versions: IModelVersion[];
}

export interface ISweepTrial {
  number: number;
  run_id: string;
  run_name: string;
  state: string;
  value: number | null;
  params: Record<string, string>;
}

/** A parent run's children as a sweep (what `mlnb.show_sweep` shows in a notebook). */
export interface ISweep {
  parent: { run_id: string; run_name: string };
  metric: string;
  direction: 'minimize' | 'maximize';
  direction_guessed: boolean;
  optuna: boolean;
  params: string[];
  trials: ISweepTrial[];
  truncated: boolean;
  best_so_far: Array<{ number: number; value: number }>;
  importances: Array<{ param: string; importance: number | null }>;
  importance_method: string;
  best: (ISweepTrial & { model_uri: string | null }) | null;
}
