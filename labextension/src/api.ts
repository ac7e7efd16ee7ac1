/**
 * One typed function per REST endpoint of the mlnb server extension.
 *
 * All calls go through `ServerConnection.makeRequest`, which adds the token or XSRF header. Every
 * function takes the server settings as its last parameter; by default they are JupyterLab's,
 * made on first use (never at module load, so tests can pass their own).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import {
  IApiErrorBody,
  IExperiment,
  IFileInfo,
  ILoggedModel,
  ILoggedModelDetail,
  IMetricPoint,
  IModelVersion,
  IMonitoringRun,
  IRegisteredModel,
  IRunDetail,
  IRunPage,
  IRunQuery,
  ISweep,
  IVersion,
  IVersionEvaluation,
  JsonNumber
} from './tokens';
import { IRunDiff } from './diff/types';

/** An error from the API, with the server's message (shown to the user as text). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The text to show for an error of any kind. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Query parameters; a list repeats the key, and `undefined` or '' leaves the key out. */
export type QueryParams = Record<string, string | string[] | number | undefined>;

let defaultSettings: ServerConnection.ISettings | null = null;

/** JupyterLab's server settings, made on the first call. */
export function serverSettings(): ServerConnection.ISettings {
  defaultSettings ??= ServerConnection.makeSettings();
  return defaultSettings;
}

/** The URL of an endpoint under `<baseUrl>/mlnb/api/`. */
export function apiUrl(settings: ServerConnection.ISettings, path: string, query: QueryParams = {}): string {
  const base = URLExt.join(settings.baseUrl, 'mlnb', 'api', path);
  const parts: string[] = [];
  for (const [key, raw] of Object.entries(query)) {
    if (raw === undefined || raw === '') {
      continue;
    }
    for (const value of Array.isArray(raw) ? raw : [raw]) {
      parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
    }
  }
  return parts.length ? `${base}?${parts.join('&')}` : base;
}

async function errorFrom(response: Response): Promise<ApiError> {
  let parsed: IApiErrorBody = {};
  try {
    parsed = (await response.json()) as IApiErrorBody;
  } catch {
    // not JSON (e.g. a 404 page when the server extension is not installed)
  }
  return new ApiError(
    response.status,
    parsed.error_code ?? `HTTP_${response.status}`,
    parsed.message ?? response.statusText
  );
}

/**
 * Send one request; a body is sent (as JSON, `{}` by default) with every method but GET.
 *
 * @throws {ApiError} with status 0 when the server did not answer, else with the error body's
 *   `error_code` and `message`.
 */
export async function request(
  method: string,
  url: string,
  settings: ServerConnection.ISettings,
  body?: unknown
): Promise<Response> {
  const init: RequestInit = { method, headers: { 'Content-Type': 'application/json' } };
  if (method !== 'GET') {
    init.body = JSON.stringify(body ?? {});
  }
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ApiError(0, 'NETWORK_ERROR', `The Jupyter server did not answer: ${String(error)}`);
  }
  if (!response.ok) {
    throw await errorFrom(response);
  }
  return response;
}

async function getJson<T>(
  path: string,
  query: QueryParams,
  settings: ServerConnection.ISettings
): Promise<T> {
  const response = await request('GET', apiUrl(settings, path, query), settings);
  return (await response.json()) as T;
}

async function writeJson(
  method: string,
  path: string,
  settings: ServerConnection.ISettings,
  body?: unknown
): Promise<unknown> {
  const response = await request(method, apiUrl(settings, path), settings, body);
  return (await response.json()) as unknown;
}

const enc = encodeURIComponent;

/** The server's mlnb and API versions and its store (the sidebar's handshake). */
export function getVersion(settings = serverSettings()): Promise<IVersion> {
  return getJson<IVersion>('version', {}, settings);
}

/** Every experiment. */
export async function listExperiments(settings = serverSettings()): Promise<IExperiment[]> {
  return (await getJson<{ experiments: IExperiment[] }>('experiments', {}, settings)).experiments;
}

/** One page of runs matching the query, from row `offset`. */
export function listRuns(query: IRunQuery, offset: number, settings = serverSettings()): Promise<IRunPage> {
  const params = {
    experiment_id: query.experimentId,
    filter: query.filter,
    order_by: query.orderBy,
    view: query.view,
    limit: query.limit,
    offset
  };
  return getJson<IRunPage>('runs', params, settings);
}

/** One run with its experiment's name, children and notebook. */
export function getRun(runId: string, settings = serverSettings()): Promise<IRunDetail> {
  return getJson<IRunDetail>(`runs/${enc(runId)}`, {}, settings);
}

/** Mark a run deleted (it can be restored). */
export function deleteRun(runId: string, settings = serverSettings()): Promise<unknown> {
  return writeJson('DELETE', `runs/${enc(runId)}`, settings);
}

/** Restore a deleted run. */
export function restoreRun(runId: string, settings = serverSettings()): Promise<unknown> {
  return writeJson('POST', `runs/${enc(runId)}/restore`, settings, {});
}

