/**
 * The workspace's REST calls: every run of an experiment that matches a filter (paged, with each
 * metric's min and max) and the saved views (`experiments/<id>/views`, `views/<id>`).
 */
import { ServerConnection } from '@jupyterlab/services';

import { apiUrl, request, serverSettings } from '../api';
import { IRunPage } from '../tokens';
import { IWsRun } from './columns';
import { IViewState } from './viewState';

export const RUN_PAGE = 500;
/** The first page is smaller, so the table paints as soon as possible. */
export const FIRST_PAGE = 100;
/** The most runs the workspace loads for one experiment and filter. */
export const MAX_WORKSPACE_RUNS = 20_000;

export interface IWsRunPage extends IRunPage {
  runs: IWsRun[];
  tag_keys?: string[];
}

export interface ISavedViewInfo {
  view_id: string;
  experiment_id: string;
  name: string;
  created_by: string;
  creation_time: number;
  last_update_time: number;
}

export interface ISavedView extends ISavedViewInfo {
  state: IViewState;
}

const enc = encodeURIComponent;

async function json<T>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

/** One page of an experiment's active runs matching `filter`, with metric min and max. */
export async function runsPage(
  experimentId: string,
  filter: string,
  offset: number,
  limit = RUN_PAGE,
  settings: ServerConnection.ISettings = serverSettings(),
  orderBy: string | null = null
): Promise<IWsRunPage> {
  const url = apiUrl(settings, 'runs', {
    experiment_id: experimentId,
    filter,
    view: 'active',
    limit,
    offset,
    extremes: '1',
    ...(orderBy ? { order_by: orderBy } : {})
  });
  return json<IWsRunPage>(await request('GET', url, settings));
}

/**
 * Every matching run (up to MAX_WORKSPACE_RUNS), in the server's default order or `orderBy`: the
 * first page is handed to `onPage` as soon as it arrives, the others in order as they come (four
 * at a time). Stops when `cancelled()` turns true.
 */
export async function loadAllRuns(
  experimentId: string,
  filter: string,
  onPage: (runs: IWsRun[], page: IWsRunPage, loaded: number) => void,
  cancelled: () => boolean,
  settings: ServerConnection.ISettings = serverSettings(),
  orderBy: string | null = null
): Promise<number> {
  const page = (offset: number, limit: number): Promise<IWsRunPage> =>
    runsPage(experimentId, filter, offset, limit, settings, orderBy);
  const first = await page(0, FIRST_PAGE);
  if (cancelled()) {
    return 0;
  }
  let loaded = first.runs.length;
  onPage(first.runs, first, loaded);
  const total = Math.min(first.total, MAX_WORKSPACE_RUNS);
  const offsets: number[] = [];
  for (let offset = FIRST_PAGE; offset < total; offset += RUN_PAGE) {
    offsets.push(offset);
  }
  while (offsets.length && !cancelled()) {
    const batch = offsets.splice(0, 4);
    const pages = await Promise.all(batch.map(o => page(o, Math.min(RUN_PAGE, total - o))));
    if (cancelled()) {
      break;
    }
    for (const next of pages) {
      loaded += next.runs.length;
      onPage(next.runs, next, loaded);
    }
  }
  return first.total;
}

/** An experiment's saved views (without their state), by name. */
export async function listViews(
  experimentId: string,
  settings: ServerConnection.ISettings = serverSettings()
): Promise<ISavedViewInfo[]> {
  const url = apiUrl(settings, `experiments/${enc(experimentId)}/views`);
  return (await json<{ views: ISavedViewInfo[] }>(await request('GET', url, settings))).views;
}

/** One saved view with its state. */
export async function getView(
  viewId: string,
  settings: ServerConnection.ISettings = serverSettings()
): Promise<ISavedView> {
  return json<ISavedView>(await request('GET', apiUrl(settings, `views/${enc(viewId)}`), settings));
}

/** Save a new view of an experiment. */
export async function createView(
  experimentId: string,
  name: string,
  state: IViewState,
  settings: ServerConnection.ISettings = serverSettings()
): Promise<ISavedView> {
  const url = apiUrl(settings, `experiments/${enc(experimentId)}/views`);
  return json<ISavedView>(await request('POST', url, settings, { name, state }));
}

/** Replace a view's state (and rename it when `name` is given). */
export async function updateView(
  viewId: string,
  state: IViewState,
  name?: string,
  settings: ServerConnection.ISettings = serverSettings()
): Promise<ISavedView> {
  const body = name === undefined ? { state } : { state, name };
  return json<ISavedView>(await request('PATCH', apiUrl(settings, `views/${enc(viewId)}`), settings, body));
}

/** Delete a saved view. */
export async function deleteView(
  viewId: string,
  settings: ServerConnection.ISettings = serverSettings()
): Promise<void> {
  await request('DELETE', apiUrl(settings, `views/${enc(viewId)}`), settings);
}

/** The link that opens a saved view: JupyterLab's URL with `?mlnb-view=<id>`. */
export function viewLink(viewId: string, settings: ServerConnection.ISettings = serverSettings()): string {
  const base = new URL(settings.baseUrl, window.location.href);
  return `${new URL('lab', base).href}?mlnb-view=${enc(viewId)}`;
}
