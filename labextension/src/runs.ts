/**
 * The run list's rows: every loaded page fetched again on each refresh, so live status changes
 * show in all visible rows.
 */
import { listRuns } from './api';
import { IRun, IRunQuery } from './tokens';

/** Rows per page the table asks for when it scrolls near its end. */
export const PAGE_SIZE = 100;

/** The most rows one request asks for. */
export const MAX_REQUEST_ROWS = 500;

/** The rows of the first pages of a query, and the metric and param keys they use (sorted). */
export interface IRunRows {
  runs: IRun[];
  total: number;
  metricKeys: string[];
  paramKeys: string[];
}

/** Fetch the first `wanted` rows of a query, at most `MAX_REQUEST_ROWS` per request. */
export async function fetchRunRows(query: IRunQuery, wanted: number): Promise<IRunRows> {
  const runs: IRun[] = [];
  let total = 0;
  const metricKeys = new Set<string>();
  const paramKeys = new Set<string>();
  while (runs.length < wanted) {
    const limit = Math.min(MAX_REQUEST_ROWS, wanted - runs.length);
    const page = await listRuns({ ...query, limit }, runs.length);
    runs.push(...page.runs);
    total = page.total;
    page.metric_keys.forEach(key => metricKeys.add(key));
    page.param_keys.forEach(key => paramKeys.add(key));
    if (page.runs.length < limit) {
      break;
    }
  }
  return { runs, total, metricKeys: [...metricKeys].sort(), paramKeys: [...paramKeys].sort() };
}