/** Metric histories by run id and key (every key when `keys` is empty), down-sampled. */
export async function metricHistories(
  runIds: string[],
  keys: string[],
  maxPoints = 1000,
  settings = serverSettings()
): Promise<Record<string, Record<string, IMetricPoint[]>>> {
  // asked as columns: a third of the bytes to send and parse, and no object per point to encode
  const params = { run_id: runIds, key: keys, max_points: maxPoints, columns: 1 };
  type Body = { histories: Record<string, Record<string, IMetricColumns>> };
  const { histories } = await getJson<Body>('metric-histories', params, settings);
  const out: Record<string, Record<string, IMetricPoint[]>> = {};
  for (const [runId, byKey] of Object.entries(histories)) {
    out[runId] = {};
    for (const [key, columns] of Object.entries(byKey)) {
      out[runId][key] = pointsOfColumns(columns);
    }
  }
  return out;
}

/** One history as the server sends it with `columns=1`. */
export interface IMetricColumns {
  step: number[];
  timestamp: number[];
  value: JsonNumber[];
}

/** The points of a history sent as columns (steps, timestamps and values of equal length). */
export function pointsOfColumns(columns: IMetricColumns): IMetricPoint[] {
  const { step, timestamp, value } = columns;
  const points: IMetricPoint[] = new Array(step.length);
  for (let i = 0; i < step.length; i++) {
    points[i] = { step: step[i], value: value[i], timestamp: timestamp[i] };
  }
  return points;
}

/** The files and folders directly under `path` in a run's artifacts. */
export async function listArtifacts(
  runId: string,
  path = '',
  settings = serverSettings()
): Promise<IFileInfo[]> {
  const body = await getJson<{ files: IFileInfo[] }>(`runs/${enc(runId)}/artifacts`, { path }, settings);
  return body.files;
}

/** An artifact's bytes (for previews); the caller decides how to show them, always as text or an image. */
export async function fetchArtifact(runId: string, path: string, settings = serverSettings()): Promise<Blob> {
  const response = await request('GET', apiUrl(settings, `runs/${enc(runId)}/artifact`, { path }), settings);
  return await response.blob();
}

/** Every registered model. */
export async function listModels(settings = serverSettings()): Promise<IRegisteredModel[]> {
  return (await getJson<{ models: IRegisteredModel[] }>('models', {}, settings)).models;
}

/** A registered model and all its versions. */
export function getModel(
  name: string,
  settings = serverSettings()
): Promise<{ model: IRegisteredModel; versions: IModelVersion[] }> {
  return getJson(`models/${enc(name)}`, {}, settings);
}

/** Move a model version to a stage, archiving the versions there if asked. */
export function transitionStage(
  name: string,
  version: string,
  stage: string,
  archiveExisting: boolean,
  settings = serverSettings()
): Promise<unknown> {
  return writeJson('POST', `models/${enc(name)}/versions/${enc(version)}/stage`, settings, {
    stage,
    archive_existing_versions: archiveExisting
  });
}

/** Point a model's alias at a version. */
export function setAlias(
  name: string,
  alias: string,
  version: string,
  settings = serverSettings()
): Promise<unknown> {
  return writeJson('PUT', `models/${enc(name)}/aliases/${enc(alias)}`, settings, { version });
}

/** Remove a model's alias. */
export function deleteAlias(name: string, alias: string, settings = serverSettings()): Promise<unknown> {
  return writeJson('DELETE', `models/${enc(name)}/aliases/${enc(alias)}`, settings);
}

/** The evaluation attached to a version, its model's gate and the gate's verdict per target. */
export function getVersionEvaluation(
  name: string,
  version: string,
  settings = serverSettings()
): Promise<IVersionEvaluation> {
  return getJson(`models/${enc(name)}/versions/${enc(version)}/evaluation`, {}, settings);
}

/** What `mlnb monitor` logged for a model: drift share per window and the latest report. */
export async function getModelMonitoring(
  name: string,
  settings = serverSettings()
): Promise<IMonitoringRun[]> {
  return (await getJson<{ runs: IMonitoringRun[] }>(`models/${enc(name)}/monitoring`, {}, settings)).runs;
}

/** The logged models of an experiment ('' for every experiment), newest first. */
export async function listLoggedModels(
  experimentId: string,
  settings = serverSettings()
): Promise<ILoggedModel[]> {
  const body = await getJson<{ models: ILoggedModel[] }>(
    'logged-models',
    { experiment_id: experimentId },
    settings
  );
  return body.models;
}

/** A logged model with its top files and the versions registered from it. */
export function getLoggedModel(modelId: string, settings = serverSettings()): Promise<ILoggedModelDetail> {
  return getJson<ILoggedModelDetail>(`logged-models/${enc(modelId)}`, {}, settings);
}

/** The files and folders directly under `path` in a logged model's folder. */
export async function listLoggedModelFiles(
  modelId: string,
  path = '',
  settings = serverSettings()
): Promise<IFileInfo[]> {
  const body = await getJson<{ files: IFileInfo[] }>(
    `logged-models/${enc(modelId)}/artifacts`,
    { path },
    settings
  );
  return body.files;
}

/** A parent run's children as a sweep: trials, best value so far, parameter importance. */
export function getSweep(runId: string, settings = serverSettings()): Promise<ISweep> {
  return getJson<ISweep>(`runs/${enc(runId)}/sweep`, {}, settings);
}

/** Run b compared with run a: params, tags, metric deltas, cell source, kernel history, packages. */
export function getRunDiff(runA: string, runB: string, settings = serverSettings()): Promise<IRunDiff> {
  return getJson<IRunDiff>(`runs/${enc(runA)}/diff/${enc(runB)}`, {}, settings);
}
