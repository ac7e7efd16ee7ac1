/**
 * The run diff tab: two runs' headers, params and tags changed, metric deltas in a sortable
 * table, the tracked cell's source as a diff, the kernel histories side by side and the packages
 * compared. Every string from the store is React text (never HTML).
 */
import * as React from 'react';

import * as api from '../api';
import { useRequest } from '../hooks';
import { formatValue, JsonNumber } from '../tokens';
import {
  ICell,
  IDiffRun,
  IEnvironmentDiff,
  IHistoryDiff,
  IHistoryEntry,
  IMappingDiff,
  IMetricDiff,
  IRunDiff,
  ISourceDiff,
  Stat,
  STATS
} from './types';
import {
  differCount,
  foldHistory,
  formatDelta,
  formatRelative,
  historyLabel,
  IDiffLine,
  IKeyRow,
  IMetricSort,
  keyRows,
  MetricColumn,
  metricRows,
  nextSort,
  parseUnified,
  sideBySide,
  sortMetricRows
} from './viewModel';

export interface IRunDiffViewProps {
  runA: string;
  runB: string;
  /** Open a run's own tab. */
  openRun?: (runId: string, runName: string) => void;
  /** Told the two runs each time a diff is shown (the tab's label names them). */
  onRuns?: (a: IDiffRun, b: IDiffRun) => void;
}

function time(ms: number | null): string {
  return ms === null || ms === undefined ? '' : new Date(ms).toLocaleString();
}

function RunHeader(props: {
  side: 'a' | 'b';
  run: IDiffRun;
  openRun?: (runId: string, runName: string) => void;
}): JSX.Element {
  const { run, side } = props;
  return (
    <div className={`mlnb-diff-run mlnb-diff-run-${side}`} data-run-id={run.run_id}>
      <div className="mlnb-diff-run-side">{side === 'a' ? 'a (compared against)' : 'b'}</div>
      <div className="mlnb-diff-run-name">
        {props.openRun ? (
          <button
            className="mlnb-link-button"
            onClick={() => props.openRun?.(run.run_id, run.run_name)}
            title="Open this run's tab"
          >
            {run.run_name || run.run_id}
          </button>
        ) : (
          run.run_name || run.run_id
        )}
      </div>
      <div className="mlnb-muted">
        {run.run_id} · {run.experiment_name || `experiment ${run.experiment_id}`} · {run.status}
      </div>
      <div className="mlnb-muted">
        {time(run.start_time)}
        {run.end_time ? ` → ${time(run.end_time)}` : ''}
      </div>
    </div>
  );
}

const STATUS_TEXT: Record<string, string> = {
  added: 'added',
  removed: 'removed',
  changed: 'changed',
  same: 'same'
};

