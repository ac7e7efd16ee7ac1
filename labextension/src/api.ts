/**
 * One typed function per REST endpoint of the mlnb server extension.
 * All calls go through ServerConnection.makeRequest, which adds the token or XSRF header.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import {
  IApiErrorBody,
  IExperiment,
  IFileInfo,
  IMetricPoint,
  IModelVersion,
  IRegisteredModel,
  IRunDetail,
  IRunPage,
  IRunQuery,
  IVersion
} from './tokens';

/** An error from the API, with the server's message (shown to the user as text). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string
  ) {
    super(message);
  }
}

const settings = ServerConnection.makeSettings();

function url(path: string, query?: Record<string, string | string[] | number | undefined>): string {
  const base = URLExt.join(settings.baseUrl, 'mlnb', 'api', path);
  const parts: string[] = [];
  for (const [key, raw] of Object.entries(query ?? {})) {
    if (raw === undefined || raw === '') {
      continue;
    }
    for (const value of Array.isArray(raw) ? raw : [raw]) {
      parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
    }
  }
  return parts.length ? `${base}?${parts.join('&')}` : base;
}

async function send(
  method: string,
  target: string,
  body?: unknown
): Promise<Response> {
  const init: RequestInit = { method, headers: { 'Content-Type': 'application/json' } };
  if (method !== 'GET') {
    init.body = JSON.stringify(body ?? {});
  }
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(target, init, settings);
  } catch (error) {
    throw new ApiError(0, 'NETWORK_ERROR', `The Jupyter server did not answer: ${String(error)}`);
  }
  if (!response.ok) {
    let parsed: IApiErrorBody = {};
    try {
      parsed = (await response.json()) as IApiErrorBody;
    } catch {
      // not JSON (e.g. a 404 page when the server extension is not installed)
    }
    throw new ApiError(
      response.status,
      parsed.error_code ?? `HTTP_${response.status}`,
      parsed.message ?? response.statusText
    );
  }
  return response;
}

async function getJson<T>(path: string, query?: Record<string, string | string[] | number | undefined>): Promise<T> {
  const response = await send('GET', url(path, query));
  return (await response.json()) as T;
}

async function writeJson<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await send(method, url(path), body);
  return (await response.json()) as T;
}

const enc = encodeURIComponent;

export function getVersion(): Promise<IVersion> {
  return getJson<IVersion>('version');
}

export async function listExperiments(): Promise<IExperiment[]> {
  return (await getJson<{ experiments: IExperiment[] }>('experiments')).experiments;
}

export function listRuns(query: IRunQuery, offset: number): Promise<IRunPage> {
  return getJson<IRunPage>('runs', {
    experiment_id: query.experimentId,
    filter: query.filter,
    order_by: query.orderBy,
    view: query.view,
    limit: query.limit,
    offset
  });
}

export function getRun(runId: string): Promise<IRunDetail> {
  return getJson<IRunDetail>(`runs/${enc(runId)}`);
}

export function deleteRun(runId: string): Promise<unknown> {
  return writeJson('DELETE', `runs/${enc(runId)}`);
}

export function restoreRun(runId: string): Promise<unknown> {
  return writeJson('POST', `runs/${enc(runId)}/restore`, {});
}

export async function metricHistories(
  runIds: string[],
  keys: string[],
  maxPoints = 1000
): Promise<Record<string, Record<string, IMetricPoint[]>>> {
  const body = await getJson<{ histories: Record<string, Record<string, IMetricPoint[]>> }>(
    'metric-histories',
    { run_id: runIds, key: keys, max_points: maxPoints }
  );
  return body.histories;
}

export async function listArtifacts(runId: string, path = ''): Promise<IFileInfo[]> {
  return (await getJson<{ files: IFileInfo[] }>(`runs/${enc(runId)}/artifacts`, { path })).files;
}

/** An artifact's bytes (for previews); the caller decides how to show them, always as text or an image. */
export async function fetchArtifact(runId: string, path: string): Promise<Blob> {
  const response = await send('GET', url(`runs/${enc(runId)}/artifact`, { path }));
  return await response.blob();
}

export async function listModels(): Promise<IRegisteredModel[]> {
  return (await getJson<{ models: IRegisteredModel[] }>('models')).models;
}

export function getModel(name: string): Promise<{ model: IRegisteredModel; versions: IModelVersion[] }> {
  return getJson(`models/${enc(name)}`);
}

export function transitionStage(
  name: string,
  version: string,
  stage: string,
  archiveExisting: boolean
): Promise<unknown> {
  return writeJson('POST', `models/${enc(name)}/versions/${enc(version)}/stage`, {
    stage,
    archive_existing_versions: archiveExisting
  });
}

export function setAlias(name: string, alias: string, version: string): Promise<unknown> {
  return writeJson('PUT', `models/${enc(name)}/aliases/${enc(alias)}`, { version });
}

export function deleteAlias(name: string, alias: string): Promise<unknown> {
  return writeJson('DELETE', `models/${enc(name)}/aliases/${enc(alias)}`);
}
