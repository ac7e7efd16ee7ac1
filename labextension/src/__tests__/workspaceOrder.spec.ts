/**
 * The runs table's order past the runs the workspace loads: which sorts the server does, the
 * note for those it cannot, and the order-by sent with every page.
 */
import { ServerConnection } from '@jupyterlab/services';

import { serverOrderBy, tableOrder } from '../workspace/columns';
import { loadAllRuns, MAX_WORKSPACE_RUNS } from '../workspace/wsApi';

describe('serverOrderBy', () => {
  it('names attributes, params, tags and last metric values in the search grammar', () => {
    expect(serverOrderBy({ kind: 'attr', key: 'duration' }, true)).toBe('attributes.duration DESC');
    expect(serverOrderBy({ kind: 'param', key: 'learning rate' }, false)).toBe('params.`learning rate` ASC');
    expect(serverOrderBy({ kind: 'tag', key: 'a"b' }, false)).toBe('tags.`a"b` ASC');
    expect(serverOrderBy({ kind: 'metric', key: 'val`loss', agg: 'last' }, true)).toBe(
      'metrics."val`loss" DESC'
    );
    expect(serverOrderBy({ kind: 'metric', key: 'loss' }, true)).toBe('metrics.`loss` DESC');
  });

  it('is null for what the server cannot order by', () => {
    expect(serverOrderBy(null, false)).toBeNull();
    expect(serverOrderBy({ kind: 'metric', key: 'loss', agg: 'min' }, false)).toBeNull();
    expect(serverOrderBy({ kind: 'metric', key: 'loss', agg: 'max' }, true)).toBeNull();
    expect(serverOrderBy({ kind: 'tag', key: 'a`b"c' }, false)).toBeNull();
    expect(serverOrderBy({ kind: 'attr', key: 'no_such_attribute' }, false)).toBeNull();
  });
});

describe('tableOrder', () => {
  const loss = { kind: 'metric' as const, key: 'loss', agg: 'last' as const };
  const lowest = { kind: 'metric' as const, key: 'loss', agg: 'min' as const };

  it('sorts in the browser while every matching run is loaded', () => {
    expect(tableOrder(20_000, 20_000, loss, true)).toEqual({ orderBy: null, sortLoaded: true, note: null });
    expect(tableOrder(50_000, 20_000, null, true)).toEqual({ orderBy: null, sortLoaded: true, note: null });
  });

  it('asks the server past that, so the runs loaded are the first of all of them', () => {
    expect(tableOrder(20_001, 20_000, loss, true)).toEqual({
      orderBy: 'metrics.`loss` DESC',
      sortLoaded: false,
      note: null
    });
  });

  it('says so when a min or max sort covers only the runs loaded', () => {
    const order = tableOrder(53_210, 20_000, lowest, false);
    expect(order.orderBy).toBeNull();
    expect(order.sortLoaded).toBe(true);
    expect(order.note).toContain('Sorted among the 20,000 runs loaded, not all 53,210');
    expect(order.note).toContain('Narrow the filter');
  });
});

describe('loadAllRuns', () => {
  it('sends the order-by with every page and hands the pages on in order', async () => {
    const total = MAX_WORKSPACE_RUNS + 5;
    const urls: URL[] = [];
    const fetch = async (input: RequestInfo | URL): Promise<Response> => {
      const url = new URL((input as Request).url);
      urls.push(url);
      const offset = Number(url.searchParams.get('offset'));
      const limit = Number(url.searchParams.get('limit'));
      const count = Math.max(0, Math.min(limit, total - offset));
      const runs = Array.from({ length: count }, (_, i) => ({ run_id: `r${offset + i}` }));
      return new Response(JSON.stringify({ runs, total, param_keys: [], metric_keys: [] }), {
        headers: { 'Content-Type': 'application/json' }
      });
    };
    const settings = ServerConnection.makeSettings({
      baseUrl: 'http://localhost:8888/',
      token: 't',
      fetch,
      init: { credentials: 'same-origin' }
    });
    const seen: string[] = [];
    const found = await loadAllRuns(
      '7',
      "params.seed = '1'",
      runs => seen.push(...runs.map(r => r.run_id)),
      () => false,
      settings,
      'metrics.`loss` DESC'
    );
    expect(found).toBe(total);
    expect(seen.length).toBe(MAX_WORKSPACE_RUNS);
    expect(seen.slice(0, 3)).toEqual(['r0', 'r1', 'r2']);
    expect(seen[seen.length - 1]).toBe(`r${MAX_WORKSPACE_RUNS - 1}`);
    // the last page asks only for the runs left under the cap
    expect(
      Math.max(...urls.map(u => Number(u.searchParams.get('offset')) + Number(u.searchParams.get('limit'))))
    ).toBe(MAX_WORKSPACE_RUNS);
    expect(urls.every(u => u.searchParams.get('order_by') === 'metrics.`loss` DESC')).toBe(true);
    expect(urls.every(u => u.searchParams.get('filter') === "params.seed = '1'")).toBe(true);
  });

  it('sends no order-by by default', async () => {
    const urls: URL[] = [];
    const fetch = async (input: RequestInfo | URL): Promise<Response> => {
      urls.push(new URL((input as Request).url));
      return new Response(JSON.stringify({ runs: [], total: 0, param_keys: [], metric_keys: [] }), {
        headers: { 'Content-Type': 'application/json' }
      });
    };
    const settings = ServerConnection.makeSettings({ baseUrl: 'http://localhost:8888/', token: 't', fetch });
    await loadAllRuns(
      '7',
      '',
      () => undefined,
      () => false,
      settings
    );
    expect(urls.length).toBe(1);
    expect(urls[0].searchParams.has('order_by')).toBe(false);
  });
});
