/**
 * `ExperimentsModel` against a mocked API module (as jupyterlab-git's model.spec.tsx does), with
 * jest's fake timers driving the Poll and the filter's debounce.
 */
import * as api from '../api';
import { ApiError } from '../api';
import { ConfirmRuns, ExperimentsModel, FILTER_DELAY_MS, PAGE_SIZE } from '../model';
import { fetchRunRows } from '../runs';
import { IRun, IRunPage, IRunQuery } from '../tokens';
import { deferred } from './deferred';

jest.mock('../api', () => ({
  ...jest.requireActual<typeof import('../api')>('../api'),
  getVersion: jest.fn(),
  listExperiments: jest.fn(),
  listRuns: jest.fn(),
  deleteRun: jest.fn(),
  restoreRun: jest.fn()
}));

const mocked = jest.mocked(api);

function run(id: string, extra: Partial<IRun> = {}): IRun {
  return {
    run_id: id,
    run_name: `name-${id}`,
    experiment_id: '1',
    status: 'FINISHED',
    start_time: 0,
    end_time: null,
    lifecycle_stage: 'active',
    user_id: 'me',
    metrics: {},
    params: {},
    tags: {},
    ...extra
  };
}

function page(runs: IRun[], total = runs.length, keys: Partial<IRunPage> = {}): IRunPage {
  return { runs, total, limit: 0, offset: 0, metric_keys: [], param_keys: [], ...keys };
}

/** The queries of the listRuns calls so far, without their offsets. */
function queries(): IRunQuery[] {
  return mocked.listRuns.mock.calls.map(([query]) => query);
}

/** Advance the fake clock (by 1 ms at least: a 0 ms timeout set while timers run is due 1 ms later). */
const tick = (ms = 1): Promise<void> => jest.advanceTimersByTimeAsync(ms);

let visible: boolean;
let confirm: jest.MockedFunction<ConfirmRuns>;
let model: ExperimentsModel;

function makeModel(): ExperimentsModel {
  model = new ExperimentsModel({ isVisible: () => visible, confirm });
  return model;
}

beforeEach(() => {
  jest.useFakeTimers();
  jest.resetAllMocks();
  visible = true;
  confirm = jest.fn().mockResolvedValue(true);
  mocked.getVersion.mockResolvedValue({ mlnb_version: '0.1.0', api_version: 1, store: 'sqlite:///s.db' });
  mocked.listExperiments.mockResolvedValue([
    {
      experiment_id: '1',
      name: 'e1',
      lifecycle_stage: 'active',
      tags: {},
      creation_time: null,
      last_update_time: null
    }
  ]);
  mocked.listRuns.mockResolvedValue(page([run('a'), run('b')]));
  mocked.deleteRun.mockResolvedValue({});
  mocked.restoreRun.mockResolvedValue({});
});

afterEach(() => {
  model?.dispose();
  jest.useRealTimers();
});

