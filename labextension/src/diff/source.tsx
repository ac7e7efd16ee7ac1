/**
 * The tracked cell's source of two runs: a side-by-side or unified diff, lines numbered and
 * tinted, or the one source when they are the same. Source lines are React text.
 */
import * as React from 'react';

import { ICell, ISourceDiff } from './types';
import { IDiffLine, parseUnified, sideBySide } from './viewModel';

function lineNo(no: number | null): string {
  return no === null ? '' : String(no);
}

const PREFIX: Record<string, string> = { add: '+', del: '-', context: ' ' };

function UnifiedDiff(props: { lines: IDiffLine[] }): JSX.Element {
  return (
    <table className="mlnb-code-diff mlnb-code-unified">
      <tbody>
        {props.lines
          .filter(line => line.kind !== 'file')
          .map((line, i) =>
            line.kind === 'hunk' || line.kind === 'note' ? (
              <tr key={i} className={`mlnb-line-${line.kind}`}>
                <td colSpan={3}>{line.text}</td>
              </tr>
            ) : (
              <tr key={i} className={`mlnb-line-${line.kind}`}>
                <td className="mlnb-line-no">{lineNo(line.oldNo)}</td>
                <td className="mlnb-line-no">{lineNo(line.newNo)}</td>
                <td className="mlnb-line-text">
                  {PREFIX[line.kind]}
                  {line.text}
                </td>
              </tr>
            )
          )}
      </tbody>
    </table>
  );
}

function SideBySideDiff(props: { lines: IDiffLine[] }): JSX.Element {
  const half = (line: IDiffLine | null, no: number | null, key: string): JSX.Element[] => [
    <td key={`${key}n`} className={`mlnb-line-no ${line ? `mlnb-line-${line.kind}` : 'mlnb-line-empty'}`}>
      {lineNo(no)}
    </td>,
    <td key={`${key}t`} className={`mlnb-line-text ${line ? `mlnb-line-${line.kind}` : 'mlnb-line-empty'}`}>
      {line ? line.text : ''}
    </td>
  ];
  return (
    <table className="mlnb-code-diff mlnb-code-side">
      <tbody>
        {sideBySide(props.lines).map((row, i) =>
          row.kind === 'hunk' ? (
            <tr key={i} className="mlnb-line-hunk">
              <td colSpan={4}>{row.text}</td>
            </tr>
          ) : (
            <tr key={i}>
              {half(row.left, row.left?.oldNo ?? null, 'l')}
              {half(row.right, row.right?.newNo ?? null, 'r')}
            </tr>
          )
        )}
      </tbody>
    </table>
  );
}

function cellCaption(cell: ICell): string {
  const parts = [
    cell.cell_id ? `cell ${cell.cell_id}` : 'cell',
    cell.execution_count !== null ? `[${cell.execution_count}]` : '',
    `from ${cell.origin}`
  ];
  return (
    parts.filter(Boolean).join(' ') + (cell.truncated ? ' (truncated: only the start was recorded)' : '')
  );
}

/** The tracked cell of both runs: a diff (side by side or unified), or the one source. */
export function SourceSection(props: { cell: ISourceDiff }): JSX.Element {
  const { cell } = props;
  const [layout, setLayout] = React.useState<'side' | 'unified'>('side');
  const lines = React.useMemo(() => parseUnified(cell.unified), [cell.unified]);
  let body: JSX.Element;
  if (!cell.a && !cell.b) {
    body = (
      <div className="mlnb-muted">Neither run recorded the cell that made it (a script, or an import).</div>
    );
  } else if (!cell.a || !cell.b) {
    const known = (cell.a ?? cell.b) as ICell;
    body = (
      <>
        <div className="mlnb-muted">
          Only run {cell.a ? 'a' : 'b'} recorded its cell ({cellCaption(known)}):
        </div>
        <pre className="mlnb-cell-source">{known.source}</pre>
      </>
    );
  } else if (cell.identical || !cell.unified) {
    body = (
      <>
        <div className="mlnb-muted mlnb-diff-identical">
          The same source in both runs ({cellCaption(cell.a)}).
        </div>
        <pre className="mlnb-cell-source">{cell.a.source}</pre>
      </>
    );
  } else {
    body = (
      <>
        <div className="mlnb-diff-controls" role="group" aria-label="Diff layout">
          <button
            className="jp-mod-styled mlnb-diff-layout"
            aria-pressed={layout === 'side'}
            onClick={() => setLayout('side')}
          >
            Side by side
          </button>
          <button
            className="jp-mod-styled mlnb-diff-layout"
            aria-pressed={layout === 'unified'}
            onClick={() => setLayout('unified')}
          >
            Unified
          </button>
        </div>
        <div className="mlnb-muted">
          a: {cellCaption(cell.a)} · b: {cellCaption(cell.b)}
        </div>
        <div className="mlnb-code-scroll" tabIndex={0}>
          {layout === 'side' ? <SideBySideDiff lines={lines} /> : <UnifiedDiff lines={lines} />}
        </div>
      </>
    );
  }
  return (
    <section className="mlnb-section mlnb-diff-source">
      <h3>The tracked cell</h3>
      {body}
    </section>
  );
}
