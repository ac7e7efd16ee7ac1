/**
 * The `mlnb:diff-runs` command: opens the diff of two runs in a main-area tab. It takes
 * `{runA, runB}` (run ids; the workspace and the sidebar pass them); from the command palette,
 * with no arguments, it diffs the two runs selected in the sidebar.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette, showErrorMessage } from '@jupyterlab/apputils';
import * as React from 'react';

import { IRun } from '../tokens';
import { RunDiffView } from './RunDiffView';
import { diffArgs } from './viewModel';

export const DIFF_COMMAND = 'mlnb:diff-runs';

/** What the command needs from the application. */
export interface IDiffCommandHost {
  /** The runs selected in the sidebar (used when the command is given no runs). */
  selectedRuns: () => readonly IRun[];
  /** Show a main-area tab (or the open tab with this id). */
  openTab: (id: string, label: string, content: JSX.Element) => void;
  /** Set the label of the main-area tab with this id. */
  setLabel: (id: string, label: string) => void;
  /** Open a run's own tab. */
  openRun: (runId: string, runName: string) => void;
  palette: ICommandPalette | null;
}

function name(runId: string, runName: string | undefined): string {
  return runName || runId.slice(0, 8);
}

function label(runId: string, selected: readonly IRun[]): string {
  return name(runId, selected.find(r => r.run_id === runId)?.run_name);
}

/** Register `mlnb:diff-runs` (and put it in the command palette when there is one). */
export function addDiffCommand(app: JupyterFrontEnd, host: IDiffCommandHost): void {
  app.commands.addCommand(DIFF_COMMAND, {
    label: args => (args.runA ? 'Diff two mlnb runs' : 'Diff the two runs selected in Experiments (mlnb)'),
    caption: 'Params, tags, metric deltas, cell source, kernel history and packages of two runs',
    execute: async args => {
      const selected = host.selectedRuns();
      let pair: [string, string];
      try {
        pair = diffArgs(args, selected);
      } catch (error) {
        await showErrorMessage('Diff runs', error instanceof Error ? error.message : String(error));
        return;
      }
      const [a, b] = pair;
      // One tab per pair of runs, whichever way round (the tab can swap them).
      const id = `mlnb-diff-${[a, b].sort().join('-')}`;
      host.openTab(
        id,
        `Diff ${label(a, selected)} ↔ ${label(b, selected)}`,
        React.createElement(RunDiffView, {
          runA: a,
          runB: b,
          openRun: host.openRun,
          onRuns: (runA, runB) =>
            host.setLabel(
              id,
              `Diff ${name(runA.run_id, runA.run_name)} ↔ ${name(runB.run_id, runB.run_name)}`
            )
        })
      );
    }
  });
  host.palette?.addItem({ command: DIFF_COMMAND, category: 'mlnb' });
}