function KeyTable(props: { rows: IKeyRow[]; keyLabel: string; className: string }): JSX.Element {
  if (props.rows.length === 0) {
    return <div className="mlnb-muted">no differences</div>;
  }
  return (
    <table className={`mlnb-kv mlnb-diff-table ${props.className}`}>
      <thead>
        <tr>
          <th>{props.keyLabel}</th>
          <th>change</th>
          <th>a</th>
          <th>b</th>
        </tr>
      </thead>
      <tbody>
        {props.rows.map(row => (
          <tr key={row.key} className={`mlnb-diff-${row.status}`} data-key={row.key}>
            <th>{row.key}</th>
            <td className="mlnb-diff-status">{STATUS_TEXT[row.status]}</td>
            <td className="mlnb-diff-value-a">{row.a ?? ''}</td>
            <td className="mlnb-diff-value-b">{row.b ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Check(props: {
  label: string;
  checked: boolean;
  onChange: (checked: boolean) => void;
  className?: string;
}): JSX.Element {
  return (
    <label className={`mlnb-diff-check ${props.className ?? ''}`}>
      <input type="checkbox" checked={props.checked} onChange={e => props.onChange(e.target.checked)} />{' '}
      {props.label}
    </label>
  );
}

function countText(diff: IMappingDiff): string {
  const n = differCount(diff);
  const same = Object.keys(diff.unchanged).length;
  return `${n} differ${n === 1 ? 's' : ''}, ${same} the same`;
}

function MappingSection(props: {
  title: string;
  className: string;
  keyLabel: string;
  diffs: Array<[string, IMappingDiff]>;
}): JSX.Element {
  const [unchanged, setUnchanged] = React.useState(false);
  return (
    <section className={`mlnb-section ${props.className}`}>
      <h3>{props.title}</h3>
      <Check label="show unchanged" checked={unchanged} onChange={setUnchanged} />
      {props.diffs.map(([label, diff]) => (
        <div key={label} className="mlnb-diff-group" data-group={label}>
          {props.diffs.length > 1 && (
            <h4>
              {label} <span className="mlnb-muted">({countText(diff)})</span>
            </h4>
          )}
          {props.diffs.length === 1 && <div className="mlnb-muted">{countText(diff)}</div>}
          <KeyTable
            rows={keyRows(diff, unchanged)}
            keyLabel={props.keyLabel}
            className={`mlnb-diff-${label.replace(/\W+/g, '-')}`}
          />
        </div>
      ))}
    </section>
  );
}

const METRIC_COLUMNS: Array<[MetricColumn, string]> = [
  ['key', 'metric'],
  ['status', 'change'],
  ['a', 'a'],
  ['b', 'b'],
  ['delta', 'Δ (b − a)'],
  ['relative', 'Δ %']
];

function sign(value: JsonNumber | null): string {
  return typeof value === 'number' && value !== 0 ? (value > 0 ? 'mlnb-diff-up' : 'mlnb-diff-down') : '';
}

function MetricsSection(props: { metrics: IMetricDiff[] }): JSX.Element {
  const [stat, setStat] = React.useState<Stat>('last');
  const [system, setSystem] = React.useState(true);
  const [unchanged, setUnchanged] = React.useState(true);
  const [sort, setSort] = React.useState<IMetricSort>({ column: 'key', direction: 'asc' });
  const rows = sortMetricRows(metricRows(props.metrics, stat, { system, unchanged }), sort);
  return (
    <section className="mlnb-section mlnb-diff-metrics">
      <h3>Metrics</h3>
      <div className="mlnb-diff-controls">
        <label>
          value{' '}
          <select className="mlnb-diff-stat" value={stat} onChange={e => setStat(e.target.value as Stat)}>
            {STATS.map(s => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <Check label="system metrics" checked={system} onChange={setSystem} />
        <Check label="unchanged" checked={unchanged} onChange={setUnchanged} />
      </div>
      {rows.length === 0 ? (
        <div className="mlnb-muted">
          {props.metrics.length ? 'no metric to show with these choices' : 'neither run logged a metric'}
        </div>
      ) : (
        <table className="mlnb-kv mlnb-diff-table mlnb-diff-metric-table">
          <thead>
            <tr>
              {METRIC_COLUMNS.map(([column, label]) => (
                <th
                  key={column}
                  aria-sort={
                    sort.column === column ? (sort.direction === 'asc' ? 'ascending' : 'descending') : 'none'
                  }
                >
                  <button
                    className="mlnb-sort-button"
                    data-column={column}
                    onClick={() => setSort(nextSort(sort, column))}
                  >
                    {label}
                    {sort.column === column ? (sort.direction === 'asc' ? ' ▲' : ' ▼') : ''}
                  </button>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map(row => (
              <tr key={row.key} className={`mlnb-diff-${row.status}`} data-key={row.key}>
                <th>
                  {row.key}
                  {row.system && <span className="mlnb-badge mlnb-diff-system">system</span>}
                </th>
                <td className="mlnb-diff-status">{row.status}</td>
                <td className="mlnb-num" title={row.pointsA === null ? '' : `${row.pointsA} points`}>
                  {row.a === null ? '' : formatValue(row.a)}
                </td>
                <td className="mlnb-num" title={row.pointsB === null ? '' : `${row.pointsB} points`}>
                  {row.b === null ? '' : formatValue(row.b)}
                </td>
                <td className={`mlnb-num mlnb-diff-delta ${sign(row.delta)}`}>{formatDelta(row.delta)}</td>
                <td className={`mlnb-num mlnb-diff-relative ${sign(row.relative)}`}>
                  {formatRelative(row.relative)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

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

function SourceSection(props: { cell: ISourceDiff }): JSX.Element {
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

function HistorySection(props: { history: IHistoryDiff }): JSX.Element {
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

function EnvironmentSection(props: { env: IEnvironmentDiff }): JSX.Element {
  const { env } = props;
  const packages: IMappingDiff = {
    added: env.added,
    removed: env.removed,
    changed: env.changed,
    unchanged: {}
  };
  const pythonDiffers = (env.a.python ?? '') !== (env.b.python ?? '');
  const missing = [!env.a.sources.length && 'a', !env.b.sources.length && 'b'].filter(Boolean);
  return (
    <section className="mlnb-section mlnb-diff-environment">
      <h3>Environment</h3>
      <table className="mlnb-kv mlnb-diff-table mlnb-diff-python">
        <tbody>
          <tr className={pythonDiffers ? 'mlnb-diff-changed' : 'mlnb-diff-same'}>
            <th>Python</th>
            <td>{env.a.python ?? 'not recorded'}</td>
            <td>{env.b.python ?? 'not recorded'}</td>
          </tr>
          <tr>
            <th>read from</th>
            <td>{env.a.sources.join(', ') || 'nothing'}</td>
            <td>{env.b.sources.join(', ') || 'nothing'}</td>
          </tr>
        </tbody>
      </table>
      {env.compared ? (
        <>
          <div className="mlnb-muted">
            {differCount(packages)} packages differ, {env.unchanged} the same
            {env.a.truncated || env.b.truncated ? ' (a list was truncated)' : ''}
          </div>
          <KeyTable rows={keyRows(packages, false)} keyLabel="package" className="mlnb-diff-packages" />
        </>
      ) : (
        <div className="mlnb-muted">Packages not compared: run {missing.join(' and ')} recorded none.</div>
      )}
    </section>
  );
}

/** The whole diff, once loaded. */
export function RunDiffBody(props: {
  diff: IRunDiff;
  openRun?: (runId: string, runName: string) => void;
}): JSX.Element {
  const { diff } = props;
  return (
    <>
      {diff.notes.length > 0 && (
        <ul className="mlnb-diff-notes mlnb-muted">
          {diff.notes.map((note, i) => (
            <li key={i}>{note}</li>
          ))}
        </ul>
      )}
      <MappingSection
        title="Params"
        className="mlnb-diff-params"
        keyLabel="param"
        diffs={[['params', diff.params]]}
      />
      <MappingSection
        title="Tags"
        className="mlnb-diff-tags"
        keyLabel="tag"
        diffs={[
          ['user tags', diff.tags],
          ['system tags', diff.system_tags]
        ]}
      />
      <MetricsSection metrics={diff.metrics} />
      <SourceSection cell={diff.cell} />
      <HistorySection history={diff.history} />
      <EnvironmentSection env={diff.environment} />
    </>
  );
}

/** The tab's content: loads `GET runs/<a>/diff/<b>`; the swap button exchanges a and b. */
export function RunDiffView(props: IRunDiffViewProps): JSX.Element {
  const [pair, setPair] = React.useState<[string, string]>([props.runA, props.runB]);
  const [a, b] = pair;
  const request = useRequest(() => api.getRunDiff(a, b), [a, b]);
  const diff =
    request.data && request.data.a.run_id === a && request.data.b.run_id === b ? request.data : null;
  const { onRuns } = props;
  React.useEffect(() => {
    if (diff && onRuns) {
      onRuns(diff.a, diff.b);
    }
  }, [diff, onRuns]);
  return (
    <div className="mlnb-rundiff" data-run-a={a} data-run-b={b}>
      <div className="mlnb-diff-head">
        {diff ? (
          <RunHeader side="a" run={diff.a} openRun={props.openRun} />
        ) : (
          <div className="mlnb-diff-run">{a}</div>
        )}
        <div className="mlnb-diff-head-actions">
          <button
            className="jp-mod-styled mlnb-diff-swap"
            title="Swap a and b (deltas are b − a)"
            aria-label="Swap a and b"
            onClick={() => setPair([b, a])}
          >
            ⇄ Swap
          </button>
          <button
            className="jp-mod-styled mlnb-diff-reload"
            title="Load the diff again"
            onClick={request.reload}
          >
            Reload
          </button>
        </div>
        {diff ? (
          <RunHeader side="b" run={diff.b} openRun={props.openRun} />
        ) : (
          <div className="mlnb-diff-run">{b}</div>
        )}
      </div>
      {request.error && (
        <div className="mlnb-error mlnb-diff-error" role="alert">
          {request.error}
        </div>
      )}
      {!diff && !request.error && <div className="mlnb-muted mlnb-diff-loading">Loading the diff…</div>}
      {diff && <RunDiffBody diff={diff} openRun={props.openRun} />}
    </div>
  );
}
