/**
 * The Experiments workspace (a main-area tab): an experiment's runs in a table of chosen columns,
 * a chart grid over the selected (or first listed) runs, grouping with aggregated lines, and
 * saved views. The state of each experiment is kept in this browser; saved views in the store.
 */
import * as React from 'react';

import * as api from '../api';
import { errorMessage } from '../api';
import { IExperiment } from '../tokens';
import { ChartGrid } from './ChartGrid';
import { filterKeys, IWsRun, sortRuns, tableOrder } from './columns';
import { ColumnPicker, FilterInput, GroupControls } from './Controls';
import { preparePlotly } from './Plot';
import { RunsTable } from './RunsTable';
import { SavedViews } from './SavedViews';
import { getView, loadAllRuns, MAX_WORKSPACE_RUNS } from './wsApi';
import {
  columnId,
  IViewState,
  loadLocalState,
  moveColumn,
  parseColumnId,
  parseViewState,
  saveLocalState
} from './viewState';

/** The most runs drawn in line and bar charts (the first listed, when none is selected). */
export const MAX_CHART_RUNS = 50;

export interface IWorkspaceProps {
  /** The experiment to show first (else the last one shown, else the first). */
  experimentId?: string;
  /** A saved view to open. */
  viewId?: string;
  openRun: (runId: string, runName: string) => void;
  readOnly: string | null;
}

interface IRunsState {
  runs: IWsRun[];
  total: number;
  loading: boolean;
  error: string | null;
  params: string[];
  metrics: string[];
  tags: string[];
}

const NO_RUNS: IRunsState = {
  runs: [],
  total: 0,
  loading: false,
  error: null,
  params: [],
  metrics: [],
  tags: []
};

function merge(keys: string[], more: string[] | undefined): string[] {
  if (!more?.length) {
    return keys;
  }
  const all = new Set(keys);
  let added = false;
  for (const k of more) {
    if (!all.has(k)) {
      all.add(k);
      added = true;
    }
  }
  return added ? [...all].sort() : keys;
}

/**
 * Every matching run of an experiment, loaded page by page (the table paints on the first). The
 * rows of the previous query stay shown until the first page of the new one arrives.
 */
function useRuns(experimentId: string, filter: string, reload: number, orderBy: string | null): IRunsState {
  const key = `${experimentId}\n${filter}\n${reload}\n${orderBy ?? ''}`;
  const [state, setState] = React.useState<IRunsState & { key: string }>({ ...NO_RUNS, key: '' });
  React.useEffect(() => {
    if (!experimentId) {
      return;
    }
    let cancelled = false;
    const collected: IWsRun[] = [];
    loadAllRuns(
      experimentId,
      filter,
      (runs, page) => {
        collected.push(...runs);
        const first = collected.length === runs.length;
        setState(s => ({
          key,
          runs: [...collected],
          total: page.total,
          loading: true,
          error: null,
          params: merge(first ? [] : s.params, page.param_keys),
          metrics: merge(first ? [] : s.metrics, page.metric_keys),
          tags: merge(first ? [] : s.tags, page.tag_keys)
        }));
      },
      () => cancelled,
      undefined,
      orderBy
    )
      .then(() => !cancelled && setState(s => ({ ...s, key, loading: false })))
      .catch(
        e =>
          !cancelled &&
          setState(s => ({ ...s, key, runs: [], total: 0, loading: false, error: errorMessage(e) }))
      );
    return () => {
      cancelled = true;
    };
  }, [experimentId, filter, reload, orderBy, key]);
  if (!experimentId) {
    return NO_RUNS;
  }
  return state.key === key ? state : { ...state, loading: true, error: null };
}

