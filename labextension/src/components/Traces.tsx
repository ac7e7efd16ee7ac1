/**
 * The Traces section: the GenAI traces of the chosen experiment (or all), newest first (request and
 * response previews, status, latency, tokens, time), filtered in the `mlnb.search_traces`
 * grammar, refreshed every 2 s while shown, more rows on demand. Opening a trace shows its span
 * tree: each span with its type, status (an error with its exception's message) and a bar on
 * the trace's timeline; children fold; the chosen span's inputs, outputs, attributes and events
 * are shown pretty-printed below the tree. Every user string is React text (escaped by React);
 * every control is a button or an input, so the keyboard reaches it.
 */
import { Poll } from '@lumino/polling';
import * as React from 'react';

import { ApiError, errorMessage } from '../api';
import { useRequest } from '../hooks';
import {
  barOf,
  buildSpanTree,
  clip,
  fetchTraceRows,
  flatten,
  formatLatency,
  formatMs,
  formatTokens,
  formatWhen,
  getTrace,
  ISpanNode,
  ITimeline,
  ITraceInfo,
  ITraceJson,
  otherAttributes,
  prettyJson,
  SPAN_INPUTS,
  SPAN_OUTPUTS,
  timelineOf,
  TRACE_PAGE_SIZE
} from '../traces';

/** How often the list is fetched again while it is shown (new traces appear, states change). */
export const TRACE_POLL_MS = 2000;

/** How long after the last keystroke the filter box's text is applied. */
const FILTER_DELAY_MS = 400;

const FILTER_HINT = "Filter: status = 'ERROR' and execution_time_ms > 100";

function StateBadge(props: { state: string }): JSX.Element {
  const state = props.state || 'UNKNOWN';
  return <span className={`mlnb-trace-state mlnb-trace-state-${state.toLowerCase()}`}>{state}</span>;
}

function TraceRow(props: { trace: ITraceInfo; open: boolean; onToggle: () => void }): JSX.Element {
  const { trace, open } = props;
  const latency = formatLatency(trace.execution_duration_ms);
  const tokens = formatTokens(trace.token_usage);
  return (
    <button
      className={`mlnb-trace-row${open ? ' mlnb-trace-row-open' : ''}`}
      data-trace-id={trace.trace_id}
      aria-expanded={open}
      title={trace.trace_id}
      onClick={props.onToggle}
    >
      <span className="mlnb-trace-row-line">
        <span className="mlnb-trace-caret">{open ? '▾' : '▸'}</span>
        <StateBadge state={trace.state} />
        <span className="mlnb-trace-name">{trace.name ?? trace.trace_id}</span>
        <span className="mlnb-trace-latency">{latency}</span>
        {tokens && <span className="mlnb-trace-tokens">{tokens}</span>}
        <span className="mlnb-muted mlnb-trace-time" title={trace.request_time}>
          {formatWhen(trace.request_time)}
        </span>
      </span>
      <span className="mlnb-trace-row-line mlnb-trace-previews">
        <span className="mlnb-trace-request">{trace.request_preview ?? ''}</span>
        <span className="mlnb-muted"> → </span>
        <span className="mlnb-trace-response">{trace.response_preview ?? ''}</span>
      </span>
    </button>
  );
}

function Bar(props: { node: ISpanNode; timeline: ITimeline }): JSX.Element {
  const bar = barOf(props.node.span, props.timeline);
  return (
    <span
      className="mlnb-span-track"
      title={`starts at +${formatMs(bar.offsetMs)}, lasts ${formatMs(bar.durationMs)}`}
    >
      <span
        className={`mlnb-span-bar${props.node.error ? ' mlnb-span-bar-error' : ''}`}
        style={{ left: `${bar.left}%`, width: `${bar.width}%` }}
      />
    </span>
  );
}

interface ISpanRowsProps {
  nodes: ISpanNode[];
  timeline: ITimeline;
  folded: ReadonlySet<string>;
  selected: string | null;
  onFold: (spanId: string) => void;
  onSelect: (spanId: string) => void;
}