describe('start', () => {
  it('shakes hands, loads the experiments and the first page of runs', async () => {
    makeModel();
    const changes = jest.fn();
    model.changed.connect(changes);
    model.start();
    expect(model.runs.loading).toBe(true);
    await tick();
    expect(model.handshake).toEqual({ storeUri: 'sqlite:///s.db', problem: null, readOnly: null });
    expect(model.experiments.map(e => e.name)).toEqual(['e1']);
    expect(mocked.listRuns).toHaveBeenCalledWith(
      {
        experimentId: '',
        filter: '',
        orderBy: 'attributes.start_time DESC',
        view: 'active',
        limit: PAGE_SIZE
      },
      0
    );
    expect(model.runs).toMatchObject({ total: 2, loading: false, error: null, filterError: null });
    expect(model.runs.runs.map(r => r.run_id)).toEqual(['a', 'b']);
    expect(model.runs.firstRowsMs).not.toBeNull();
    expect(model.modelsGeneration).toBe(1);
    expect(changes).toHaveBeenCalled();
  });

  it('reports a server that speaks another API version', async () => {
    mocked.getVersion.mockResolvedValue({ mlnb_version: '9.0.0', api_version: 2, store: 's' });
    makeModel().start();
    await tick();
    expect(model.handshake.storeUri).toBe('');
    expect(model.handshake.problem).toMatch(
      /speaks mlnb API 1, but the server extension \(mlnb 9\.0\.0\) speaks API 2/
    );
  });

  it('keeps why a store may only be read (a reader role) for the write actions', async () => {
    const reason = "Your database role 'r' may read but not change the store <b>s</b>.";
    mocked.getVersion.mockResolvedValue({
      mlnb_version: '0.1.0',
      api_version: 1,
      store: 'postgresql://r:***@h/db',
      can_write: false,
      read_only_reason: reason
    });
    makeModel().start();
    await tick();
    expect(model.handshake).toEqual({ storeUri: 'postgresql://r:***@h/db', problem: null, readOnly: reason });
  });

  it('explains a 404 as a missing server extension', async () => {
    mocked.getVersion.mockRejectedValue(new ApiError(404, 'HTTP_404', 'Not Found'));
    makeModel().start();
    await tick();
    expect(model.handshake.problem).toMatch(/^The mlnb server extension is not running/);
  });

  it('shows any other handshake failure with its message', async () => {
    mocked.getVersion.mockRejectedValue(new ApiError(0, 'NETWORK_ERROR', 'no answer'));
    makeModel().start();
    await tick();
    expect(model.handshake.problem).toBe('Cannot reach the mlnb server extension: no answer');
  });
});

describe('polling', () => {
  it('refreshes every 2 s while shown', async () => {
    makeModel().start();
    await tick();
    const calls = mocked.listRuns.mock.calls.length;
    mocked.listRuns.mockResolvedValue(page([run('a', { status: 'RUNNING' }), run('b'), run('c')]));
    await tick(2000);
    expect(mocked.listRuns.mock.calls.length).toBe(calls + 1);
    expect(model.runs.runs.map(r => r.run_id)).toEqual(['a', 'b', 'c']);
    expect(model.runs.runs[0].status).toBe('RUNNING');
  });

  it('stands by while the panel is hidden, and refreshes when it is shown', async () => {
    visible = false;
    makeModel().start();
    await tick(10_000);
    expect(mocked.listRuns).not.toHaveBeenCalled();
    expect(model.runs.loading).toBe(true);
    visible = true;
    model.shown();
    await tick();
    expect(mocked.listRuns).toHaveBeenCalledTimes(1);
    expect(model.runs.loading).toBe(false);
  });

  it('shows a failure as a banner, then recovers', async () => {
    mocked.listRuns.mockRejectedValue(new ApiError(500, 'INTERNAL_ERROR', 'database is locked'));
    makeModel().start();
    await tick();
    expect(model.runs).toMatchObject({ loading: false, error: 'database is locked', filterError: null });
    mocked.listRuns.mockResolvedValue(page([run('a')]));
    await tick(30_000); // the longest back-off
    expect(model.runs).toMatchObject({ error: null, total: 1 });
  });

  it('shows a rejected filter inline and empties the list', async () => {
    makeModel().start();
    await tick();
    mocked.listRuns.mockRejectedValue(new ApiError(400, 'INVALID_PARAMETER_VALUE', 'acc >>> 1\n    ^'));
    model.setFilterText('acc >>> 1');
    model.applyFilter();
    await tick();
    expect(model.runs).toMatchObject({ runs: [], total: 0, filterError: 'acc >>> 1\n    ^', error: null });
  });

  it('drops the answer to a query that a newer query replaced', async () => {
    const slow = deferred<IRunPage>();
    mocked.listRuns.mockReturnValueOnce(slow.promise);
    makeModel().start();
    await tick();
    mocked.listRuns.mockResolvedValue(page([run('new')]));
    model.setQuery({ experimentId: '1' });
    await tick();
    slow.resolve(page([run('old')]));
    await tick();
    expect(model.runs).toMatchObject({ runs: [], loading: true });
    await tick(2000); // the new query waits for the next tick of the poll
    expect(queries().map(q => q.experimentId)).toEqual(['', '1']);
    expect(model.runs.runs.map(r => r.run_id)).toEqual(['new']);
  });

  it('stops when disposed', async () => {
    makeModel().start();
    await tick();
    const calls = mocked.listRuns.mock.calls.length;
    model.dispose();
    await tick(10_000);
    expect(mocked.listRuns.mock.calls.length).toBe(calls);
    expect(model.isDisposed).toBe(true);
  });
});