export function Workspace(props: IWorkspaceProps): JSX.Element {
  const [experiments, setExperiments] = React.useState<IExperiment[]>([]);
  // The experiment last shown starts loading at once, beside the experiments' list (which
  // replaces it when it is gone); a saved view being opened names its own.
  const [experimentId, setExperimentId] = React.useState(
    () => props.experimentId ?? (props.viewId ? '' : (localStorageGet('mlnb-workspace:last') ?? ''))
  );
  const [state, setState] = React.useState<IViewState>(() => loadLocalState(experimentId));
  const [filterText, setFilterText] = React.useState(state.filter);
  const [selected, setSelected] = React.useState<Set<string>>(new Set());
  const [reload, setReload] = React.useState(0);
  const [viewId, setViewId] = React.useState<string | null>(null);
  const [message, setMessage] = React.useState<string | null>(null);
  const [showColumns, setShowColumns] = React.useState(false);

  // The experiments, then the one to show (a saved view's, the given one, the last one, the first).
  React.useEffect(() => {
    let alive = true;
    api
      .listExperiments()
      .then(found => {
        if (!alive) {
          return;
        }
        setExperiments(found);
        setExperimentId(current => {
          if (current && found.some(e => e.experiment_id === current)) {
            return current;
          }
          const last = localStorageGet('mlnb-workspace:last');
          const pick = found.find(e => e.experiment_id === last) ?? found[0];
          return pick?.experiment_id ?? '';
        });
      })
      .catch(e => alive && setMessage(errorMessage(e)));
    return () => {
      alive = false;
    };
  }, []);

  const switchExperiment = React.useCallback((id: string, next?: IViewState) => {
    const loaded = next ?? loadLocalState(id);
    setExperimentId(id);
    setState(loaded);
    setFilterText(loaded.filter);
    setSelected(new Set());
    localStorageSet('mlnb-workspace:last', id);
  }, []);

  // Opening a saved view (from a link or the command's viewId).
  React.useEffect(() => {
    if (!props.viewId) {
      return;
    }
    let alive = true;
    getView(props.viewId)
      .then(view => {
        if (alive) {
          switchExperiment(view.experiment_id, parseViewState(view.state));
          setViewId(view.view_id);
        }
      })
      .catch(e => alive && setMessage(`Could not open the saved view: ${errorMessage(e)}`));
    return () => {
      alive = false;
    };
  }, [props.viewId, switchExperiment]);

  // The first experiment chosen without a view: its state kept in this browser.
  const loadedFor = React.useRef<string | null>(experimentId || null);
  React.useEffect(() => {
    if (experimentId && loadedFor.current !== experimentId && !props.viewId) {
      loadedFor.current = experimentId;
      const loaded = loadLocalState(experimentId);
      setState(loaded);
      setFilterText(loaded.filter);
    }
  }, [experimentId, props.viewId]);

  React.useEffect(() => {
    if (experimentId) {
      saveLocalState(experimentId, state);
    }
  }, [experimentId, state]);

  // More runs match than the workspace loads: a sort is then asked of the server (tableOrder),
  // so the rows loaded are the first of all of them. The count is the last one the server gave.
  const [matching, setMatching] = React.useState(0);
  const sortColumn = state.sort ? parseColumnId(state.sort.column) : null;
  const order = tableOrder(matching, MAX_WORKSPACE_RUNS, sortColumn, state.sort?.descending ?? false);
  const runs = useRuns(experimentId, state.filter, reload, order.orderBy);
  const counted = !runs.loading || runs.runs.length ? runs.total : matching;
  if (counted !== matching) {
    setMatching(counted); // state derived while rendering: React renders again at once
  }
  // Plotly's bundle is large and its evaluation blocks the page for a moment: load it once the
  // first rows are shown and the browser is idle, so neither the table nor the first chart
  // waits for it.
  const painted = runs.runs.length > 0;
  React.useEffect(() => {
    if (!painted) {
      return;
    }
    const idle = (window as { requestIdleCallback?: (fn: () => void) => number }).requestIdleCallback;
    if (idle) {
      idle(() => void preparePlotly().catch(() => undefined));
    } else {
      setTimeout(() => void preparePlotly().catch(() => undefined), 200);
    }
  }, [painted]);
  const sorted = React.useMemo(
    () => (order.sortLoaded ? sortRuns(runs.runs, sortColumn, state.sort?.descending ?? false) : runs.runs),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [runs.runs, state.sort?.column, state.sort?.descending, order.sortLoaded]
  );
  const chartRuns = React.useMemo(() => {
    const chosen = sorted.filter(r => selected.has(r.run_id));
    return (chosen.length ? chosen : sorted).slice(0, MAX_CHART_RUNS);
  }, [sorted, selected]);
  const tableRuns = React.useMemo(
    () => (selected.size ? sorted.filter(r => selected.has(r.run_id)) : sorted),
    [sorted, selected]
  );
  const grouping = React.useMemo(
    () => ({ groupBy: state.groupBy, center: state.center, band: state.band }),
    [state.groupBy, state.center, state.band]
  );
  const numericColumns = React.useMemo(
    () => [
      ...runs.params.map(k => `param:${k}`),
      ...runs.metrics.flatMap(k => [`metric:last:${k}`, `metric:min:${k}`, `metric:max:${k}`])
    ],
    [runs.params, runs.metrics]
  );
  const keys = React.useMemo(
    () => filterKeys(runs.params, runs.metrics, runs.tags),
    [runs.params, runs.metrics, runs.tags]
  );
  const update = (fields: Partial<IViewState>): void => setState(s => ({ ...s, ...fields }));

  // With a filter, a failed search is the filter's fault (the server says where): shown under it.
  const filterError = runs.error && state.filter ? runs.error : null;
  const chartNote = selected.size
    ? `Charts show the ${Math.min(selected.size, MAX_CHART_RUNS)} selected runs`
    : `Charts show the first ${Math.min(sorted.length, MAX_CHART_RUNS)} runs listed (select runs to choose)`;

  return (
    <div className="mlnb-workspace" aria-label="Experiments workspace">
      <div className="mlnb-ws-top">
        <label>
          Experiment{' '}
          <select
            aria-label="experiment"
            value={experimentId}
            onChange={e => {
              setViewId(null);
              switchExperiment(e.target.value);
            }}
          >
            {experiments.map(e => (
              <option key={e.experiment_id} value={e.experiment_id}>
                {e.name}
              </option>
            ))}
          </select>
        </label>
        <SavedViews
          experimentId={experimentId}
          state={state}
          currentId={viewId}
          readOnly={props.readOnly}
          onOpen={view => {
            switchExperiment(view.experiment_id, parseViewState(view.state));
            setViewId(view.view_id);
          }}
          onCurrent={setViewId}
        />
        <button onClick={() => setReload(r => r + 1)} title="read the runs again">
          Refresh
        </button>
      </div>
      {message && (
        <div className="mlnb-error" role="alert">
          {message}
        </div>
      )}
      <FilterInput
        value={filterText}
        keys={keys}
        error={filterError}
        onChange={setFilterText}
        onApply={() => update({ filter: filterText.trim() })}
      />
      {runs.error && !filterError && <div className="mlnb-error">{runs.error}</div>}
      <div className="mlnb-ws-bar">
        <span className="mlnb-ws-count" aria-live="polite">
          {runs.loading ? 'Loading ' : ''}
          {runs.runs.length} of {runs.total} runs
          {runs.total > MAX_WORKSPACE_RUNS
            ? ` (the first ${MAX_WORKSPACE_RUNS}${order.orderBy ? ' in this order' : ''} are loaded)`
            : ''}
          {selected.size ? `, ${selected.size} selected` : ''}
        </span>
        {selected.size > 0 && <button onClick={() => setSelected(new Set())}>Clear selection</button>}
        <button aria-expanded={showColumns} onClick={() => setShowColumns(s => !s)}>
          Columns…
        </button>
        <GroupControls
          groupBy={state.groupBy}
          center={state.center}
          band={state.band}
          params={runs.params}
          tags={runs.tags}
          onChange={(groupBy, center, band) => update({ groupBy, center, band })}
        />
      </div>
      {order.note && (
        <div className="mlnb-ws-note" role="status">
          {order.note}
        </div>
      )}
      {showColumns && (
        <ColumnPicker
          columns={state.columns}
          params={runs.params}
          tags={runs.tags}
          metrics={runs.metrics}
          onChange={columns => update({ columns })}
          onMove={(id, delta) => setState(s => ({ ...s, columns: moveColumn(s.columns, id, delta) }))}
        />
      )}
      <RunsTable
        runs={sorted}
        columns={state.columns}
        widths={state.widths}
        sort={state.sort}
        selected={selected}
        onSort={id =>
          update({
            sort:
              state.sort?.column === id
                ? { column: id, descending: !state.sort.descending }
                : { column: id, descending: false }
          })
        }
        onResize={(id, width) => setState(s => ({ ...s, widths: { ...s.widths, [id]: width } }))}
        onMove={(id, toId, delta) =>
          setState(s => {
            if (toId === null) {
              return { ...s, columns: moveColumn(s.columns, id, delta) };
            }
            const from = s.columns.findIndex(c => columnId(c) === id);
            const to = s.columns.findIndex(c => columnId(c) === toId);
            return { ...s, columns: moveColumn(s.columns, id, to - from) };
          })
        }
        onToggle={(runId, on) =>
          setSelected(s => {
            const next = new Set(s);
            if (on) {
              next.add(runId);
            } else {
              next.delete(runId);
            }
            return next;
          })
        }
        onToggleAll={on => setSelected(on ? new Set(sorted.map(r => r.run_id)) : new Set())}
        onOpen={run => props.openRun(run.run_id, run.run_name)}
      />
      <div className="mlnb-ws-chart-note">{chartNote}</div>
      <ChartGrid
        charts={state.charts}
        chartRuns={chartRuns}
        tableRuns={tableRuns}
        grouping={grouping}
        metricKeys={runs.metrics}
        numericColumns={numericColumns}
        onChange={charts => update({ charts })}
      />
    </div>
  );
}

function localStorageGet(key: string): string | null {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}

function localStorageSet(key: string, value: string): void {
  try {
    window.localStorage.setItem(key, value);
  } catch {
    // storage disabled: nothing remembered
  }
}
