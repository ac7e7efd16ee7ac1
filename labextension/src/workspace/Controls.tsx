/**
 * The workspace's controls: the filter box with completion of keys, the column picker, and the
 * grouping selectors.
 */
import * as React from 'react';

import { completions } from './columns';
import {
  Band,
  BANDS,
  Center,
  CENTERS,
  columnId,
  columnTitle,
  IColumn,
  IGroupBy,
  METRIC_AGGS,
  MetricAgg,
  ATTRIBUTES
} from './viewState';

/** The filter box (the search grammar), completing `params.`, `metrics.`, `tags.` keys. */
export function FilterInput(props: {
  value: string;
  keys: string[];
  error: string | null;
  onChange: (value: string) => void;
  onApply: () => void;
}): JSX.Element {
  const input = React.useRef<HTMLInputElement>(null);
  const [cursor, setCursor] = React.useState(0);
  const [open, setOpen] = React.useState(false);
  const [active, setActive] = React.useState(0);
  const found = completions(props.value, cursor, props.keys);
  const showing = open && found.choices.length > 0;
  const accept = (choice: string): void => {
    const next = props.value.slice(0, found.start) + choice + props.value.slice(found.end);
    props.onChange(next);
    const at = found.start + choice.length;
    setCursor(at);
    setOpen(false);
    requestAnimationFrame(() => input.current?.setSelectionRange(at, at));
  };
  return (
    <div className="mlnb-ws-filter">
      <input
        ref={input}
        className={`mlnb-filter${props.error ? ' mlnb-invalid' : ''}`}
        placeholder="Filter: metrics.acc > 0.9 and params.lr = '0.1' (Enter applies, ↓ completes keys)"
        aria-label="filter runs"
        role="combobox"
        aria-expanded={showing}
        aria-controls="mlnb-ws-completions"
        aria-autocomplete="list"
        spellCheck={false}
        value={props.value}
        onChange={e => {
          props.onChange(e.target.value);
          setCursor(e.target.selectionStart ?? e.target.value.length);
          setOpen(true);
          setActive(0);
        }}
        onSelect={e => setCursor((e.target as HTMLInputElement).selectionStart ?? 0)}
        onBlur={() => setTimeout(() => setOpen(false), 150)}
        onKeyDown={e => {
          if (showing && (e.key === 'ArrowDown' || e.key === 'ArrowUp')) {
            e.preventDefault();
            const n = found.choices.length;
            setActive(a => (a + (e.key === 'ArrowDown' ? 1 : n - 1)) % n);
          } else if (showing && (e.key === 'Tab' || e.key === 'Enter')) {
            e.preventDefault();
            accept(found.choices[Math.min(active, found.choices.length - 1)]);
          } else if (e.key === 'Escape') {
            setOpen(false);
          } else if (e.key === 'Enter') {
            props.onApply();
          } else if (e.key === 'ArrowDown') {
            setOpen(true);
          }
        }}
      />
      {showing && (
        <ul className="mlnb-ws-completions" id="mlnb-ws-completions" role="listbox" aria-label="filter keys">
          {found.choices.map((choice, i) => (
            <li
              key={choice}
              role="option"
              aria-selected={i === active}
              className={i === active ? 'mlnb-active' : ''}
              onMouseDown={e => {
                e.preventDefault();
                accept(choice);
              }}
            >
              {choice}
            </li>
          ))}
        </ul>
      )}
      {props.error && <pre className="mlnb-filter-error">{props.error}</pre>}
    </div>
  );
}

