/**
 * The run diff's tables: params and tags (user and system tags apart), metric deltas (sortable,
 * at last, min or max) and the packages. Every value is React text.
 */
import * as React from 'react';

import { formatValue, JsonNumber } from '../tokens';
import { IEnvironmentDiff, IMappingDiff, IMetricDiff, Stat, STATS } from './types';
import {
  differCount,
  formatDelta,
  formatRelative,
  IKeyRow,
  IMetricSort,
  keyRows,
  MetricColumn,
  metricRows,
  nextSort,
  sortMetricRows
} from './viewModel';

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

/** One or more key/value comparisons (params; user and system tags), unchanged keys on request. */
export function MappingSection(props: {
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

/** Metric deltas at last, min or max, in a table sorted by a click (or Enter) on a header. */
export function MetricsSection(props: { metrics: IMetricDiff[] }): JSX.Element {
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

/** Python and the packages compared: added, removed and changed, with where they were read. */
export function EnvironmentSection(props: { env: IEnvironmentDiff }): JSX.Element {
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
