/**
 * The cells executed in each run's kernel before the run, side by side: same, edited, or run in
 * one only; long stretches of identical cells folded behind a button that opens them.
 */
import * as React from 'react';

import { IHistoryDiff, IHistoryEntry } from './types';
import { foldHistory, historyLabel } from './viewModel';

function firstLine(source: string | null): string {
  if (source === null) {
    return '(source not found)';
  }
  const line = source.split('\n').find(l => l.trim()) ?? '';
  return line.length > 100 ? `${line.slice(0, 100)}…` : line;
}

function HistoryCell(props: { entry: IHistoryEntry | null }): JSX.Element {
  const { entry } = props;
  if (!entry) {
    return <td className="mlnb-history-cell mlnb-line-empty" />;
  }
  return (
    <td className="mlnb-history-cell" title={entry.source ?? `sha256 ${entry.sha256}`}>
      <span className="mlnb-history-count">[{entry.execution_count ?? ' '}]</span>{' '}
      <code>{firstLine(entry.source)}</code> <span className="mlnb-muted">{entry.sha256.slice(0, 8)}</span>
    </td>
  );
}

/** The two kernel histories aligned line by line, with long identical stretches folded. */
export function HistorySection(props: { history: IHistoryDiff }): JSX.Element {
  const { history } = props;
  const [expanded, setExpanded] = React.useState<ReadonlySet<number>>(new Set());
  const items = foldHistory(history.rows, expanded);
  const missing = [!history.recorded_a && 'a', !history.recorded_b && 'b'].filter(Boolean);
  return (
    <section className="mlnb-section mlnb-diff-history">
      <h3>Cells executed before the run</h3>
      {missing.length > 0 && (
        <div className="mlnb-muted">Run {missing.join(' and ')} recorded no kernel history.</div>
      )}
      {history.rows.length > 0 && (
        <div className="mlnb-muted">
          {history.identical
            ? 'The same cells, in the same order, in both runs.'
            : `${history.rows.length} lines`}
        </div>
      )}
      {history.rows.length > 0 && (
        <table className="mlnb-kv mlnb-diff-table mlnb-history-table">
          <thead>
            <tr>
              <th>a</th>
              <th>b</th>
              <th>change</th>
            </tr>
          </thead>
          <tbody>
            {items.map(item =>
              item.kind === 'fold' ? (
                <tr key={`f${item.start}`} className="mlnb-history-fold">
                  <td colSpan={3}>
                    <button
                      className="mlnb-link-button mlnb-unfold"
                      onClick={() => setExpanded(new Set([...expanded, item.start]))}
                    >
                      {item.rows.length} cells the same in both runs: show them
                    </button>
                  </td>
                </tr>
              ) : (
                <tr
                  key={item.index}
                  className={`mlnb-history-${item.row.status}`}
                  data-status={item.row.status}
                >
                  <HistoryCell entry={item.row.a} />
                  <HistoryCell entry={item.row.b} />
                  <td className="mlnb-diff-status">{historyLabel(item.row)}</td>
                </tr>
              )
            )}
          </tbody>
        </table>
      )}
    </section>
  );
}
