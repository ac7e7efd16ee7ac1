/**
 * The bar above the run table: the run count and selection, Compare and Delete (or Restore).
 */
import * as React from 'react';

import { diffDisabledReason, orderPair } from '../diff/viewModel';
import { ExperimentsModel } from '../model';

function countText(model: ExperimentsModel): string {
  const { loading, total } = model.runs;
  const count = loading ? 'Loading…' : `${total} run${total === 1 ? '' : 's'}`;
  const selected = model.selection.size ? ` · ${model.selection.size} selected` : '';
  return count + selected;
}

/** The toolbar; `onCompare` opens the compare tab for the given run ids, `onDiff` the diff of two. */
export function RunToolbar(props: {
  model: ExperimentsModel;
  onCompare: (runIds: string[]) => void;
  onDiff: (runA: string, runB: string) => void;
}): JSX.Element {
  const { model } = props;
  const chosen = model.selectedRuns;
  const noDiff = diffDisabledReason(chosen.length);
  const readOnly = model.handshake.readOnly;
  return (
    <div className="mlnb-toolbar">
      <span className="mlnb-count">{countText(model)}</span>
      <button
        className="jp-mod-styled mlnb-compare-button"
        disabled={chosen.length < 2}
        onClick={() => props.onCompare(chosen.map(r => r.run_id))}
      >
        Compare
      </button>
      <button
        className="jp-mod-styled mlnb-diff-button"
        disabled={noDiff !== null}
        title={noDiff ?? 'Diff the two selected runs: params, tags, metrics, cell source, history, packages'}
        onClick={() => {
          const [a, b] = orderPair(chosen);
          props.onDiff(a.run_id, b.run_id);
        }}
      >
        Diff
      </button>
      <button
        className="jp-mod-styled mlnb-delete-button"
        disabled={chosen.length === 0 || readOnly !== null}
        title={readOnly ?? undefined}
        onClick={() => void model.deleteOrRestoreSelected()}
      >
        {model.query.view === 'deleted' ? 'Restore' : 'Delete'}
      </button>
    </div>
  );
}
