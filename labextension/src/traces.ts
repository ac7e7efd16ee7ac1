/**
 * GenAI traces for the sidebar: the REST calls (`experiments/<id>/traces`, `traces`, `traces/<id>`), their
 * types (MLflow's `TraceInfo.to_dict()` and `Trace.to_dict()` forms, see mlnb/server/traces.py),
 * and the pure helpers of the Traces view: the span tree, each span's place on the trace's
 * timeline, and attribute values pretty-printed. Nothing here makes HTML: the view renders all
 * of it as React text.
 */
import { ServerConnection } from '@jupyterlab/services';

import { apiUrl, request, serverSettings } from './api';

/** Rows per page the Traces list asks for (and adds on "Load more"). */
export const TRACE_PAGE_SIZE = 50;

/** The most rows one request asks for (the server caps a page at 500). */
export const MAX_TRACE_REQUEST_ROWS = 500;

/** Longest attribute text shown in full; longer text is cut, saying how long it was. */
export const MAX_SHOWN_CHARS = 20000;

/** Attribute keys shown in their own place (inputs, outputs, type), not among the attributes. */
export const SPAN_INPUTS = 'mlflow.spanInputs';
export const SPAN_OUTPUTS = 'mlflow.spanOutputs';
export const SPAN_TYPE = 'mlflow.spanType';
const HIDDEN_ATTRIBUTES = new Set([
  SPAN_INPUTS,
  SPAN_OUTPUTS,
  SPAN_TYPE,
  'mlflow.spanFunctionName',
  'mlflow.traceRequestId'
]);

/** Token counts of a trace (any of them may be missing). */
export interface ITokenUsage {
  input_tokens?: number;
  output_tokens?: number;
  total_tokens?: number;
}

/** One row of the Traces list: a trace's info, without spans. */
export interface ITraceInfo {
  trace_id: string;
  /** ISO 8601 (UTC, milliseconds). */
  request_time: string;
  /** 'OK', 'ERROR' or 'IN_PROGRESS'. */
  state: string;
  request_preview?: string;
  response_preview?: string;
  execution_duration_ms?: number;
  tags: Record<string, string>;
  trace_metadata: Record<string, string>;
  run_id: string | null;
  /** The root span's name. */
  name: string | null;
  token_usage: ITokenUsage | null;
}

/** A page of `GET experiments/<id>/traces`. */
export interface ITracePage {
  traces: ITraceInfo[];
  offset: number;
  limit: number;
  /** Where the next page starts, or null when this page was the last. */
  next_offset: number | null;
}

/** A span as MLflow's `Span.to_dict()` gives it (ids base64, attribute values JSON text). */
export interface ISpanJson {
  trace_id: string;
  span_id: string;
  parent_span_id: string | null;
  name: string;
  start_time_unix_nano: number;
  end_time_unix_nano: number | null;
  events: Array<{ name: string; time_unix_nano: number; attributes: Record<string, unknown> }>;
  status: { code: string; message: string };
  attributes: Record<string, string>;
}

/** A whole trace (`GET traces/<id>`). */
export interface ITraceJson {
  info: ITraceInfo;
  data: { spans: ISpanJson[] };
}

/** What the Traces list asks for. */
export interface ITraceQuery {
  /** '' for every experiment. */
  experimentId: string;
  /** The search grammar of `mlnb.search_traces` ('' for every trace). */
  filter: string;
}

async function getJson<T>(
  path: string,
  query: Record<string, string | number | undefined>,
  settings: ServerConnection.ISettings
): Promise<T> {
  const response = await request('GET', apiUrl(settings, path, query), settings);
  return (await response.json()) as T;
}

/** One page of an experiment's traces (of every experiment for ''), newest first, from row `offset`. */
export function listTraces(
  query: ITraceQuery,
  limit: number,
  offset: number,
  settings = serverSettings()
): Promise<ITracePage> {
  const params = { filter: query.filter, limit, offset };
  const path = query.experimentId ? `experiments/${encodeURIComponent(query.experimentId)}/traces` : 'traces';
  return getJson<ITracePage>(path, params, settings);
}

/** One trace with its spans. */
export async function getTrace(traceId: string, settings = serverSettings()): Promise<ITraceJson> {
  const body = await getJson<{ trace: ITraceJson; run_id: string | null }>(
    `traces/${encodeURIComponent(traceId)}`,
    {},
    settings
  );
  return { ...body.trace, info: { ...body.trace.info, run_id: body.run_id } };
}

