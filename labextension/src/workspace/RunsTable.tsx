/**
 * The workspace's runs table, virtualised: only the rows in view (and a few around) are in the
 * DOM, so 10,000 runs scroll without lag. Headers sort (click, Enter), resize (drag the edge, or
 * focus it and press ←/→) and reorder (drag a header onto another, or Alt+←/→ on it).
 */
import * as React from 'react';

import { cellText, IWsRun } from './columns';
import { columnId, columnTitle, DEFAULT_WIDTH, IColumn, ISort, MAX_WIDTH, MIN_WIDTH } from './viewState';

export const ROW_HEIGHT = 26;
const OVERSCAN = 10;
const SELECT_WIDTH = 32;

export interface IRunsTableProps {
  runs: IWsRun[];
  columns: IColumn[];
  widths: Record<string, number>;
  sort: ISort | null;
  selected: Set<string>;
  onSort: (id: string) => void;
  onResize: (id: string, width: number) => void;
  onMove: (id: string, toId: string | null, delta: number) => void;
  onToggle: (runId: string, on: boolean) => void;
  onToggleAll: (on: boolean) => void;
  onOpen: (run: IWsRun) => void;
}

function HeaderCell(props: {
  column: IColumn;
  width: number;
  sort: ISort | null;
  onSort: (id: string) => void;
  onResize: (id: string, width: number) => void;
  onMove: (id: string, toId: string | null, delta: number) => void;
}): JSX.Element {
  const { column, width } = props;
  const id = columnId(column);
  const sorted = props.sort?.column === id ? (props.sort.descending ? 'descending' : 'ascending') : 'none';
  const startResize = (event: React.PointerEvent<HTMLSpanElement>): void => {
    event.preventDefault();
    event.stopPropagation();
    const startX = event.clientX;
    const startWidth = width;
    const move = (e: PointerEvent): void =>
      props.onResize(id, Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, startWidth + e.clientX - startX)));
    const up = (): void => {
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', up);
    };
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', up);
  };
  return (
    <div
      className="mlnb-ws-th"
      role="columnheader"
      aria-sort={sorted}
      style={{ width }}
      data-column={id}
      draggable
      onDragStart={e => e.dataTransfer.setData('text/x-mlnb-column', id)}
      onDragOver={e => e.preventDefault()}
      onDrop={e => {
        const from = e.dataTransfer.getData('text/x-mlnb-column');
        if (from && from !== id) {
          props.onMove(from, id, 0);
        }
      }}
    >
      <button
        className="mlnb-ws-sort"
        title={`${columnTitle(column)}: sort (Alt+←/→ moves the column)`}
        onClick={() => props.onSort(id)}
        onKeyDown={e => {
          if (e.altKey && (e.key === 'ArrowLeft' || e.key === 'ArrowRight')) {
            e.preventDefault();
            props.onMove(id, null, e.key === 'ArrowLeft' ? -1 : 1);
          }
        }}
      >
        {column.kind !== 'attr' && (
          <span className={`mlnb-ws-kind mlnb-ws-kind-${column.kind}`}>{column.kind[0]}</span>
        )}
        {columnTitle(column)}
        {sorted !== 'none' && <span aria-hidden="true">{sorted === 'descending' ? ' ▼' : ' ▲'}</span>}
      </button>
      <span
        className="mlnb-ws-resize"
        role="separator"
        aria-orientation="vertical"
        aria-label={`width of ${columnTitle(column)}`}
        aria-valuenow={width}
        aria-valuemin={MIN_WIDTH}
        aria-valuemax={MAX_WIDTH}
        tabIndex={0}
        onPointerDown={startResize}
        onKeyDown={e => {
          if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
            e.preventDefault();
            const next = width + (e.key === 'ArrowLeft' ? -10 : 10);
            props.onResize(id, Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, next)));
          }
        }}
      />
    </div>
  );
}

export function RunsTable(props: IRunsTableProps): JSX.Element {
  const { runs, columns, widths, selected } = props;
  const scroller = React.useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = React.useState(0);
  const [height, setHeight] = React.useState(400);
  React.useEffect(() => {
    const element = scroller.current;
    if (!element) {
      return;
    }
    setHeight(element.clientHeight || 400);
    if (typeof ResizeObserver === 'undefined') {
      return;
    }
    const observer = new ResizeObserver(() => setHeight(element.clientHeight || 400));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  const widthOf = (c: IColumn): number => widths[columnId(c)] ?? DEFAULT_WIDTH;
  const total = SELECT_WIDTH + columns.reduce((a, c) => a + widthOf(c), 0);
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(runs.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  const allSelected = runs.length > 0 && runs.every(r => selected.has(r.run_id));
  const rows: JSX.Element[] = [];
  for (let i = first; i < last; i++) {
    const run = runs[i];
    const isSelected = selected.has(run.run_id);
    rows.push(
      <div
        key={run.run_id}
        className={`mlnb-ws-tr${isSelected ? ' mlnb-selected' : ''}`}
        role="row"
        aria-rowindex={i + 2}
        aria-selected={isSelected}
        style={{ top: i * ROW_HEIGHT, width: total }}
        data-run-id={run.run_id}
      >
        <div className="mlnb-ws-td mlnb-ws-check" role="cell" style={{ width: SELECT_WIDTH }}>
          <input
            type="checkbox"
            aria-label={`select run ${run.run_name}`}
            checked={isSelected}
            onChange={e => props.onToggle(run.run_id, e.target.checked)}
          />
        </div>
        {columns.map(column => {
          const id = columnId(column);
          const content = cellText(run, column);
          return (
            <div
              key={id}
              className="mlnb-ws-td"
              role="cell"
              style={{ width: widthOf(column) }}
              title={content}
            >
              {column.kind === 'attr' && column.key === 'run_name' ? (
                <button className="mlnb-link" onClick={() => props.onOpen(run)}>
                  {content || run.run_id.slice(0, 8)}
                </button>
              ) : (
                content
              )}
            </div>
          );
        })}
      </div>
    );
  }
  return (
    <div className="mlnb-ws-table" role="table" aria-label="runs" aria-rowcount={runs.length + 1}>
      <div
        className="mlnb-ws-scroll"
        ref={scroller}
        onScroll={e => setScrollTop((e.target as HTMLDivElement).scrollTop)}
      >
        <div className="mlnb-ws-thead" role="row" aria-rowindex={1} style={{ width: total }}>
          <div className="mlnb-ws-th mlnb-ws-check" role="columnheader" style={{ width: SELECT_WIDTH }}>
            <input
              type="checkbox"
              aria-label="select every run listed"
              checked={allSelected}
              onChange={e => props.onToggleAll(e.target.checked)}
            />
          </div>
          {columns.map(column => (
            <HeaderCell
              key={columnId(column)}
              column={column}
              width={widthOf(column)}
              sort={props.sort}
              onSort={props.onSort}
              onResize={props.onResize}
              onMove={props.onMove}
            />
          ))}
        </div>
        <div
          className="mlnb-ws-tbody"
          role="rowgroup"
          style={{ height: runs.length * ROW_HEIGHT, width: total }}
        >
          {rows}
        </div>
      </div>
    </div>
  );
}
