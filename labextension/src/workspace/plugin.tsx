/**
 * The workspace's command (`mlnb:open-workspace`, args `experimentId`, `viewId`), its entries in
 * the command palette and the launcher, and the `?mlnb-view=<id>` link that opens a saved view.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { experimentsIcon } from '../sidebar';
import { Workspace } from './Workspace';

export const OPEN_WORKSPACE = 'mlnb:open-workspace';
export const VIEW_URL_PARAM = 'mlnb-view';

let counter = 0;

/**
 * Add the workspace command, and its palette and launcher items when those exist.
 *
 * @param app the application.
 * @param openRun opens a run's tab.
 * @param readOnly why the store may only be read, or null.
 * @param palette the command palette, if any.
 * @param launcher the launcher, if any.
 */
export function addWorkspace(
  app: JupyterFrontEnd,
  openRun: (runId: string, runName: string) => void,
  readOnly: () => string | null,
  palette: ICommandPalette | null,
  launcher: ILauncher | null
): void {
  app.commands.addCommand(OPEN_WORKSPACE, {
    label: args => (args.isLauncher ? 'Experiments' : 'Open the Experiments workspace (mlnb)'),
    caption: 'Runs table with chosen columns, chart grid, grouping over seeds and saved views',
    icon: args => (args.isPalette ? undefined : experimentsIcon),
    execute: args => {
      const viewId = typeof args.viewId === 'string' && args.viewId ? args.viewId : undefined;
      const experimentId =
        typeof args.experimentId === 'string' && args.experimentId ? args.experimentId : undefined;
      const existing = [...app.shell.widgets('main')].find(w => w.id.startsWith('mlnb-workspace'));
      if (existing && !viewId && !experimentId) {
        app.shell.activateById(existing.id);
        return existing;
      }
      const body = ReactWidget.create(
        <Workspace experimentId={experimentId} viewId={viewId} openRun={openRun} readOnly={readOnly()} />
      );
      body.addClass('mlnb-tab-body');
      body.addClass('mlnb-ws-body');
      const widget = new MainAreaWidget({ content: body });
      counter += 1;
      widget.id = `mlnb-workspace-${counter}`;
      widget.title.label = 'Experiments workspace';
      widget.title.icon = experimentsIcon;
      widget.title.closable = true;
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
      return widget;
    }
  });
  palette?.addItem({ command: OPEN_WORKSPACE, category: 'mlnb' });
  launcher?.add({ command: OPEN_WORKSPACE, category: 'Other', rank: 1 });
  void app.restored.then(() => {
    const url = new URL(window.location.href);
    const viewId = url.searchParams.get(VIEW_URL_PARAM);
    if (viewId) {
      url.searchParams.delete(VIEW_URL_PARAM);
      window.history.replaceState(window.history.state, '', url.toString());
      void app.commands.execute(OPEN_WORKSPACE, { viewId });
    }
  });
}
