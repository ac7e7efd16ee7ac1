/**
 * Confirmation dialogs (JupyterLab's, never the browser's).
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';

import { RunRef } from './model';

/** Ask whether to delete (or restore) runs; true when the user agreed. */
export async function askDeleteOrRestore(runs: RunRef[], restore: boolean): Promise<boolean> {
  const names =
    runs
      .slice(0, 5)
      .map(r => r.run_name)
      .join(', ') + (runs.length > 5 ? ', …' : '');
  const verb = restore ? 'Restore' : 'Delete';
  const result = await showDialog({
    title: `${verb} ${runs.length} run${runs.length === 1 ? '' : 's'}?`,
    body: restore
      ? `Restore ${names}?`
      : `Delete ${names}? Deleted runs are hidden; show "Deleted runs" to restore them.`,
    buttons: [
      Dialog.cancelButton(),
      restore ? Dialog.okButton({ label: verb }) : Dialog.warnButton({ label: verb })
    ]
  });
  return result.button.accept;
}

/** Ask with a warning button; true when the user agreed. */
export async function confirmWarning(title: string, body: string, label: string): Promise<boolean> {
  const result = await showDialog({
    title,
    body,
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label })]
  });
  return result.button.accept;
}