/** The first `wanted` traces of a query and whether there are more (every loaded row again, so
 * new traces show at the top and finished ones change state). */
export async function fetchTraceRows(
  query: ITraceQuery,
  wanted: number,
  list: typeof listTraces = listTraces
): Promise<{ traces: ITraceInfo[]; more: boolean }> {
  const traces: ITraceInfo[] = [];
  let more = false;
  while (traces.length < wanted) {
    const limit = Math.min(MAX_TRACE_REQUEST_ROWS, wanted - traces.length);
    const page = await list(query, limit, traces.length);
    traces.push(...page.traces);
    more = page.next_offset !== null;
    if (!more) {
      break;
    }
  }
  return { traces, more };
}

// --- the span tree and its timeline -----------------------------------------------------------

/** A span of the tree: the span, its parsed parts, its children (by start time), its depth. */
export interface ISpanNode {
  span: ISpanJson;
  /** The span's type (`mlflow.spanType`), '' when it has none. */
  spanType: string;
  /** Whether the span ended in error. */
  error: boolean;
  /** The exception's message (the status message, else the exception event's), '' if none. */
  errorMessage: string;
  children: ISpanNode[];
  depth: number;
}

/** Where a span lies on its trace's timeline. */
export interface IBar {
  /** Start, in percent of the trace's duration from its start. */
  left: number;
  /** Length, in percent of the trace's duration (at least `MIN_BAR_PERCENT`, so it shows). */
  width: number;
  /** Milliseconds from the trace's start to the span's. */
  offsetMs: number;
  /** The span's duration in milliseconds (to the trace's end while it runs). */
  durationMs: number;
}

/** The narrowest bar drawn, in percent: an instant span stays visible. */
export const MIN_BAR_PERCENT = 0.5;

/** The trace's first start and last end (nanoseconds); a running span counts its start. */
export interface ITimeline {
  start: number;
  end: number;
}

/** A JSON text's value, or the text itself when it is not JSON. */
export function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function isError(span: ISpanJson): boolean {
  return span.status.code === 'STATUS_CODE_ERROR' || span.status.code === 'ERROR';
}

/** The message of a span's exception: its status message, else its exception event's. */
export function exceptionMessage(span: ISpanJson): string {
  if (span.status.message) {
    return span.status.message;
  }
  const event = span.events.find(e => e.name === 'exception');
  const message = event?.attributes['exception.message'];
  const type = event?.attributes['exception.type'];
  if (message === undefined && type === undefined) {
    return '';
  }
  return [type, message]
    .filter(part => part !== undefined && part !== '')
    .map(String)
    .join(': ');
}

