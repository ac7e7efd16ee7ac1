/**
 * The virtualised run table: only the rows in view (plus a margin) are in the DOM, so 10,000
 * loaded runs scroll smoothly. Every user value is a React text child (escaped by React).
 */
import * as React from 'react';

import { formatValue, IRun } from '../tokens';

export const ROW_HEIGHT = 26;
const OVERSCAN = 8;
const MAX_METRIC_COLUMNS = 6;
const MAX_PARAM_COLUMNS = 4;

export interface ISort {
  column: string; // an order_by field such as "attributes.start_time" or "metrics.`acc`"
  descending: boolean;
}

export interface IRunTableProps {
  runs: IRun[];
  total: number;
  metricKeys: string[];
  paramKeys: string[];
  selected: Set<string>;
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

export function RunTable(props: IRunTableProps): JSX.Element {
  const [scrollTop, setScrollTop] = React.useState(0);
  const [height, setHeight] = React.useState(400);
  const scroller = React.useRef<HTMLDivElement>(null);

  React.useEffect(() => {
    const element = scroller.current;
    if (!element) {
      return;
    }
    const observer = new ResizeObserver(() => setHeight(element.clientHeight || 400));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  const columns = columnsFor(props);
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(props.runs.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  const visible = props.runs.slice(first, last);
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
      <div className="mlnb-table-head" role="row" style={{ width: totalWidth }}>
        {columns.map((column, index) => (
          <div
            key={index}
            role="columnheader"
            className={`mlnb-th${column.field ? ' mlnb-sortable' : ''}`}
            style={{ width: column.width }}
            title={column.field ? `Sort by ${column.title}` : undefined}
            onClick={() => column.field && props.onSort(column.field)}
          >
            {column.title}
            {props.sort.column === column.field ? (props.sort.descending ? ' ▼' : ' ▲') : ''}
          </div>
        ))}
      </div>
      <div className="mlnb-table-body" ref={scroller} onScroll={onScroll}>
        <div style={{ height: props.runs.length * ROW_HEIGHT, position: 'relative', width: totalWidth }}>
          {visible.map((run, i) => (
            <div
              key={run.run_id}
              role="row"
              data-run-id={run.run_id}
              className={`mlnb-tr${props.selected.has(run.run_id) ? ' mlnb-selected' : ''}`}
              style={{ top: (first + i) * ROW_HEIGHT, height: ROW_HEIGHT }}
              onClick={() => props.onOpen(run)}
            >
              {columns.map((column, index) => (
                <div key={index} role="cell" className="mlnb-td" style={{ width: column.width }}>
                  {column.cell(run)}
                </div>
              ))}
            </div>
          ))}
        </div>
      </div>
    </div>
  );
}
