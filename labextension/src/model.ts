/**
 * The Experiments sidebar's state: the version handshake, the experiments, the run query, the
 * loaded runs, the selection and the last action's error, with one `changed` signal.
 *
 * The run list is refreshed by a Poll every 2 s (runs logged by a kernel show up quickly), which
 * backs off on errors (up to 30 s) and stands by while the panel is hidden or the browser tab is
 * in the background.
 */
import { IDisposable } from '@lumino/disposable';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { ApiError, deleteRun, errorMessage, listExperiments, restoreRun } from './api';
import { checkHandshake, IHandshake } from './handshake';
import { fetchRunRows, IRunRows, PAGE_SIZE } from './runs';
import { IExperiment, IRun, IRunQuery, RunView } from './tokens';

export { PAGE_SIZE } from './runs';

/** How long after the last keystroke the filter box's text is applied. */
export const FILTER_DELAY_MS = 400;

/** The run table's order: an order_by field such as "attributes.start_time" or "metrics.`acc`". */
export interface ISort {
  column: string;
  descending: boolean;
}

/** What the user asked to see. */
export interface IQueryState {
  /** '' for every experiment. */
  experimentId: string;
  /** The filter box's text as typed. */
  filterText: string;
  /** The filter in force: the text, trimmed, applied after a pause or on Enter. */
  filter: string;
  view: RunView;
  sort: ISort;
}

/** The loaded rows of the run list and how loading them went. */
export interface IRunsState extends IRunRows {
  loading: boolean;
  /** An error in the filter (shown inline under the filter box). */
  filterError: string | null;
  /** Any other error (shown as a banner). */
  error: string | null;
  /** When the first rows arrived (ms since the query started), for the "first rows" timing. */
  firstRowsMs: number | null;
}

/** What deleting or restoring a run needs to know of it. */
export type RunRef = Pick<IRun, 'run_id' | 'run_name' | 'lifecycle_stage'>;

/** Asks the user whether to delete (or restore) these runs. */
export type ConfirmRuns = (runs: RunRef[], restore: boolean) => Promise<boolean>;

/** What an `ExperimentsModel` needs from its view. */
export interface IExperimentsModelOptions {
  /** Whether the panel is shown; the poll stands by while it is not. */
  isVisible: () => boolean;
  /** The confirmation asked before runs are deleted or restored. */
  confirm: ConfirmRuns;
}

/**
 * Delete (or restore) runs one by one after the user confirms.
 *
 * @returns false when the user said no.
 */
export async function deleteOrRestoreRuns(
  runs: RunRef[],
  restore: boolean,
  confirm: ConfirmRuns
): Promise<boolean> {
  if (!(await confirm(runs, restore))) {
    return false;
  }
  for (const run of runs) {
    await (restore ? restoreRun(run.run_id) : deleteRun(run.run_id));
  }
  return true;
}

const EMPTY_RUNS: IRunsState = {
  runs: [],
  total: 0,
  metricKeys: [],
  paramKeys: [],
  loading: false,
  filterError: null,
  error: null,
  firstRowsMs: null
};

/** The sidebar's state, polling and actions; views render it and call its methods. */
export class ExperimentsModel implements IDisposable {
  constructor(options: IExperimentsModelOptions) {
    this._isVisible = options.isVisible;
    this._confirm = options.confirm;
    this._poll = new Poll<void, unknown>({
      auto: true,
      factory: () => this._refresh(),
      frequency: { interval: 2000, backoff: true, max: 30000 },
      name: 'mlnb:runs',
      standby: () => !this._isVisible() || document.hidden
    });
  }

  /** Emitted after any change of the state below. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** The version handshake's result. */
  get handshake(): IHandshake {
    return this._handshake;
  }

  /** The experiments for the experiment selector. */
  get experiments(): IExperiment[] {
    return this._experiments;
  }

  get query(): IQueryState {
    return this._query;
  }

  get runs(): IRunsState {
    return this._runs;
  }

  /** The ids of the selected runs. */
  get selection(): ReadonlySet<string> {
    return this._selection;
  }

  /** The loaded runs that are selected. */
  get selectedRuns(): IRun[] {
    return this._runs.runs.filter(run => this._selection.has(run.run_id));
  }

  /** The error of the last delete or restore, until dismissed. */
  get actionError(): string | null {
    return this._actionError;
  }

  /** Whether the Models section is expanded. */
  get modelsOpen(): boolean {
    return this._modelsOpen;
  }

  /** Goes up each time the Models section should load the models again. */
  get modelsGeneration(): number {
    return this._modelsGeneration;
  }

  /** Check the server's version, load the experiments and models, and start the run query. */
  start(): void {
    void checkHandshake().then(handshake => {
      this._handshake = handshake;
      this._emit();
    });
    this._reloadLists();
    this._restartQuery();
  }

  /** The panel was shown: load the experiments and models again, and refresh the runs now. */
  shown(): void {
    if (this._handshake.problem === null) {
      this._reloadLists();
    }
    void this.refreshNow();
  }

  /**
   * Change the experiment, view or order; the run list starts over. A new experiment or view
   * clears the selection.
   */
  setQuery(change: Partial<Pick<IQueryState, 'experimentId' | 'view' | 'sort'>>): void {
    const next = { ...this._query, ...change };
    if (next.experimentId !== this._query.experimentId || next.view !== this._query.view) {
      this._selection = new Set();
    }
    this._setQuery(next);
  }

  /** Sort by a column: descending first, the other way on a second click. */
  sortBy(column: string): void {
    const { sort } = this._query;
    const descending = sort.column === column ? !sort.descending : true;
    this.setQuery({ sort: { column, descending } });
  }