/** Add columns (attributes, params, tags, metrics as last/min/max); remove and reorder them. */
export function ColumnPicker(props: {
  columns: IColumn[];
  params: string[];
  tags: string[];
  metrics: string[];
  onChange: (columns: IColumn[]) => void;
  onMove: (id: string, delta: number) => void;
}): JSX.Element {
  const [kind, setKind] = React.useState<IColumn['kind']>('metric');
  const [key, setKey] = React.useState('');
  const [agg, setAgg] = React.useState<MetricAgg>('last');
  const keys =
    kind === 'param'
      ? props.params
      : kind === 'tag'
        ? props.tags
        : kind === 'metric'
          ? props.metrics
          : [...ATTRIBUTES];
  const chosen = keys.includes(key) ? key : (keys[0] ?? '');
  const candidate: IColumn = kind === 'metric' ? { kind, key: chosen, agg } : { kind, key: chosen };
  const present = new Set(props.columns.map(columnId));
  return (
    <div className="mlnb-ws-columns">
      <div className="mlnb-ws-column-add">
        <select
          aria-label="column kind"
          value={kind}
          onChange={e => setKind(e.target.value as IColumn['kind'])}
        >
          <option value="metric">metric</option>
          <option value="param">param</option>
          <option value="tag">tag</option>
          <option value="attr">attribute</option>
        </select>
        <select aria-label="column key" value={chosen} onChange={e => setKey(e.target.value)}>
          {keys.map(k => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
        {kind === 'metric' && (
          <select aria-label="metric value" value={agg} onChange={e => setAgg(e.target.value as MetricAgg)}>
            {METRIC_AGGS.map(a => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        )}
        <button
          disabled={!chosen || present.has(columnId(candidate))}
          onClick={() => props.onChange([...props.columns, candidate])}
        >
          Add column
        </button>
        <button
          disabled={!props.metrics.length && !props.params.length}
          title="every param, and every metric's last value"
          onClick={() => {
            const extra: IColumn[] = [
              ...props.params.map(k => ({ kind: 'param' as const, key: k })),
              ...props.metrics.map(k => ({ kind: 'metric' as const, key: k, agg: 'last' as const }))
            ].filter(c => !present.has(columnId(c)));
            props.onChange([...props.columns, ...extra]);
          }}
        >
          Add all params and metrics
        </button>
      </div>
      <ul className="mlnb-ws-column-list" aria-label="columns shown">
        {props.columns.map((column, i) => {
          const id = columnId(column);
          const title = `${column.kind === 'attr' ? '' : column.kind + ' '}${columnTitle(column)}`;
          return (
            <li key={id}>
              <span>{title}</span>
              <button
                aria-label={`move ${title} left`}
                disabled={i === 0}
                onClick={() => props.onMove(id, -1)}
              >
                ←
              </button>
              <button
                aria-label={`move ${title} right`}
                disabled={i === props.columns.length - 1}
                onClick={() => props.onMove(id, 1)}
              >
                →
              </button>
              <button
                aria-label={`remove column ${title}`}
                onClick={() => props.onChange(props.columns.filter(c => columnId(c) !== id))}
              >
                ✕
              </button>
            </li>
          );
        })}
      </ul>
    </div>
  );
}

/** Group by a param or tag, with the center line and band of each group. */
export function GroupControls(props: {
  groupBy: IGroupBy | null;
  center: Center;
  band: Band;
  params: string[];
  tags: string[];
  onChange: (groupBy: IGroupBy | null, center: Center, band: Band) => void;
}): JSX.Element {
  const value = props.groupBy ? `${props.groupBy.kind}:${props.groupBy.key}` : '';
  const BAND_LABELS: Record<Band, string> = {
    std: '± std',
    minmax: 'min–max',
    ci95: '95% CI of the mean',
    none: 'no band'
  };
  return (
    <div className="mlnb-ws-group">
      <label>
        Group by{' '}
        <select
          aria-label="group by"
          value={value}
          onChange={e => {
            const raw = e.target.value;
            const colon = raw.indexOf(':');
            const next: IGroupBy | null = raw
              ? { kind: raw.slice(0, colon) as IGroupBy['kind'], key: raw.slice(colon + 1) }
              : null;
            props.onChange(next, props.center, props.band);
          }}
        >
          <option value="">no grouping</option>
          {props.params.map(k => (
            <option key={`p${k}`} value={`param:${k}`}>
              param {k}
            </option>
          ))}
          {props.tags.map(k => (
            <option key={`t${k}`} value={`tag:${k}`}>
              tag {k}
            </option>
          ))}
        </select>
      </label>
      {props.groupBy && (
        <>
          <select
            aria-label="group line"
            value={props.center}
            onChange={e => props.onChange(props.groupBy, e.target.value as Center, props.band)}
          >
            {CENTERS.map(c => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
          <select
            aria-label="group band"
            value={props.band}
            onChange={e => props.onChange(props.groupBy, props.center, e.target.value as Band)}
          >
            {BANDS.map(b => (
              <option key={b} value={b}>
                {BAND_LABELS[b]}
              </option>
            ))}
          </select>
        </>
      )}
    </div>
  );
}