function SpanRows(props: ISpanRowsProps): JSX.Element {
  const { folded, selected, timeline } = props;
  return (
    <ul className="mlnb-span-tree" role="group">
      {props.nodes.map(node => {
        const id = node.span.span_id;
        const isFolded = folded.has(id);
        const duration = barOf(node.span, timeline).durationMs;
        return (
          <li
            key={id}
            className={`mlnb-span${node.error ? ' mlnb-span-error' : ''}`}
            data-span-name={node.span.name}
          >
            <div className={`mlnb-span-row${selected === id ? ' mlnb-span-selected' : ''}`}>
              {node.children.length > 0 ? (
                <button
                  className="mlnb-span-fold"
                  aria-expanded={!isFolded}
                  aria-label={`${isFolded ? 'unfold' : 'fold'} the spans under ${node.span.name}`}
                  onClick={() => props.onFold(id)}
                >
                  {isFolded ? '▸' : '▾'}
                </button>
              ) : (
                <span className="mlnb-span-fold-space" />
              )}
              <button
                className="mlnb-span-name"
                aria-pressed={selected === id}
                title={node.span.name}
                onClick={() => props.onSelect(id)}
              >
                {node.span.name}
                {node.spanType && <span className="mlnb-span-type">{node.spanType}</span>}
              </button>
              <Bar node={node} timeline={timeline} />
              <span className="mlnb-span-duration">{formatMs(duration)}</span>
            </div>
            {node.error && (
              <div className="mlnb-span-exception">{clip(node.errorMessage || 'ERROR', 500)}</div>
            )}
            {node.children.length > 0 && !isFolded && <SpanRows {...props} nodes={node.children} />}
          </li>
        );
      })}
    </ul>
  );
}

function JsonBlock(props: { label: string; raw: string | undefined; className: string }): JSX.Element | null {
  if (props.raw === undefined) {
    return null;
  }
  return (
    <div className={props.className}>
      <div className="mlnb-span-label">{props.label}</div>
      <pre className="mlnb-span-json">{prettyJson(props.raw)}</pre>
    </div>
  );
}