describe('query', () => {
  it(`applies the filter text ${FILTER_DELAY_MS} ms after the last change, trimmed`, async () => {
    makeModel().start();
    await tick();
    model.setFilterText('params.lr');
    await tick(FILTER_DELAY_MS - 100);
    model.setFilterText(" params.lr = '0.1' ");
    expect(model.query.filterText).toBe(" params.lr = '0.1' ");
    await tick(FILTER_DELAY_MS - 100);
    expect(queries().map(q => q.filter)).toEqual(['']);
    await tick(100);
    await tick();
    expect(queries().map(q => q.filter)).toEqual(['', "params.lr = '0.1'"]);
    expect(model.query.filter).toBe("params.lr = '0.1'");
  });

  it('applies the filter at once on Enter, and only once', async () => {
    makeModel().start();
    await tick();
    model.setFilterText('metrics.acc > 0.9');
    model.applyFilter();
    await tick();
    expect(queries().map(q => q.filter)).toEqual(['', 'metrics.acc > 0.9']);
    await tick(FILTER_DELAY_MS);
    expect(queries()).toHaveLength(2);
  });

  it('keeps the rows when the applied filter does not change', async () => {
    makeModel().start();
    await tick();
    model.setFilterText('  ');
    await tick(FILTER_DELAY_MS);
    expect(queries()).toHaveLength(1);
    expect(model.runs.runs).toHaveLength(2);
  });

  it('sorts descending first, then flips on the same column', async () => {
    makeModel().start();
    await tick();
    model.sortBy('metrics.acc');
    expect(model.query.sort).toEqual({ column: 'metrics.acc', descending: true });
    model.sortBy('metrics.acc');
    expect(model.query.sort).toEqual({ column: 'metrics.acc', descending: false });
    await tick();
    expect(queries().pop()?.orderBy).toBe('metrics.acc ASC');
  });

  it('clears the selection when the experiment or view changes, not when the order does', async () => {
    makeModel().start();
    await tick();
    model.toggle('a');
    model.sortBy('attributes.run_name');
    expect([...model.selection]).toEqual(['a']);
    model.setQuery({ view: 'deleted' });
    expect(model.selection.size).toBe(0);
    expect(model.runs).toMatchObject({ runs: [], loading: true });
    model.toggle('a');
    model.setQuery({ experimentId: '1' });
    expect(model.selection.size).toBe(0);
    await tick();
    expect(queries().pop()).toMatchObject({ experimentId: '1', view: 'deleted' });
  });

  it('does not query again after a failed handshake', async () => {
    mocked.getVersion.mockRejectedValue(new ApiError(404, 'HTTP_404', 'Not Found'));
    makeModel().start();
    await tick();
    const before = queries().length;
    model.setQuery({ view: 'all' });
    await tick();
    expect(queries()).toHaveLength(before);
  });
});

