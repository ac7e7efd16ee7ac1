/**
 * The "Experiments" panel in JupyterLab's left sidebar: experiment selector, filter box (the
 * search grammar, errors shown inline), a live virtualised run table, compare / delete / restore,
 * and the Models section.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { LabIcon, ReactWidget } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import * as api from './api';
import { ModelsSection } from './components/Models';
import { ISort, RunTable } from './components/RunTable';
import { RunsModel } from './model';
import { API_VERSION, IExperiment, IRun, RunView } from './tokens';

export const PANEL_ID = 'mlnb-experiments-panel';

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
<path class="jp-icon3" fill="#616161" d="M9 2v2h1v5.2L4.4 18.6A2 2 0 0 0 6.1 22h11.8a2 2 0 0 0 1.7-3.4L14 9.2V4h1V2H9zm3 2v5.8l2.6 4.2H9.4L12 9.8V4z"/>
</svg>`;

export const experimentsIcon = new LabIcon({ name: 'mlnb:experiments', svgstr: ICON_SVG });

export interface IPanelActions {
  openRun: (runId: string, runName: string) => void;
  compare: (runIds: string[]) => void;
}

export async function confirmDeleteOrRestore(runs: Array<Pick<IRun, 'run_id' | 'run_name' | 'lifecycle_stage'>>,
  restore: boolean): Promise<boolean> {
  const names = runs.slice(0, 5).map(r => r.run_name).join(', ') + (runs.length > 5 ? ', …' : '');
  const verb = restore ? 'Restore' : 'Delete';
  const result = await showDialog({
    title: `${verb} ${runs.length} run${runs.length === 1 ? '' : 's'}?`,
    body: restore
      ? `Restore ${names}?`
      : `Delete ${names}? Deleted runs are hidden; show "Deleted runs" to restore them.`,
    buttons: [Dialog.cancelButton(), restore ? Dialog.okButton({ label: verb }) : Dialog.warnButton({ label: verb })]
  });
  if (!result.button.accept) {
    return false;
  }
  for (const run of runs) {
    await (restore ? api.restoreRun(run.run_id) : api.deleteRun(run.run_id));
  }
  return true;
}

function handshakeMessage(error: unknown): string {
  if (error instanceof api.ApiError && error.status === 404) {
    return 'The mlnb server extension is not running in this Jupyter server. Install mlnb in the ' +
      "server's environment (pip install mlnb) and restart JupyterLab; `jupyter server extension list` " +
      'should show mlnb enabled.';
  }
  return `Cannot reach the mlnb server extension: ${error instanceof Error ? error.message : String(error)}`;
}

function Panel(props: { model: RunsModel; actions: IPanelActions; shown: number }): JSX.Element {
  const { model } = props;
  const [state, setState] = React.useState(model.state);
  const [problem, setProblem] = React.useState<string | null>(null);
  const [storeUri, setStoreUri] = React.useState('');
  const [experiments, setExperiments] = React.useState<IExperiment[]>([]);
  const [experimentId, setExperimentId] = React.useState('');
  const [filterText, setFilterText] = React.useState('');
  const [filter, setFilter] = React.useState('');
  const [view, setView] = React.useState<RunView>('active');
  const [sort, setSort] = React.useState<ISort>({ column: 'attributes.start_time', descending: true });
  const [selected, setSelected] = React.useState<Set<string>>(new Set());
  const [modelsOpen, setModelsOpen] = React.useState(true);
  const [modelsKey, setModelsKey] = React.useState(0);
  const [actionError, setActionError] = React.useState<string | null>(null);

  React.useEffect(() => model.subscribe(() => setState(model.state)), [model]);

  React.useEffect(() => {
    api.getVersion().then(
      version => {
        if (version.api_version !== API_VERSION) {
          setProblem(`This sidebar speaks mlnb API ${API_VERSION}, but the server extension (mlnb ` +
            `${version.mlnb_version}) speaks API ${version.api_version}. Reinstall mlnb so both ` +
            'come from the same version, then restart JupyterLab and reload the page.');
        } else {
          setProblem(null);
          setStoreUri(version.store);
        }
      },
      error => setProblem(handshakeMessage(error))
    );
  }, []);

  React.useEffect(() => {
    if (problem === null) {
      api.listExperiments().then(setExperiments, () => undefined);
      setModelsKey(k => k + 1);
    }
  }, [props.shown, problem]);

  React.useEffect(() => {
    if (problem !== null) {
      return;
    }
    model.setQuery({
      experimentId,
      filter,
      orderBy: `${sort.column} ${sort.descending ? 'DESC' : 'ASC'}`,
      view,
      limit: 100
    });
  }, [experimentId, filter, view, sort, problem]);

  // Apply the filter 400 ms after the last keystroke (or at once on Enter).
  React.useEffect(() => {
    const timer = window.setTimeout(() => setFilter(filterText.trim()), 400);
    return () => window.clearTimeout(timer);
  }, [filterText]);

  if (problem) {
    return (
      <div className="mlnb-panel">
        <div className="mlnb-panel-title">Experiments</div>
        <div className="mlnb-error mlnb-handshake">{problem}</div>
      </div>
    );
  }

  const toggle = (runId: string): void => {
    const next = new Set(selected);
    if (next.has(runId)) {
      next.delete(runId);
    } else {
      next.add(runId);
    }
    setSelected(next);
  };
  const chosenRuns = state.runs.filter(r => selected.has(r.run_id));
  const onSort = (column: string): void =>
    setSort(sort.column === column ? { column, descending: !sort.descending } : { column, descending: true });
  const deleteOrRestore = async (): Promise<void> => {
    try {
      if (await confirmDeleteOrRestore(chosenRuns, view === 'deleted')) {
        setSelected(new Set());
        await model.refreshNow();
      }
    } catch (error) {
      setActionError((error as Error).message);
    }
  };

  return (
    <div className="mlnb-panel" data-first-rows-ms={state.firstRowsMs ?? ''}>
      <div className="mlnb-panel-title" title={storeUri}>
        Experiments
      </div>
      <div className="mlnb-controls">
        <select
          className="mlnb-experiment-select"
          aria-label="experiment"
          value={experimentId}
          onChange={event => {
            setExperimentId(event.target.value);
            setSelected(new Set());
          }}
        >
          <option value="">All experiments</option>
          {experiments.map(e => (
            <option key={e.experiment_id} value={e.experiment_id}>
              {e.name}
            </option>
          ))}
        </select>
        <select
          className="mlnb-view-select"
          aria-label="run view"
          value={view}
          onChange={event => {
            setView(event.target.value as RunView);
            setSelected(new Set());
          }}
        >
          <option value="active">Active runs</option>
          <option value="deleted">Deleted runs</option>
          <option value="all">All runs</option>
        </select>
      </div>
      <input
        className={`mlnb-filter${state.filterError ? ' mlnb-invalid' : ''}`}
        placeholder="Filter: metrics.acc > 0.9 and params.lr = '0.1'"
        aria-label="filter runs"
        spellCheck={false}
        value={filterText}
        onChange={event => setFilterText(event.target.value)}
        onKeyDown={event => event.key === 'Enter' && setFilter(filterText.trim())}
      />
      {state.filterError && <pre className="mlnb-filter-error">{state.filterError}</pre>}
      {state.error && <div className="mlnb-error">{state.error}</div>}
      {actionError && (
        <div className="mlnb-error" onClick={() => setActionError(null)}>
          {actionError}
        </div>
      )}
      <div className="mlnb-toolbar">
        <span className="mlnb-count">
          {state.loading ? 'Loading…' : `${state.total} run${state.total === 1 ? '' : 's'}`}
          {selected.size ? ` · ${selected.size} selected` : ''}
        </span>
        <button
          className="jp-mod-styled mlnb-compare-button"
          disabled={chosenRuns.length < 2}
          onClick={() => props.actions.compare(chosenRuns.map(r => r.run_id))}
        >
          Compare
        </button>
        <button
          className="jp-mod-styled mlnb-delete-button"
          disabled={chosenRuns.length === 0}
          onClick={() => void deleteOrRestore()}
        >
          {view === 'deleted' ? 'Restore' : 'Delete'}
        </button>
      </div>
      <RunTable
        runs={state.runs}
        total={state.total}
        metricKeys={state.metricKeys}
        paramKeys={state.paramKeys}
        selected={selected}
        sort={sort}
        onSort={onSort}
        onToggle={toggle}
        onOpen={run => props.actions.openRun(run.run_id, run.run_name)}
        onNearEnd={() => model.loadMore()}
      />
      <div className="mlnb-models-head" onClick={() => setModelsOpen(!modelsOpen)}>
        {modelsOpen ? '▾' : '▸'} Models
      </div>
      {modelsOpen && <ModelsSection refreshKey={modelsKey} />}
    </div>
  );
}

/** The sidebar widget; the run poll stands by while it is hidden. */
export class ExperimentsPanel extends ReactWidget {
  constructor(actions: IPanelActions) {
    super();
    this.id = PANEL_ID;
    this.addClass('mlnb-experiments');
    this.title.icon = experimentsIcon;
    this.title.caption = 'Experiments (mlnb)';
    this._actions = actions;
    this._model = new RunsModel(() => this.isVisible);
  }

  render(): JSX.Element {
    return <Panel model={this._model} actions={this._actions} shown={this._shown} />;
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._shown += 1;
    this.update();
    void this._model.refreshNow();
  }

  dispose(): void {
    this._model.dispose();
    super.dispose();
  }

  private _actions: IPanelActions;
  private _model: RunsModel;
  private _shown = 0;
}
