/**
 * The "Experiments" panel in JupyterLab's left sidebar: experiment selector, filter box (the
 * search grammar, errors shown inline), a live virtualised run table, compare / delete / restore,
 * and the Models section. Its state lives in an `ExperimentsModel`; the components only render it.
 */
import { LabIcon, ReactWidget } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { GenaiEvaluationsSection } from './components/GenaiCompare';
import { LoggedModelsSection } from './components/LoggedModels';
import { ModelsSection } from './components/Models';
import { PromptsSection } from './components/Prompts';
import { QueryControls } from './components/QueryControls';
import { RunTable } from './components/RunTable';
import { RunToolbar } from './components/RunToolbar';
import { TracesSection } from './components/Traces';
import { askDeleteOrRestore } from './dialogs';
import { useSignal } from './hooks';
import { ExperimentsModel } from './model';
import { IRun } from './tokens';

/** The panel's DOM id (also its sidebar tab's data-id). */
export const PANEL_ID = 'mlnb-experiments-panel';

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
<path class="jp-icon3" fill="#616161" d="M9 2v2h1v5.2L4.4 18.6A2 2 0 0 0 6.1 22h11.8a2 2 0 0 0 1.7-3.4L14 9.2V4h1V2H9zm3 2v5.8l2.6 4.2H9.4L12 9.8V4z"/>
</svg>`;

/** The flask icon of the sidebar tab and of mlnb's main-area tabs. */
export const experimentsIcon = new LabIcon({ name: 'mlnb:experiments', svgstr: ICON_SVG });

/** What the panel asks the application to do. */
export interface IPanelActions {
  openRun: (runId: string, runName: string) => void;
  compare: (runIds: string[]) => void;
  /** Open the diff of two runs (a is compared against). */
  diff: (runA: string, runB: string) => void;
  compareGenai: (runIds: string[]) => void;
  /** Open the Experiments workspace on an experiment ('' for the last one shown there). */
  openWorkspace?: (experimentId: string) => void;
}

function HandshakeError(props: { problem: string }): JSX.Element {
  return (
    <div className="mlnb-panel">
      <div className="mlnb-panel-title">Experiments</div>
      <div className="mlnb-error mlnb-handshake">{props.problem}</div>
    </div>
  );
}

function Errors(props: { model: ExperimentsModel }): JSX.Element {
  const { model } = props;
  return (
    <>
      {model.runs.error && <div className="mlnb-error">{model.runs.error}</div>}
      {model.actionError && (
        <div className="mlnb-error" onClick={() => model.dismissActionError()}>
          {model.actionError}
        </div>
      )}
    </>
  );
}

function Runs(props: { model: ExperimentsModel; actions: IPanelActions }): JSX.Element {
  const { model } = props;
  return (
    <RunTable
      runs={model.runs.runs}
      total={model.runs.total}
      metricKeys={model.runs.metricKeys}
      paramKeys={model.runs.paramKeys}
      selected={model.selection}
      sort={model.query.sort}
      onSort={column => model.sortBy(column)}
      onToggle={runId => model.toggle(runId)}
      onOpen={run => props.actions.openRun(run.run_id, run.run_name)}
      onNearEnd={() => model.loadMore()}
    />
  );
}

function Models(props: { model: ExperimentsModel }): JSX.Element {
  const { model } = props;
  return (
    <>
      <div className="mlnb-models-head" onClick={() => model.toggleModels()}>
        {model.modelsOpen ? '▾' : '▸'} Models
      </div>
      {model.modelsOpen && (
        <ModelsSection refreshKey={model.modelsGeneration} readOnly={model.handshake.readOnly} />
      )}
    </>
  );
}

function LoggedModels(props: { model: ExperimentsModel }): JSX.Element {
  const { model } = props;
  const [open, setOpen] = React.useState(false);
  return (
    <>
      <div className="mlnb-models-head mlnb-logged-models-head" onClick={() => setOpen(!open)}>
        {open ? '▾' : '▸'} Logged models
      </div>
      {open && (
        <LoggedModelsSection experimentId={model.query.experimentId} refreshKey={model.modelsGeneration} />
      )}
    </>
  );
}

function Traces(props: { model: ExperimentsModel; actions: IPanelActions }): JSX.Element {
  const { model } = props;
  const [open, setOpen] = React.useState(false);
  return (
    <>
      <button
        className="mlnb-models-head mlnb-section-toggle mlnb-traces-head"
        aria-expanded={open}
        onClick={() => setOpen(!open)}
      >
        {open ? '▾' : '▸'} Traces
      </button>
      {open && (
        <TracesSection
          experimentId={model.query.experimentId}
          refreshKey={model.modelsGeneration}
          onOpenRun={runId => props.actions.openRun(runId, '')}
        />
      )}
    </>
  );
}

/** The prompt registry and the experiment's GenAI evaluations, each a collapsible section. */
function GenAI(props: { model: ExperimentsModel; actions: IPanelActions }): JSX.Element {
  const { model } = props;
  const [open, setOpen] = React.useState({ prompts: false, evaluations: false });
  const flip = (key: 'prompts' | 'evaluations'): void => setOpen(o => ({ ...o, [key]: !o[key] }));
  return (
    <>
      <button
        className="mlnb-models-head mlnb-section-toggle mlnb-prompts-head"
        aria-expanded={open.prompts}
        onClick={() => flip('prompts')}
      >
        {open.prompts ? '▾' : '▸'} Prompts
      </button>
      {open.prompts && (
        <PromptsSection refreshKey={model.modelsGeneration} readOnly={model.handshake.readOnly} />
      )}
      <button
        className="mlnb-models-head mlnb-section-toggle mlnb-genai-head"
        aria-expanded={open.evaluations}
        onClick={() => flip('evaluations')}
      >
        {open.evaluations ? '▾' : '▸'} GenAI evaluations
      </button>
      {open.evaluations && (
        <GenaiEvaluationsSection
          experimentId={model.query.experimentId}
          refreshKey={model.modelsGeneration}
          onCompare={props.actions.compareGenai}
        />
      )}
    </>
  );
}

function Panel(props: { model: ExperimentsModel; actions: IPanelActions }): JSX.Element {
  const { model, actions } = props;
  useSignal(model.changed);
  if (model.handshake.problem) {
    return <HandshakeError problem={model.handshake.problem} />;
  }
  return (
    <div className="mlnb-panel" data-first-rows-ms={model.runs.firstRowsMs ?? ''}>
      <div className="mlnb-panel-title" title={model.handshake.storeUri}>
        Experiments
        {actions.openWorkspace && (
          <button
            className="mlnb-open-workspace"
            title="Open the Experiments workspace: columns, charts, grouping, saved views"
            onClick={() => actions.openWorkspace?.(model.query.experimentId)}
          >
            Workspace
          </button>
        )}
      </div>
      {model.handshake.readOnly && (
        <div className="mlnb-muted mlnb-read-only" title={model.handshake.readOnly}>
          Read-only: {model.handshake.readOnly}
        </div>
      )}
      <QueryControls model={model} />
      <Errors model={model} />
      <RunToolbar model={model} onCompare={actions.compare} onDiff={actions.diff} />
      <Runs model={model} actions={actions} />
      <Models model={model} />
      <LoggedModels model={model} />
      <Traces model={model} actions={actions} />
      <GenAI model={model} actions={actions} />
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
    this._model = new ExperimentsModel({ isVisible: () => this.isVisible, confirm: askDeleteOrRestore });
    this._model.start();
  }

  render(): JSX.Element {
    return <Panel model={this._model} actions={this._actions} />;
  }

  /** The runs selected in the table (what the diff command uses when given no runs). */
  get selectedRuns(): IRun[] {
    return this._model.selectedRuns;
  }

  /** Why the store may only be read (write actions are unavailable), or null. */
  get readOnly(): string | null {
    return this._model.handshake.readOnly;
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._model.shown();
  }

  dispose(): void {
    this._model.dispose();
    super.dispose();
  }

  private _actions: IPanelActions;
  private _model: ExperimentsModel;
}
