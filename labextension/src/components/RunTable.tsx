/**
 * The virtualised run table: only the rows in view (plus a margin) are in the DOM, so 10,000
 * loaded runs scroll smoothly. Every user value is a React text child (escaped by React).
 */
import * as React from 'react';

import type { ISort } from '../model';
import { formatValue, IRun } from '../tokens';

export const ROW_HEIGHT = 26;
const OVERSCAN = 8;
const MAX_METRIC_COLUMNS = 6;
const MAX_PARAM_COLUMNS = 4;

export interface IRunTableProps {
  runs: IRun[];
  total: number;
  metricKeys: string[];
  paramKeys: string[];
  selected: ReadonlySet<string>;
  sort: ISort;
  onSort: (column: string) => void;
  onToggle: (runId: string) => void;
  onOpen: (run: IRun) => void;
  onNearEnd: () => void;
}

interface IColumn {
  title: string;
  field: string | null; // order_by field, null when not sortable
  width: number;
  cell: (run: IRun) => React.ReactNode;
}

export function StatusBadge(props: { status: string; deleted?: boolean }): JSX.Element {
  const status = props.deleted ? 'DELETED' : props.status;
  return (
    <span className={`mlnb-badge mlnb-badge-${status.toLowerCase()}`} title={status}>
      {status === 'RUNNING' ? '● ' : ''}
      {status}
    </span>
  );
}

function quoteKey(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : `\`${key}\``;
}

function columnsFor(props: IRunTableProps): IColumn[] {
  const columns: IColumn[] = [
    {
      title: '',
      field: null,
      width: 28,
      cell: run => (
        <input
          type="checkbox"
          aria-label="select run"
          checked={props.selected.has(run.run_id)}
          onClick={event => event.stopPropagation()}
          onChange={() => props.onToggle(run.run_id)}
        />
      )
    },
    {
      title: 'Status',
      field: 'attributes.status',
      width: 92,
      cell: run => <StatusBadge status={run.status} deleted={run.lifecycle_stage === 'deleted'} />
    },
    { title: 'Run', field: 'attributes.run_name', width: 150, cell: run => run.run_name },
    {
      title: 'Started',
      field: 'attributes.start_time',
      width: 130,
      cell: run => new Date(run.start_time).toLocaleString()
    }
  ];
  for (const key of props.metricKeys.slice(0, MAX_METRIC_COLUMNS)) {
    columns.push({
      title: key,
      field: `metrics.${quoteKey(key)}`,
      width: 90,
      cell: run => formatValue(run.metrics[key])
    });
  }
  for (const key of props.paramKeys.slice(0, MAX_PARAM_COLUMNS)) {
    columns.push({
      title: key,
      field: `params.${quoteKey(key)}`,
      width: 90,
      cell: run => run.params[key] ?? ''
    });
  }
  return columns;
}

function TableHead(props: {
  columns: IColumn[];
  width: number;
  sort: ISort;
  onSort: (c: string) => void;
}): JSX.Element {
  const { sort } = props;
  return (
    <div className="mlnb-table-head" role="row" style={{ width: props.width }}>
      {props.columns.map((column, index) => (
        <div
          key={index}
          role="columnheader"
          className={`mlnb-th${column.field ? ' mlnb-sortable' : ''}`}
          style={{ width: column.width }}
          title={column.field ? `Sort by ${column.title}` : undefined}
          onClick={() => column.field && props.onSort(column.field)}
        >
          {column.title}
          {sort.column === column.field ? (sort.descending ? ' ▼' : ' ▲') : ''}
        </div>
      ))}
    </div>
  );
}

function TableRow(props: {
  run: IRun;
  index: number;
  columns: IColumn[];
  selected: boolean;
  onOpen: (run: IRun) => void;
}): JSX.Element {
  const { run } = props;
  return (
    <div
      role="row"
      data-run-id={run.run_id}
      className={`mlnb-tr${props.selected ? ' mlnb-selected' : ''}`}
      style={{ top: props.index * ROW_HEIGHT, height: ROW_HEIGHT }}
      onClick={() => props.onOpen(run)}
    >
      {props.columns.map((column, index) => (
        <div key={index} role="cell" className="mlnb-td" style={{ width: column.width }}>
          {column.cell(run)}
        </div>
      ))}
    </div>
  );
}

/** The height of the table body's visible area, kept up to date. */
function useHeight(element: React.RefObject<HTMLDivElement>, initial: number): number {
  const [height, setHeight] = React.useState(initial);
  React.useEffect(() => {
    const current = element.current;
    if (!current) {
      return;
    }
    const observer = new ResizeObserver(() => setHeight(current.clientHeight || initial));
    observer.observe(current);
    return () => observer.disconnect();
  }, [element, initial]);
  return height;
}

/** The run table; only the rows in view (and a margin) are rendered. */
export function RunTable(props: IRunTableProps): JSX.Element {
  const [scrollTop, setScrollTop] = React.useState(0);
  const scroller = React.useRef<HTMLDivElement>(null);
  const height = useHeight(scroller, 400);

  const columns = columnsFor(props);
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(props.runs.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  const totalWidth = columns.reduce((sum, c) => sum + c.width, 0);

  const onScroll = (event: React.UIEvent<HTMLDivElement>): void => {
    const element = event.currentTarget;
    setScrollTop(element.scrollTop);
    if (element.scrollTop + element.clientHeight > props.runs.length * ROW_HEIGHT - 10 * ROW_HEIGHT) {
      props.onNearEnd();
    }
  };

  return (
    <div className="mlnb-table" role="table" aria-rowcount={props.total}>
      <TableHead columns={columns} width={totalWidth} sort={props.sort} onSort={props.onSort} />
      <div className="mlnb-table-body" ref={scroller} onScroll={onScroll}>
        <div style={{ height: props.runs.length * ROW_HEIGHT, position: 'relative', width: totalWidth }}>
          {props.runs.slice(first, last).map((run, i) => (
            <TableRow
              key={run.run_id}
              run={run}
              index={first + i}
              columns={columns}
              selected={props.selected.has(run.run_id)}
              onOpen={props.onOpen}
            />
          ))}
        </div>
      </div>
    </div>
  );
}
