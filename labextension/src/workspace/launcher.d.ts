/**
 * The one part of @jupyterlab/launcher the workspace uses. The package is one of JupyterLab's
 * core packages, shared at run time (the builder marks every core package `import: false`), so
 * the extension takes the running JupyterLab's token without bundling or installing it.
 */
declare module '@jupyterlab/launcher' {
  import { Token } from '@lumino/coreutils';
  import { IDisposable } from '@lumino/disposable';

  export interface ILauncher {
    add(options: {
      command: string;
      category?: string;
      rank?: number;
      args?: Record<string, unknown>;
    }): IDisposable;
  }
  export const ILauncher: Token<ILauncher>;
}
