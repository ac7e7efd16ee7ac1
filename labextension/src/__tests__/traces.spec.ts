/**
 * The Traces view's pure parts: the span tree (parents, order, orphans, cycles, errors with their
 * exception's message), each span's bar on the trace's timeline, the text shown for attribute
 * values, durations and tokens, and the paging of the list.
 */
import { ServerConnection } from '@jupyterlab/services';

import {
  barOf,
  buildSpanTree,
  clip,
  exceptionMessage,
  fetchTraceRows,
  flatten,
  formatLatency,
  formatMs,
  formatTokens,
  formatWhen,
  getTrace,
  ISpanJson,
  ITracePage,
  ITraceQuery,
  listTraces,
  MIN_BAR_PERCENT,
  otherAttributes,
  prettyJson,
  spanTypeOf,
  timelineOf
} from '../traces';

const MS = 1e6; // nanoseconds

function span(
  id: string,
  parent: string | null,
  startMs: number,
  endMs: number | null,
  extra: Partial<ISpanJson> = {}
): ISpanJson {
  return {
    trace_id: 't',
    span_id: id,
    parent_span_id: parent,
    name: `span ${id}`,
    start_time_unix_nano: 1_700_000_000_000 * MS + startMs * MS,
    end_time_unix_nano: endMs === null ? null : 1_700_000_000_000 * MS + endMs * MS,
    events: [],
    status: { code: 'STATUS_CODE_OK', message: '' },
    attributes: {},
    ...extra
  };
}

const names = (nodes: ReturnType<typeof buildSpanTree>): string[] =>
  flatten(nodes).map(n => `${n.depth}:${n.span.span_id}`);

describe('buildSpanTree', () => {
  it('nests spans under their parents, children in start order, whatever the input order', () => {
    const spans = [
      span('c2', 'b', 30, 40),
      span('a', null, 0, 100),
      span('c1', 'b', 10, 20),
      span('b', 'a', 5, 50),
      span('d', 'a', 60, 90)
    ];
    const tree = buildSpanTree(spans);
    expect(tree.map(n => n.span.span_id)).toEqual(['a']);
    expect(names(tree)).toEqual(['0:a', '1:b', '2:c1', '2:c2', '1:d']);
  });

  it('shows a span whose parent is missing, or that sits in a cycle, at the top level, once', () => {
    const spans = [
      span('root', null, 0, 10),
      span('lost', 'gone', 2, 3),
      span('x', 'y', 4, 5),
      span('y', 'x', 5, 6),
      span('self', 'self', 7, 8)
    ];
    const tree = buildSpanTree(spans);
    expect(names(tree)).toEqual(['0:root', '0:lost', '0:self', '0:x', '1:y']);
    expect(flatten(tree)).toHaveLength(spans.length);
  });

  it('marks an ERROR span with its exception message', () => {
    const failed = span('a', null, 0, 5, {
      status: { code: 'STATUS_CODE_ERROR', message: 'ValueError: <img src=x onerror=window.__xss=1>' }
    });
    const [node] = buildSpanTree([failed]);
    expect(node.error).toBe(true);
    expect(node.errorMessage).toBe('ValueError: <img src=x onerror=window.__xss=1>');
    expect(buildSpanTree([span('b', null, 0, 1)])[0]).toMatchObject({ error: false, errorMessage: '' });
  });

  it('reads the span type from its JSON text attribute', () => {
    const [node] = buildSpanTree([span('a', null, 0, 1, { attributes: { 'mlflow.spanType': '"LLM"' } })]);
    expect(node.spanType).toBe('LLM');
    expect(spanTypeOf(span('b', null, 0, 1))).toBe('');
    expect(spanTypeOf(span('c', null, 0, 1, { attributes: { 'mlflow.spanType': 'not json' } }))).toBe(
      'not json'
    );
  });
});

describe('exceptionMessage', () => {
  it('falls back to the exception event when the status has no message', () => {
    const event = {
      name: 'exception',
      time_unix_nano: 0,
      attributes: { 'exception.type': 'KeyError', 'exception.message': "'k'" }
    };
    expect(
      exceptionMessage(
        span('a', null, 0, 1, { status: { code: 'STATUS_CODE_ERROR', message: '' }, events: [event] })
      )
    ).toBe("KeyError: 'k'");
    expect(
      exceptionMessage(span('b', null, 0, 1, { status: { code: 'STATUS_CODE_ERROR', message: '' } }))
    ).toBe('');
  });
});

