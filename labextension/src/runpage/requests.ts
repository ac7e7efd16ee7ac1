/**
 * The run page's REST calls: artifact parts, table pages, download links and notebook files.
 */
import { URLExt } from '@jupyterlab/coreutils';

import { apiUrl, request, serverSettings } from '../api';

/** One page of a table artifact (`GET runs/<id>/artifact-table/<path>`). */
export interface ITablePage {
  path: string;
  format: 'csv' | 'tsv' | 'parquet';
  columns: string[];
  rows: Array<Array<string | number | boolean | null>>;
  offset: number;
  limit: number;
  total: number | null;
  more: boolean;
  columns_cut: number;
}

/** The start of an artifact and the size of the whole file. */
export interface IArtifactPart {
  blob: Blob;
  fileSize: number;
  /** True when `blob` holds only the start of the file. */
  partial: boolean;
}

const enc = encodeURIComponent;

/**
 * An artifact's bytes, or only its first `maxBytes` (a preview of a large file).
 *
 * @param runId - the run.
 * @param path - the artifact's path.
 * @param maxBytes - the most bytes to fetch; 0 for the whole file.
 * @param settings - the server settings.
 */
export async function fetchArtifactPart(
  runId: string,
  path: string,
  maxBytes = 0,
  settings = serverSettings()
): Promise<IArtifactPart> {
  const query = { path, max_bytes: maxBytes > 0 ? maxBytes : undefined };
  const response = await request('GET', apiUrl(settings, `runs/${enc(runId)}/artifact`, query), settings);
  const blob = await response.blob();
  const header = Number(response.headers.get('X-Mlnb-File-Size'));
  const fileSize = Number.isFinite(header) && header > 0 ? header : blob.size;
  return { blob, fileSize, partial: blob.size < fileSize };
}

/**
 * One page of a CSV, TSV or Parquet artifact.
 *
 * @param runId - the run.
 * @param path - the artifact's path.
 * @param offset - the first row.
 * @param limit - the page size.
 * @param settings - the server settings.
 */
export async function tablePage(
  runId: string,
  path: string,
  offset: number,
  limit: number,
  settings = serverSettings()
): Promise<ITablePage> {
  const encodedPath = path.split('/').map(enc).join('/');
  const url = apiUrl(settings, `runs/${enc(runId)}/artifact-table/${encodedPath}`, { offset, limit });
  const response = await request('GET', url, settings);
  return (await response.json()) as ITablePage;
}

/**
 * A link that downloads an artifact: the server streams it and the browser saves it, sending
 * JupyterLab's login cookie (as JupyterLab's own file downloads do; no token in the page).
 *
 * @param runId - the run.
 * @param path - the artifact's path.
 * @param settings - the server settings.
 */
export function downloadUrl(runId: string, path: string, settings = serverSettings()): string {
  return apiUrl(settings, `runs/${enc(runId)}/artifact`, { path });
}

/**
 * A notebook file of the Jupyter server (its contents API), as parsed JSON.
 *
 * @param path - the notebook's path relative to the server's root.
 * @param settings - the server settings.
 */
export async function notebookFile(path: string, settings = serverSettings()): Promise<unknown> {
  const encodedPath = path.split('/').map(enc).join('/');
  const url = URLExt.join(settings.baseUrl, 'api', 'contents', encodedPath) + '?type=notebook&content=1';
  const response = await request('GET', url, settings);
  const model = (await response.json()) as { content?: unknown };
  return model.content;
}
