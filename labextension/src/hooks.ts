/**
 * React hooks shared by the views: re-render on a Lumino signal, and load data from the API.
 */
import { ISignal } from '@lumino/signaling';
import * as React from 'react';

import { errorMessage } from './api';

/** Re-render the calling component each time `signal` is emitted. */
export function useSignal<T>(signal: ISignal<T, unknown>): void {
  const [, setTicks] = React.useState(0);
  React.useEffect(() => {
    const slot = (): void => setTicks(ticks => ticks + 1);
    signal.connect(slot);
    slot(); // render once more: an emission between the first render and now would be lost
    return () => {
      signal.disconnect(slot);
    };
  }, [signal]);
}

/** A request's latest result. */
export interface IRequest<T> {
  /** The last data loaded (kept while a reload runs), or null before the first answer. */
  data: T | null;
  /** The last load's error message, or null when it succeeded. */
  error: string | null;
  /** Load again (the data stays shown meanwhile). */
  reload: () => void;
  /** Forget the error (the user dismissed it). */
  clearError: () => void;
}

/**
 * Load data when the component mounts and again whenever `deps` change or `reload` is called.
 * An answer that arrives after a newer load started, or after unmount, is dropped. With
 * `load` null, nothing is loaded and the last data stays.
 *
 * `deps` must list every value `load` uses (as for `useEffect`), and may add reload triggers.
 */
export function useRequest<T>(load: (() => Promise<T>) | null, deps: React.DependencyList): IRequest<T> {
  const [state, setState] = React.useState<{ data: T | null; error: string | null }>({
    data: null,
    error: null
  });
  const [generation, setGeneration] = React.useState(0);
  const reload = React.useCallback(() => setGeneration(g => g + 1), []);
  const clearError = React.useCallback(() => setState(s => ({ ...s, error: null })), []);

  React.useEffect(() => {
    if (!load) {
      return;
    }
    let current = true;
    load().then(
      data => current && setState({ data, error: null }),
      error => current && setState(s => ({ ...s, error: errorMessage(error) }))
    );
    return () => {
      current = false;
    };
    // The caller's deps stand for `load`, which is a new function at every render.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, generation]);

  return { ...state, reload, clearError };
}

/** Run an action; report its failure's message instead of throwing. */
export async function reportFailure(
  action: () => Promise<unknown>,
  onError: (message: string) => void
): Promise<void> {
  try {
    await action();
  } catch (error) {
    onError(errorMessage(error));
  }
}