describe('paging', () => {
  it('loads the next page when asked, once', async () => {
    const first = Array.from({ length: PAGE_SIZE }, (_, i) => run(`r${i}`));
    mocked.listRuns.mockResolvedValue(page(first, 250));
    makeModel().start();
    await tick();
    mocked.listRuns.mockClear();
    model.loadMore();
    model.loadMore(); // already asked for: no second request
    await tick();
    expect(mocked.listRuns.mock.calls).toEqual([[expect.objectContaining({ limit: 2 * PAGE_SIZE }), 0]]);
  });

  it('does not ask for more when every run is loaded', async () => {
    makeModel().start();
    await tick();
    mocked.listRuns.mockClear();
    model.loadMore();
    await tick();
    expect(mocked.listRuns).not.toHaveBeenCalled();
  });

  it('fetches at most 500 rows a request and merges the keys', async () => {
    const rows = (n: number, from: number): IRun[] =>
      Array.from({ length: n }, (_, i) => run(`r${from + i}`));
    mocked.listRuns
      .mockResolvedValueOnce(page(rows(500, 0), 620, { metric_keys: ['loss', 'acc'], param_keys: ['lr'] }))
      .mockResolvedValueOnce(page(rows(120, 500), 620, { metric_keys: ['f1'], param_keys: ['lr', 'depth'] }));
    const query = { experimentId: '', filter: '', orderBy: 'x', view: 'all' as const, limit: 100 };
    const result = await fetchRunRows(query, 700);
    expect(mocked.listRuns.mock.calls.map(([q, offset]) => [q.limit, offset])).toEqual([
      [500, 0],
      [200, 500]
    ]);
    expect(result.runs).toHaveLength(620);
    expect(result.total).toBe(620);
    expect(result.metricKeys).toEqual(['acc', 'f1', 'loss']);
    expect(result.paramKeys).toEqual(['depth', 'lr']);
  });
});

describe('delete and restore', () => {
  async function withSelection(...ids: string[]): Promise<void> {
    makeModel().start();
    await tick();
    ids.forEach(id => model.toggle(id));
  }

  it('deletes the selected loaded runs after a confirmation, then clears the selection', async () => {
    await withSelection('a', 'b', 'not-loaded');
    expect(model.selectedRuns.map(r => r.run_id)).toEqual(['a', 'b']);
    const calls = queries().length;
    await model.deleteOrRestoreSelected();
    expect(confirm).toHaveBeenCalledWith(
      [expect.objectContaining({ run_id: 'a' }), expect.anything()],
      false
    );
    expect(mocked.deleteRun.mock.calls.map(([id]) => id)).toEqual(['a', 'b']);
    expect(mocked.restoreRun).not.toHaveBeenCalled();
    expect(model.selection.size).toBe(0);
    await tick();
    expect(queries().length).toBe(calls + 1); // refreshed at once
  });

  it('restores in the "Deleted runs" view', async () => {
    await withSelection();
    model.setQuery({ view: 'deleted' });
    await tick();
    model.toggle('a');
    await model.deleteOrRestoreSelected();
    expect(confirm).toHaveBeenCalledWith([expect.objectContaining({ run_id: 'a' })], true);
    expect(mocked.restoreRun).toHaveBeenCalledWith('a');
    expect(mocked.deleteRun).not.toHaveBeenCalled();
  });

  it('does nothing when the user says no', async () => {
    await withSelection('a');
    confirm.mockResolvedValue(false);
    await model.deleteOrRestoreSelected();
    expect(mocked.deleteRun).not.toHaveBeenCalled();
    expect([...model.selection]).toEqual(['a']);
  });

  it('shows a failure until dismissed, keeping the selection', async () => {
    await withSelection('a');
    mocked.deleteRun.mockRejectedValue(new ApiError(403, 'PERMISSION_DENIED', 'read-only store'));
    await model.deleteOrRestoreSelected();
    expect(model.actionError).toBe('read-only store');
    expect([...model.selection]).toEqual(['a']);
    model.dismissActionError();
    expect(model.actionError).toBeNull();
  });
});

describe('panel shown again', () => {
  it('reloads the experiments and models', async () => {
    makeModel().start();
    await tick();
    mocked.listExperiments.mockResolvedValue([]);
    model.shown();
    await tick();
    expect(mocked.listExperiments).toHaveBeenCalledTimes(2);
    expect(model.experiments).toEqual([]);
    expect(model.modelsGeneration).toBe(2);
  });

  it('loads nothing more after a failed handshake', async () => {
    mocked.getVersion.mockRejectedValue(new ApiError(404, 'HTTP_404', 'Not Found'));
    makeModel().start();
    await tick();
    model.shown();
    await tick();
    expect(mocked.listExperiments).toHaveBeenCalledTimes(1);
    expect(model.modelsGeneration).toBe(1);
  });

  it('toggles the Models section', () => {
    makeModel();
    expect(model.modelsOpen).toBe(true);
    model.toggleModels();
    expect(model.modelsOpen).toBe(false);
  });
});