/** Nanosecond times near 1.7e18 lose a few hundred ns as JS numbers: compare to 1 µs / 0.001 %. */
function expectBar(actual: ReturnType<typeof barOf>, expected: ReturnType<typeof barOf>): void {
  for (const key of ['left', 'width', 'offsetMs', 'durationMs'] as const) {
    expect(actual[key]).toBeCloseTo(expected[key], 3);
  }
}

describe('the timeline', () => {
  const spans = [
    span('a', null, 0, 200),
    span('b', 'a', 50, 150),
    span('c', 'b', 100, 100),
    span('r', 'a', 180, null)
  ];
  const timeline = timelineOf(spans);

  it('spans the first start to the last end', () => {
    expect((timeline.end - timeline.start) / MS).toBe(200);
    expect(timelineOf([])).toEqual({ start: 0, end: 0 });
  });

  it('places each bar by its offset and duration relative to the trace', () => {
    expectBar(barOf(spans[0], timeline), { left: 0, width: 100, offsetMs: 0, durationMs: 200 });
    expectBar(barOf(spans[1], timeline), { left: 25, width: 50, offsetMs: 50, durationMs: 100 });
  });

  it('keeps an instant span visible and a running one reaching the end', () => {
    expectBar(barOf(spans[2], timeline), {
      left: 50,
      width: MIN_BAR_PERCENT,
      offsetMs: 100,
      durationMs: 0
    });
    expectBar(barOf(spans[3], timeline), { left: 90, width: 10, offsetMs: 180, durationMs: 20 });
  });

  it('never draws past the end, and copes with a trace of one instant', () => {
    const last = span('z', null, 200, 200);
    const bar = barOf(last, timeline);
    expect(bar.left + bar.width).toBeLessThanOrEqual(100);
    expect(bar.width).toBe(MIN_BAR_PERCENT);
    const single = [span('s', null, 0, 0)];
    expectBar(barOf(single[0], timelineOf(single)), {
      left: 0,
      width: MIN_BAR_PERCENT,
      offsetMs: 0,
      durationMs: 0
    });
  });
});

describe('text of values', () => {
  it('pretty-prints JSON text and shows a string as itself', () => {
    expect(prettyJson('{"q":"<script>x</script>","n":[1,2]}')).toBe(
      '{\n  "q": "<script>x</script>",\n  "n": [\n    1,\n    2\n  ]\n}'
    );
    expect(prettyJson('"javascript:alert(1)"')).toBe('javascript:alert(1)');
    expect(prettyJson('not json')).toBe('not json');
  });

  it('lists the other attributes by key, without inputs, outputs and type', () => {
    const s = span('a', null, 0, 1, {
      attributes: {
        'mlflow.spanInputs': '{"x":1}',
        'mlflow.spanOutputs': '2',
        'mlflow.spanType': '"LLM"',
        'mlflow.spanFunctionName': '"f"',
        zeta: '{"k":"v"}',
        alpha: '3'
      }
    });
    expect(otherAttributes(s)).toEqual([
      ['alpha', '3'],
      ['zeta', '{\n  "k": "v"\n}']
    ]);
  });

  it('cuts long text saying how long it was', () => {
    expect(clip('abcdef', 3)).toBe('abc… (6 characters)');
    expect(clip('abc', 3)).toBe('abc');
  });

  it('formats durations and tokens', () => {
    expect(formatMs(0)).toBe('0 ms');
    expect(formatMs(0.25)).toBe('250 µs');
    expect(formatLatency(0)).toBe('<1 ms');
    expect(formatLatency(12)).toBe('12 ms');
    expect(formatLatency(1250)).toBe('1.25 s');
    expect(formatLatency(undefined)).toBe('');
    expect(formatMs(12.34)).toBe('12.3 ms');
    expect(formatMs(250)).toBe('250 ms');
    expect(formatMs(1250)).toBe('1.25 s');
    expect(formatTokens({ input_tokens: 12, output_tokens: 5, total_tokens: 17 })).toBe('12 in / 5 out');
    expect(formatTokens({ total_tokens: 7 })).toBe('7 tokens');
    expect(formatTokens(null)).toBe('');
  });
});