/** A span's type (`mlflow.spanType`, stored as JSON text), '' when it has none. */
export function spanTypeOf(span: ISpanJson): string {
  const raw = span.attributes[SPAN_TYPE];
  if (raw === undefined) {
    return '';
  }
  const value = parseJsonText(raw);
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * The spans as a forest: each span under its parent, children in start order. A span whose
 * parent is not in the trace (a trace cut short), or that sits in a parent cycle, is a root:
 * every span is shown once.
 */
export function buildSpanTree(spans: ISpanJson[]): ISpanNode[] {
  const ids = new Set(spans.map(s => s.span_id));
  const byParent = new Map<string | null, ISpanJson[]>();
  for (const span of spans) {
    const parentId = span.parent_span_id;
    const parent = parentId !== null && parentId !== span.span_id && ids.has(parentId) ? parentId : null;
    byParent.set(parent, [...(byParent.get(parent) ?? []), span]);
  }
  const seen = new Set<string>();
  const node = (span: ISpanJson, depth: number): ISpanNode => {
    seen.add(span.span_id);
    const error = isError(span);
    return {
      span,
      spanType: spanTypeOf(span),
      error,
      errorMessage: error ? exceptionMessage(span) : '',
      children: grow(byParent.get(span.span_id) ?? [], depth + 1),
      depth
    };
  };
  const grow = (level: ISpanJson[], depth: number): ISpanNode[] =>
    byStart(level)
      .filter(span => !seen.has(span.span_id))
      .map(span => node(span, depth));
  const roots = grow(byParent.get(null) ?? [], 0);
  for (const span of byStart(spans)) {
    if (!seen.has(span.span_id)) {
      roots.push(node(span, 0)); // in a parent cycle: shown at the top level
    }
  }
  return roots;
}

function byStart(spans: ISpanJson[]): ISpanJson[] {
  return [...spans].sort((a, b) => a.start_time_unix_nano - b.start_time_unix_nano);
}

/** Every node of the forest, parents before children (the tree's reading order). */
export function flatten(nodes: ISpanNode[]): ISpanNode[] {
  return nodes.flatMap(node => [node, ...flatten(node.children)]);
}

/** The trace's time span: its first start and its last end (or start, for a running span). */
export function timelineOf(spans: ISpanJson[]): ITimeline {
  if (spans.length === 0) {
    return { start: 0, end: 0 };
  }
  const start = Math.min(...spans.map(s => s.start_time_unix_nano));
  const end = Math.max(...spans.map(s => s.end_time_unix_nano ?? s.start_time_unix_nano));
  return { start, end: Math.max(end, start) };
}

/** A span's bar on the timeline (a running span reaches the trace's end). */
export function barOf(span: ISpanJson, timeline: ITimeline): IBar {
  const total = Math.max(timeline.end - timeline.start, 1);
  const end = span.end_time_unix_nano ?? timeline.end;
  const offset = Math.max(span.start_time_unix_nano - timeline.start, 0);
  const duration = Math.max(end - span.start_time_unix_nano, 0);
  const left = Math.min((100 * offset) / total, 100 - MIN_BAR_PERCENT);
  const width = Math.min(Math.max((100 * duration) / total, MIN_BAR_PERCENT), 100 - left);
  return { left, width, offsetMs: offset / 1e6, durationMs: duration / 1e6 };
}

/** Milliseconds as a short text: "850 µs", "12.3 ms", "1.25 s" ("0 ms" for nothing). */
export function formatMs(ms: number): string {
  if (ms <= 0) {
    return '0 ms';
  }
  if (ms < 1) {
    return `${Math.round(ms * 1000)} µs`;
  }
  if (ms < 1000) {
    return `${ms < 100 ? ms.toFixed(1) : Math.round(ms)} ms`;
  }
  return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

/** A trace's latency, kept in whole milliseconds: "<1 ms", "12 ms", "1.25 s". */
export function formatLatency(ms: number | undefined): string {
  if (ms === undefined) {
    return '';
  }
  return ms < 1 ? '<1 ms' : ms < 1000 ? `${Math.round(ms)} ms` : formatMs(ms);
}

/** When a trace started, short: the time of day for today's, else the date and time. */
export function formatWhen(iso: string, now: Date = new Date()): string {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) {
    return iso;
  }
  return when.toDateString() === now.toDateString() ? when.toLocaleTimeString() : when.toLocaleString();
}

/** Text cut to `MAX_SHOWN_CHARS`, saying how long it was. */
export function clip(text: string, max = MAX_SHOWN_CHARS): string {
  return text.length <= max
    ? text
    : `${text.slice(0, max)}… (${text.length.toLocaleString('en-US')} characters)`;
}

/** A JSON-text attribute value as readable text: a string as itself, anything else indented. */
export function prettyJson(raw: string): string {
  const value = parseJsonText(raw);
  return clip(typeof value === 'string' ? value : JSON.stringify(value, null, 2));
}

/** A span's attributes other than its inputs, outputs and type, as [key, pretty text], by key. */
export function otherAttributes(span: ISpanJson): Array<[string, string]> {
  return Object.entries(span.attributes)
    .filter(([key]) => !HIDDEN_ATTRIBUTES.has(key))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, raw]) => [key, prettyJson(typeof raw === 'string' ? raw : JSON.stringify(raw))]);
}

/** A trace's token usage as "12 in / 5 out", or '' when unknown. */
export function formatTokens(usage: ITokenUsage | null | undefined): string {
  if (!usage) {
    return '';
  }
  const { input_tokens: input, output_tokens: output, total_tokens: total } = usage;
  if (input === undefined && output === undefined) {
    return total === undefined ? '' : `${total} tokens`;
  }
  return `${input ?? 0} in / ${output ?? 0} out`;
}