function SpanDetail(props: { node: ISpanNode; timeline: ITimeline }): JSX.Element {
  const { node } = props;
  const { span } = node;
  const bar = barOf(span, props.timeline);
  const attributes = otherAttributes(span);
  return (
    <div className="mlnb-span-detail" data-span-name={span.name}>
      <div className="mlnb-span-detail-head">
        <span className="mlnb-span-detail-name">{span.name}</span>
        {node.spanType && <span className="mlnb-span-type">{node.spanType}</span>}
        <StateBadge state={node.error ? 'ERROR' : span.status.code.replace('STATUS_CODE_', '')} />
        <span className="mlnb-muted">
          +{formatMs(bar.offsetMs)} · {formatMs(bar.durationMs)}
        </span>
      </div>
      {node.error && <pre className="mlnb-span-exception">{clip(node.errorMessage || 'ERROR')}</pre>}
      <JsonBlock label="Inputs" raw={span.attributes[SPAN_INPUTS]} className="mlnb-span-inputs" />
      <JsonBlock label="Outputs" raw={span.attributes[SPAN_OUTPUTS]} className="mlnb-span-outputs" />
      {attributes.length > 0 && (
        <div className="mlnb-span-attributes">
          <div className="mlnb-span-label">Attributes</div>
          <table>
            <tbody>
              {attributes.map(([key, text]) => (
                <tr key={key}>
                  <td className="mlnb-span-attribute-key">{key}</td>
                  <td>
                    <pre className="mlnb-span-json">{text}</pre>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {span.events.map((event, index) => (
        <div
          key={index}
          className={`mlnb-span-event${event.name === 'exception' ? ' mlnb-span-event-exception' : ''}`}
        >
          <div className="mlnb-span-label">Event {event.name}</div>
          <pre className="mlnb-span-json">{clip(JSON.stringify(event.attributes, null, 2))}</pre>
        </div>
      ))}
    </div>
  );
}

function TraceHead(props: { trace: ITraceJson; onOpenRun?: (runId: string) => void }): JSX.Element {
  const { info } = props.trace;
  const tokens = formatTokens(info.token_usage ?? tokensOf(info));
  const tags = Object.entries(info.tags).filter(([key]) => !key.startsWith('mlflow.'));
  const runId = info.run_id;
  const onOpenRun = props.onOpenRun;
  return (
    <div className="mlnb-trace-head">
      <code className="mlnb-trace-id">{info.trace_id}</code> <StateBadge state={info.state} />
      {info.execution_duration_ms !== undefined && <span> {formatLatency(info.execution_duration_ms)}</span>}
      {tokens && <span className="mlnb-trace-tokens"> {tokens}</span>}
      {runId && onOpenRun && (
        <button className="mlnb-trace-run" title={`open run ${runId}`} onClick={() => onOpenRun(runId)}>
          run {runId.slice(0, 8)}
        </button>
      )}
      {tags.length > 0 && (
        <div className="mlnb-trace-tags">
          {tags.map(([key, value]) => (
            <span key={key} className="mlnb-chip">
              {key}={value}
            </span>
          ))}
        </div>
      )}
    </div>
  );
}

/** The token usage kept in the trace's metadata (`mlflow.trace.tokenUsage`), if any. */
function tokensOf(info: ITraceInfo): ITraceInfo['token_usage'] {
  const raw = info.trace_metadata?.['mlflow.trace.tokenUsage'];
  if (!raw) {
    return null;
  }
  try {
    return JSON.parse(raw) as ITraceInfo['token_usage'];
  } catch {
    return null;
  }
}

/** One trace opened: its head, its span tree with timelines, and the chosen span's details. */
export function TraceView(props: { trace: ITraceJson; onOpenRun?: (runId: string) => void }): JSX.Element {
  const { trace } = props;
  const tree = React.useMemo(() => buildSpanTree(trace.data.spans), [trace]);
  const timeline = React.useMemo(() => timelineOf(trace.data.spans), [trace]);
  const [folded, setFolded] = React.useState<ReadonlySet<string>>(new Set());
  const [selected, setSelected] = React.useState<string | null>(null);
  const nodes = flatten(tree);
  const shown = nodes.find(n => n.span.span_id === selected) ?? nodes[0];
  const fold = (spanId: string): void => {
    const next = new Set(folded);
    if (!next.delete(spanId)) {
      next.add(spanId);
    }
    setFolded(next);
  };
  return (
    <div className="mlnb-trace-view" data-trace-id={trace.info.trace_id}>
      <TraceHead trace={trace} onOpenRun={props.onOpenRun} />
      {nodes.length === 0 ? (
        <div className="mlnb-muted">This trace has no spans.</div>
      ) : (
        <>
          <div className="mlnb-span-scale mlnb-muted">
            <span>0</span>
            <span>{formatMs((timeline.end - timeline.start) / 1e6)}</span>
          </div>
          <SpanRows
            nodes={tree}
            timeline={timeline}
            folded={folded}
            selected={shown?.span.span_id ?? null}
            onFold={fold}
            onSelect={setSelected}
          />
          {shown && <SpanDetail node={shown} timeline={timeline} />}
        </>
      )}
    </div>
  );
}

function OpenTrace(props: { info: ITraceInfo; onOpenRun?: (runId: string) => void }): JSX.Element {
  const { info } = props;
  // Loaded again when the list shows the trace changed (a running trace that finished).
  const trace = useRequest(
    () => getTrace(info.trace_id),
    [info.trace_id, info.state, info.execution_duration_ms]
  );
  return (
    <div className="mlnb-trace-open">
      {trace.error && <div className="mlnb-error">{trace.error}</div>}
      {!trace.data && !trace.error && <div className="mlnb-muted">Loading the trace…</div>}
      {trace.data && <TraceView trace={trace.data} onOpenRun={props.onOpenRun} />}
    </div>
  );
}

interface IRows {
  /** The query these rows answer (rows of an older query are not shown). */
  key: string;
  traces: ITraceInfo[];
  more: boolean;
  loaded: boolean;
  error: string | null;
  filterError: string | null;
}

const NO_ROWS: Omit<IRows, 'key'> = {
  traces: [],
  more: false,
  loaded: false,
  error: null,
  filterError: null
};

/** The list's rows for a query, fetched again every `TRACE_POLL_MS` while the list is shown. */
function useTraceRows(
  experimentId: string,
  filter: string,
  wanted: number,
  refreshKey: number,
  shown: () => boolean
): IRows {
  const key = queryKey(experimentId, filter);
  const [rows, setRows] = React.useState<IRows>({ key: '', ...NO_ROWS });
  React.useEffect(() => {
    let current = true;
    const poll = new Poll<void, unknown>({
      auto: false,
      factory: async () => {
        try {
          const found = await fetchTraceRows({ experimentId, filter }, wanted);
          if (current) {
            setRows({ key, ...found, loaded: true, error: null, filterError: null });
          }
        } catch (error) {
          if (!current) {
            return;
          }
          if (error instanceof ApiError && error.status === 400) {
            // A filter the grammar rejects: shown under the box until the filter changes.
            setRows({ key, ...NO_ROWS, loaded: true, filterError: error.message });
            poll.dispose();
            return;
          }
          setRows(r => ({
            ...(r.key === key ? r : { key, ...NO_ROWS }),
            loaded: true,
            error: errorMessage(error)
          }));
          throw error; // the poll backs off
        }
      },
      frequency: { interval: TRACE_POLL_MS, backoff: true, max: 30000 },
      name: 'mlnb:traces',
      standby: () => document.hidden || !shown()
    });
    void poll.start();
    return () => {
      current = false;
      poll.dispose();
    };
    // `shown` reads a ref; the poll is rebuilt only when the query changes.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [experimentId, filter, wanted, refreshKey]);
  return rows.key === key ? rows : { key, ...NO_ROWS };
}

function queryKey(experimentId: string, filter: string): string {
  return JSON.stringify([experimentId, filter]);
}

/** What the user did in the list of one query: rows wanted, the trace opened. */
interface IPaging {
  key: string;
  wanted: number;
  open: string | null;
}

/**
 * The traces of experiment `experimentId` ('' for every experiment); loaded again when
 * `refreshKey` changes, and every 2 s while shown.
 */
export function TracesSection(props: {
  experimentId: string;
  refreshKey: number;
  onOpenRun?: (runId: string) => void;
}): JSX.Element {
  const { experimentId } = props;
  const ref = React.useRef<HTMLDivElement>(null);
  const [filterText, setFilterText] = React.useState('');
  const [filter, setFilter] = React.useState('');
  // Paging and the opened trace belong to one query: another experiment or filter starts over.
  const key = queryKey(experimentId, filter);
  const [paging, setPaging] = React.useState<IPaging>({ key, wanted: TRACE_PAGE_SIZE, open: null });
  const { wanted, open } = paging.key === key ? paging : { wanted: TRACE_PAGE_SIZE, open: null };
  const setOpen = (traceId: string | null): void => setPaging({ key, wanted, open: traceId });
  const setWanted = (rowCount: number): void => setPaging({ key, wanted: rowCount, open });
  const shown = React.useCallback(() => ref.current !== null && ref.current.offsetParent !== null, []);
  const rows = useTraceRows(experimentId, filter, wanted, props.refreshKey, shown);

  React.useEffect(() => {
    const timer = window.setTimeout(() => setFilter(filterText.trim()), FILTER_DELAY_MS);
    return () => window.clearTimeout(timer);
  }, [filterText]);

  const openInfo = rows.traces.find(t => t.trace_id === open);
  return (
    <div className="mlnb-traces" ref={ref}>
      <input
        className={`mlnb-filter mlnb-traces-filter${rows.filterError ? ' mlnb-invalid' : ''}`}
        placeholder={FILTER_HINT}
        aria-label="filter traces"
        spellCheck={false}
        value={filterText}
        onChange={event => setFilterText(event.target.value)}
        onKeyDown={event => event.key === 'Enter' && setFilter(filterText.trim())}
      />
      {rows.filterError && <pre className="mlnb-filter-error">{rows.filterError}</pre>}
      {rows.error && <div className="mlnb-error">{rows.error}</div>}
      {!rows.loaded && <div className="mlnb-muted">Loading traces…</div>}
      {rows.loaded && rows.traces.length === 0 && !rows.filterError && (
        <div className="mlnb-muted">{filter ? 'No trace matches the filter.' : 'No traces yet.'}</div>
      )}
      <ul className="mlnb-trace-list">
        {rows.traces.map(trace => (
          <li key={trace.trace_id} className="mlnb-trace" data-trace-id={trace.trace_id}>
            <TraceRow
              trace={trace}
              open={open === trace.trace_id}
              onToggle={() => setOpen(open === trace.trace_id ? null : trace.trace_id)}
            />
            {open === trace.trace_id && openInfo && <OpenTrace info={openInfo} onOpenRun={props.onOpenRun} />}
          </li>
        ))}
      </ul>
      {rows.more && (
        <button className="mlnb-traces-more" onClick={() => setWanted(rows.traces.length + TRACE_PAGE_SIZE)}>
          Load more traces
        </button>
      )}
    </div>
  );
}