describe('formatWhen', () => {
  it("shows today's traces by their time of day, older ones with their date", () => {
    const now = new Date(2026, 11, 3, 15, 0, 0);
    const today = new Date(2026, 11, 3, 9, 30, 5);
    const before = new Date(2026, 10, 28, 9, 30, 5);
    expect(formatWhen(today.toISOString(), now)).toBe(today.toLocaleTimeString());
    expect(formatWhen(before.toISOString(), now)).toBe(before.toLocaleString());
    expect(formatWhen('not a time', now)).toBe('not a time');
  });
});

describe('fetchTraceRows', () => {
  const query: ITraceQuery = { experimentId: '1', filter: '' };
  const pages = (count: number) => {
    const calls: Array<[number, number]> = [];
    const list = async (_q: ITraceQuery, limit: number, offset: number): Promise<ITracePage> => {
      calls.push([limit, offset]);
      const n = Math.max(0, Math.min(limit, count - offset));
      const traces = Array.from(
        { length: n },
        (_, i) => ({ trace_id: `tr-${offset + i}` }) as ITracePage['traces'][0]
      );
      return { traces, offset, limit, next_offset: n === limit ? offset + n : null };
    };
    return { calls, list };
  };

  it('fetches every wanted row in pages of at most 500, and says whether there are more', async () => {
    const { calls, list } = pages(1200);
    const rows = await fetchTraceRows(query, 1100, list);
    expect(rows.traces).toHaveLength(1100);
    expect(rows.more).toBe(true);
    expect(calls).toEqual([
      [500, 0],
      [500, 500],
      [100, 1000]
    ]);
  });

  it('stops at the last page', async () => {
    const { calls, list } = pages(30);
    const rows = await fetchTraceRows(query, 50, list);
    expect(rows.traces.map(t => t.trace_id).slice(-1)).toEqual(['tr-29']);
    expect(rows.more).toBe(false);
    expect(calls).toEqual([[50, 0]]);
  });
});

describe('the trace endpoints', () => {
  const BASE = 'http://localhost:8888/base/';
  function server(body: unknown): { settings: ServerConnection.ISettings; urls: string[] } {
    const urls: string[] = [];
    const fetch = async (input: RequestInfo | URL): Promise<Response> => {
      urls.push((input as Request).url);
      return new Response(JSON.stringify(body), {
        status: 200,
        headers: { 'Content-Type': 'application/json' }
      });
    };
    const settings = ServerConnection.makeSettings({
      baseUrl: BASE,
      token: 't',
      fetch,
      init: { credentials: 'same-origin' }
    });
    return { settings, urls };
  }

  it("lists an experiment's traces, or every experiment's, with the filter encoded", async () => {
    const page = { traces: [], offset: 0, limit: 50, next_offset: null };
    const { settings, urls } = server(page);
    await expect(
      listTraces({ experimentId: '7', filter: "status = 'ERROR'" }, 50, 100, settings)
    ).resolves.toEqual(page);
    await listTraces({ experimentId: '', filter: '' }, 20, 0, settings);
    expect(urls).toEqual([
      `${BASE}mlnb/api/experiments/7/traces?filter=status%20%3D%20%27ERROR%27&limit=50&offset=100`,
      `${BASE}mlnb/api/traces?limit=20&offset=0`
    ]);
  });

  it('opens a trace by its id, with its run', async () => {
    const info = { trace_id: 'tr-1', state: 'OK', tags: {}, trace_metadata: {} };
    const { settings, urls } = server({ trace: { info, data: { spans: [] } }, run_id: 'r1' });
    const trace = await getTrace('tr-1', settings);
    expect(urls).toEqual([`${BASE}mlnb/api/traces/tr-1`]);
    expect(trace.info.run_id).toBe('r1');
    expect(trace.data.spans).toEqual([]);
  });
});
