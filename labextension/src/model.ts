/**
 * The run list's state: the query, the loaded rows and the total, refreshed by a Poll.
 *
 * The poll refreshes every 2 s (runs logged by a kernel show up quickly), backs off on errors
 * (up to 30 s), and stands by while the panel is hidden or the browser tab is in the background.
 */
import { Poll } from '@lumino/polling';

import { ApiError, listRuns } from './api';
import { IRun, IRunQuery } from './tokens';

export const PAGE_SIZE = 100;

export interface IRunsState {
  runs: IRun[];
  total: number;
  metricKeys: string[];
  paramKeys: string[];
  loading: boolean;
  /** An error in the filter (shown inline under the filter box). */
  filterError: string | null;
  /** Any other error (shown as a banner). */
  error: string | null;
  /** When the first rows arrived (ms since the query started), for the "first rows" timing. */
  firstRowsMs: number | null;
}

export class RunsModel {
  constructor(isVisible: () => boolean) {
    this._isVisible = isVisible;
    this._poll = new Poll<void, unknown>({
      auto: true,
      factory: () => this._refresh(),
      frequency: { interval: 2000, backoff: true, max: 30000 },
      name: 'mlnb:runs',
      standby: () => !this._isVisible() || document.hidden
    });
  }

  get state(): IRunsState {
    return this._state;
  }

  get query(): IRunQuery | null {
    return this._query;
  }

  /** Call fn on every change; returns a function that stops the calls. */
  subscribe(fn: () => void): () => void {
    this._listeners.add(fn);
    return () => this._listeners.delete(fn);
  }

  /** Start over with a new query (experiment, filter, order or view changed). */
  setQuery(query: IRunQuery): void {
    this._query = query;
    this._wanted = PAGE_SIZE;
    this._started = performance.now();
    this._update({ runs: [], total: 0, loading: true, filterError: null, error: null, firstRowsMs: null });
    void this.refreshNow();
  }

  /** Load more rows (the table scrolled near its end). */
  loadMore(): void {
    if (this._state.runs.length < this._state.total && this._wanted <= this._state.runs.length) {
      this._wanted = this._state.runs.length + PAGE_SIZE;
      void this.refreshNow();
    }
  }

  async refreshNow(): Promise<void> {
    await this._poll.refresh();
  }

  dispose(): void {
    this._poll.dispose();
    this._listeners.clear();
  }

  private async _refresh(): Promise<void> {
    const query = this._query;
    if (!query) {
      return;
    }
    try {
      // Fetch every loaded page again, so live status changes show in all visible rows.
      const runs: IRun[] = [];
      let total = 0;
      let metricKeys = new Set<string>();
      let paramKeys = new Set<string>();
      while (runs.length < this._wanted) {
        const limit = Math.min(500, this._wanted - runs.length);
        const page = await listRuns({ ...query, limit }, runs.length);
        runs.push(...page.runs);
        total = page.total;
        metricKeys = new Set([...metricKeys, ...page.metric_keys]);
        paramKeys = new Set([...paramKeys, ...page.param_keys]);
        if (page.runs.length < limit) {
          break;
        }
      }
      if (query !== this._query) {
        return; // a newer query replaced this one while it ran
      }
      const first = this._state.firstRowsMs ?? (runs.length ? performance.now() - this._started : null);
      this._update({
        runs,
        total,
        metricKeys: [...metricKeys].sort(),
        paramKeys: [...paramKeys].sort(),
        loading: false,
        filterError: null,
        error: null,
        firstRowsMs: first
      });
    } catch (error) {
      if (query !== this._query) {
        return;
      }
      const message = error instanceof Error ? error.message : String(error);
      if (error instanceof ApiError && error.status === 400) {
        // A filter or order-by the grammar rejects: show it inline, keep polling slowly.
        this._update({ runs: [], total: 0, loading: false, filterError: message, error: null });
        return;
      }
      this._update({ loading: false, error: message });
      throw error; // the Poll backs off after a failure
    }
  }

  private _update(change: Partial<IRunsState>): void {
    this._state = { ...this._state, ...change };
    for (const fn of this._listeners) {
      fn();
    }
  }

  private _isVisible: () => boolean;
  private _poll: Poll<void, unknown>;
  private _query: IRunQuery | null = null;
  private _wanted = PAGE_SIZE;
  private _started = 0;
  private _listeners = new Set<() => void>();
  private _state: IRunsState = {
    runs: [],
    total: 0,
    metricKeys: [],
    paramKeys: [],
    loading: false,
    filterError: null,
    error: null,
    firstRowsMs: null
  };
}