  /** The filter box's text changed: it is applied `FILTER_DELAY_MS` after the last change. */
  setFilterText(text: string): void {
    this._query = { ...this._query, filterText: text };
    this._clearFilterTimer();
    this._filterTimer = window.setTimeout(() => this.applyFilter(), FILTER_DELAY_MS);
    this._emit();
  }

  /** Apply the filter box's text now (Enter). */
  applyFilter(): void {
    this._clearFilterTimer();
    this._setQuery({ ...this._query, filter: this._query.filterText.trim() });
  }

  /** Select or unselect a run. */
  toggle(runId: string): void {
    const next = new Set(this._selection);
    if (!next.delete(runId)) {
      next.add(runId);
    }
    this._selection = next;
    this._emit();
  }

  /** Load more rows (the table scrolled near its end). */
  loadMore(): void {
    const { runs, total } = this._runs;
    if (runs.length < total && this._wanted <= runs.length) {
      this._wanted = runs.length + PAGE_SIZE;
      void this.refreshNow();
    }
  }

  /** Refresh the run list now (unless the panel is hidden). */
  async refreshNow(): Promise<void> {
    await this._poll.refresh();
  }

  /** Delete the selected runs (restore them in the "Deleted runs" view), after a confirmation. */
  async deleteOrRestoreSelected(): Promise<void> {
    try {
      if (await deleteOrRestoreRuns(this.selectedRuns, this._query.view === 'deleted', this._confirm)) {
        this._selection = new Set();
        this._emit();
        await this.refreshNow();
      }
    } catch (error) {
      this._actionError = errorMessage(error);
      this._emit();
    }
  }

  /** Hide the action error. */
  dismissActionError(): void {
    this._actionError = null;
    this._emit();
  }

  /** Expand or collapse the Models section. */
  toggleModels(): void {
    this._modelsOpen = !this._modelsOpen;
    this._emit();
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._clearFilterTimer();
    this._poll.dispose();
    Signal.clearData(this);
  }

  private _reloadLists(): void {
    listExperiments().then(
      experiments => {
        this._experiments = experiments;
        this._emit();
      },
      () => undefined // the selector keeps the experiments it has
    );
    this._modelsGeneration += 1;
    this._emit();
  }

  /** Take a new query; when the run list's query changed, start the list over. */
  private _setQuery(next: IQueryState): void {
    const before = this._query;
    this._query = next;
    const same =
      before.experimentId === next.experimentId &&
      before.filter === next.filter &&
      before.view === next.view &&
      before.sort === next.sort;
    if (same || this._handshake.problem !== null) {
      this._emit();
      return;
    }
    this._restartQuery();
  }

  private _restartQuery(): void {
    const { experimentId, filter, view, sort } = this._query;
    this._runQuery = {
      experimentId,
      filter,
      orderBy: `${sort.column} ${sort.descending ? 'DESC' : 'ASC'}`,
      view,
      limit: PAGE_SIZE
    };
    this._wanted = PAGE_SIZE;
    this._started = performance.now();
    this._update({ runs: [], total: 0, loading: true, filterError: null, error: null, firstRowsMs: null });
    void this.refreshNow();
  }

  private async _refresh(): Promise<void> {
    const query = this._runQuery;
    if (!query) {
      return;
    }
    try {
      const rows = await fetchRunRows(query, this._wanted);
      if (query === this._runQuery) {
        this._showRows(rows);
      } // else a newer query replaced this one while it ran
    } catch (error) {
      if (query === this._runQuery) {
        this._showError(error);
      }
    }
  }

  private _showRows(rows: IRunRows): void {
    const elapsed = rows.runs.length ? performance.now() - this._started : null;
    const firstRowsMs = this._runs.firstRowsMs ?? elapsed;
    this._update({ ...rows, loading: false, filterError: null, error: null, firstRowsMs });
  }

  private _showError(error: unknown): void {
    const message = errorMessage(error);
    if (error instanceof ApiError && error.status === 400) {
      // A filter or order-by the grammar rejects: show it inline, keep polling.
      this._update({ runs: [], total: 0, loading: false, filterError: message, error: null });
      return;
    }
    this._update({ loading: false, error: message });
    throw error; // the Poll backs off after a failure
  }

  private _update(change: Partial<IRunsState>): void {
    this._runs = { ...this._runs, ...change };
    this._emit();
  }

  private _emit(): void {
    if (!this._isDisposed) {
      this._changed.emit();
    }
  }

  private _clearFilterTimer(): void {
    if (this._filterTimer !== null) {
      window.clearTimeout(this._filterTimer);
      this._filterTimer = null;
    }
  }

  private readonly _isVisible: () => boolean;
  private readonly _confirm: ConfirmRuns;
  private readonly _poll: Poll<void, unknown>;
  private readonly _changed = new Signal<this, void>(this);
  private _isDisposed = false;
  private _handshake: IHandshake = { storeUri: '', problem: null, readOnly: null };
  private _experiments: IExperiment[] = [];
  private _query: IQueryState = {
    experimentId: '',
    filterText: '',
    filter: '',
    view: 'active',
    sort: { column: 'attributes.start_time', descending: true }
  };
  private _runQuery: IRunQuery | null = null;
  private _wanted = PAGE_SIZE;
  private _started = 0;
  private _runs: IRunsState = EMPTY_RUNS;
  private _selection: ReadonlySet<string> = new Set<string>();
  private _actionError: string | null = null;
  private _modelsOpen = true;
  private _modelsGeneration = 0;
  private _filterTimer: number | null = null;
}
