/**
 * mlnb's JupyterLab plugins: the Experiments sidebar, a run tab, and a compare tab.
 */
import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { Compare } from './components/Compare';
import { GenaiCompare } from './components/GenaiCompare';
import { RunDetail } from './components/RunDetail';
import { askDeleteOrRestore } from './dialogs';
import { addDiffCommand, DIFF_COMMAND } from './diff/command';
import { deleteOrRestoreRuns } from './model';
import { experimentsIcon, ExperimentsPanel } from './sidebar';
import { addWorkspace, OPEN_WORKSPACE } from './workspace/plugin';

const COMMANDS = {
  openRun: 'mlnb:open-run',
  compare: 'mlnb:compare-runs',
  compareGenai: 'mlnb:compare-genai-evaluations',
  showPanel: 'mlnb:show-experiments'
};

/** The few fields of a notebook panel used here (no dependency on @jupyterlab/notebook). */
interface ICellLike {
  model?: { id?: string };
}

interface INotebookPanelLike {
  id: string;
  context?: { ready: Promise<void> };
  revealed: Promise<void>;
  content?: {
    widgets?: readonly ICellLike[];
    activeCellIndex: number;
    scrollToCell?: (cell: ICellLike, align: string) => Promise<void>;
  };
}

/** Open a notebook and make the cell with ``cellId`` active and visible. */
async function openNotebookAtCell(app: JupyterFrontEnd, path: string, cellId: string | null): Promise<void> {
  const widget = (await app.commands.execute('docmanager:open', { path })) as INotebookPanelLike | undefined;
  if (!widget || !cellId) {
    return;
  }
  await widget.context?.ready;
  await widget.revealed;
  const notebook = widget.content;
  const cells = notebook?.widgets ?? [];
  const index = cells.findIndex(cell => cell.model?.id === cellId);
  if (!notebook || index < 0) {
    return;
  }
  notebook.activeCellIndex = index;
  if (typeof notebook.scrollToCell === 'function') {
    await notebook.scrollToCell(cells[index], 'center');
  }
  app.shell.activateById(widget.id);
}

function mainAreaTab(id: string, label: string, content: JSX.Element): MainAreaWidget {
  const body = ReactWidget.create(content);
  body.addClass('mlnb-tab-body');
  const widget = new MainAreaWidget({ content: body });
  widget.id = id;
  widget.title.label = label;
  widget.title.icon = experimentsIcon;
  widget.title.closable = true;
  return widget;
}

/** Show a tab in the main area, or the tab with the same id that is already there. */
function openTab(app: JupyterFrontEnd, widget: MainAreaWidget): void {
  const existing = [...app.shell.widgets('main')].find(w => w.id === widget.id);
  if (existing) {
    widget.dispose();
    app.shell.activateById(existing.id);
    return;
  }
  app.shell.add(widget, 'main');
  app.shell.activateById(widget.id);
}

function addTabCommands(app: JupyterFrontEnd, readOnly: () => string | null): void {
  app.commands.addCommand(COMMANDS.openRun, {
    label: 'Open mlnb run',
    execute: args => {
      const runId = String(args.runId);
      const runName =
        typeof args.runName === 'string' && args.runName ? args.runName : `Run ${runId.slice(0, 8)}`;
      openTab(
        app,
        mainAreaTab(
          `mlnb-run-${runId}`,
          runName, // a tab label is set as text, never as HTML
          <RunDetail
            runId={runId}
            openNotebook={(path, cellId) => openNotebookAtCell(app, path, cellId)}
            onDeleteOrRestore={run =>
              deleteOrRestoreRuns([run], run.lifecycle_stage === 'deleted', askDeleteOrRestore)
            }
            readOnly={readOnly()}
          />
        )
      );
    }
  });

  app.commands.addCommand(COMMANDS.compare, {
    label: 'Compare mlnb runs',
    execute: args => {
      const runIds = (args.runIds as string[]) ?? [];
      openTab(
        app,
        mainAreaTab(
          `mlnb-compare-${runIds.join('-').slice(0, 200)}`,
          `Compare ${runIds.length} runs`,
          <Compare runIds={runIds} />
        )
      );
    }
  });

  app.commands.addCommand(COMMANDS.compareGenai, {
    label: 'Compare mlnb GenAI evaluations',
    execute: args => {
      const runIds = (args.runIds as string[]) ?? [];
      openTab(
        app,
        mainAreaTab(
          `mlnb-genai-compare-${runIds.join('-').slice(0, 200)}`,
          `Compare ${runIds.length} GenAI evaluations`,
          <GenaiCompare runIds={runIds} readOnly={readOnly()} />
        )
      );
    }
  });
}

function activate(
  app: JupyterFrontEnd,
  labShell: ILabShell | null,
  palette: ICommandPalette | null,
  launcher: ILauncher | null
): void {
  const openRun = (runId: string, runName: string): void =>
    void app.commands.execute(COMMANDS.openRun, { runId, runName });
  const panel = new ExperimentsPanel({
    openRun,
    compare: runIds => void app.commands.execute(COMMANDS.compare, { runIds }),
    diff: (runA, runB) => void app.commands.execute(DIFF_COMMAND, { runA, runB }),
    compareGenai: runIds => void app.commands.execute(COMMANDS.compareGenai, { runIds }),
    openWorkspace: experimentId => void app.commands.execute(OPEN_WORKSPACE, { experimentId })
  });
  app.shell.add(panel, 'left', { rank: 900 });
  addTabCommands(app, () => panel.readOnly);
  addDiffCommand(app, {
    selectedRuns: () => panel.selectedRuns,
    openTab: (id, label, content) => openTab(app, mainAreaTab(id, label, content)),
    setLabel: (id, label) => {
      const tab = [...app.shell.widgets('main')].find(w => w.id === id);
      if (tab) {
        tab.title.label = label; // text, never HTML
      }
    },
    openRun,
    palette
  });
  addWorkspace(app, openRun, () => panel.readOnly, palette, launcher);

  app.commands.addCommand(COMMANDS.showPanel, {
    label: 'Show Experiments (mlnb)',
    execute: () => app.shell.activateById(panel.id)
  });
  void labShell; // the panel works in any shell with a left area
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'mlnb:experiments',
  description: 'mlnb Experiments sidebar: runs, compare, run details and the model registry.',
  autoStart: true,
  optional: [ILabShell, ICommandPalette, ILauncher],
  activate
};

export default plugin;
