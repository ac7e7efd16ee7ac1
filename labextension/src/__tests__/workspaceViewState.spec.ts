/**
 * The workspace's view state: what a saved view and the browser keep, read back the same, with
 * anything malformed or unknown dropped or defaulted; column ids, moves, sorting and completion.
 */
import { cellText, completions, filterKeys, IWsRun, sortRuns } from '../workspace/columns';
import {
  columnId,
  defaultViewState,
  IViewState,
  loadLocalState,
  moveColumn,
  newChart,
  parseColumnId,
  parseViewState,
  saveLocalState,
  serializeViewState
} from '../workspace/viewState';

function full(): IViewState {
  return {
    version: 1,
    columns: [
      { kind: 'attr', key: 'run_name' },
      { kind: 'param', key: 'seed' },
      { kind: 'metric', key: 'val/loss:a', agg: 'min' },
      { kind: 'tag', key: 'team' }
    ],
    widths: { 'metric:min:val/loss:a': 150, 'param:seed': 60 },
    filter: "params.model = 'cnn'",
    sort: { column: 'metric:min:val/loss:a', descending: true },
    groupBy: { kind: 'param', key: 'model' },
    center: 'median',
    band: 'ci95',
    charts: [
      newChart('line', {
        metric: 'loss',
        smoothing: 0.6,
        logY: true,
        xAxis: 'relative',
        span: 2,
        height: 460
      }),
      newChart('scatter', { x: 'param:seed', y: 'metric:max:acc' }),
      newChart('parallel', { dims: ['param:seed', 'metric:last:acc'] }),
      newChart('bar', { metric: 'acc' })
    ]
  };
}

describe('view state', () => {
  it('round-trips through its JSON form unchanged', () => {
    const state = full();
    const text = serializeViewState(state);
    expect(parseViewState(JSON.parse(text))).toEqual(state);
    expect(serializeViewState(parseViewState(JSON.parse(text)))).toBe(text);
  });

  it('reads anything: defaults for bad fields, unknown ones dropped, numbers clamped', () => {
    expect(parseViewState(null)).toEqual(defaultViewState());
    expect(parseViewState([1, 2])).toEqual(defaultViewState());
    const parsed = parseViewState({
      columns: [
        { kind: 'metric', key: 'loss', agg: 'median' },
        { kind: 'metric', key: 'loss' },
        { kind: 'attr', key: 'password' },
        { kind: 'evil', key: 'x' },
        { kind: 'param', key: '' },
        'nonsense'
      ],
      widths: { 'param:x': 5, 'metric:last:loss': 99999, bogus: 100, 'param:y': 'wide' },
      filter: 42,
      sort: { column: 'nope', descending: true },
      groupBy: { kind: 'metric', key: 'loss' },
      center: 'mode',
      band: 'huge',
      charts: [
        { type: 'line', metric: 'loss', smoothing: 5, span: 9, height: 10, xAxis: 'sideways', extra: '<b>' },
        { type: 'pie' },
        { type: 'scatter', x: 'metric:avg:loss', y: 'param:seed' }
      ],
      surprise: true
    });
    // 'median' is no metric value: the first loss column becomes 'last'; the second repeats it
    expect(parsed.columns).toEqual([{ kind: 'metric', key: 'loss', agg: 'last' }]);
    expect(parsed.widths).toEqual({ 'param:x': 40, 'metric:last:loss': 800 });
    expect(parsed.filter).toBe('');
    expect(parsed.sort).toEqual(defaultViewState().sort);
    expect(parsed.groupBy).toBeNull();
    expect(parsed.center).toBe('mean');
    expect(parsed.band).toBe('std');
    expect(parsed.charts).toHaveLength(2);
    expect(parsed.charts[0]).toMatchObject({ smoothing: 0.99, span: 3, height: 150, xAxis: 'step' });
    expect(parsed.charts[0]).not.toHaveProperty('extra');
    expect(parsed.charts[1]).toMatchObject({ x: '', y: 'param:seed' });
    expect(parsed).not.toHaveProperty('surprise');
  });

  it('is kept per experiment in the browser', () => {
    const storage = window.localStorage;
    storage.clear();
    const state = full();
    saveLocalState('7', state, storage);
    expect(loadLocalState('7', storage)).toEqual(state);
    expect(loadLocalState('8', storage)).toEqual(defaultViewState());
    storage.setItem('mlnb-workspace:9', '{not json');
    expect(loadLocalState('9', storage)).toEqual(defaultViewState());
  });
});

describe('columns', () => {
  it('names columns by an id that parses back, keys with colons included', () => {
    for (const column of full().columns) {
      expect(parseColumnId(columnId(column))).toEqual(column.kind === 'metric' ? column : { ...column });
    }
    expect(parseColumnId('metric:avg:loss')).toBeNull();
    expect(parseColumnId('attr:password')).toBeNull();
    expect(parseColumnId('nocolon')).toBeNull();
  });

  it('moves columns by keyboard steps, clamped', () => {
    const columns = full().columns;
    const moved = moveColumn(columns, 'param:seed', -1);
    expect(moved.map(columnId)).toEqual(['param:seed', 'attr:run_name', 'metric:min:val/loss:a', 'tag:team']);
    expect(moveColumn(columns, 'attr:run_name', -1)).toBe(columns);
    expect(moveColumn(columns, 'tag:team', 5).map(columnId)).toEqual(columns.map(columnId));
  });

  const run = (id: string, fields: Partial<IWsRun>): IWsRun => ({
    run_id: id,
    run_name: id,
    experiment_id: '1',
    status: 'FINISHED',
    start_time: 0,
    end_time: 1500,
    lifecycle_stage: 'active',
    user_id: 'u',
    metrics: {},
    params: {},
    tags: {},
    ...fields
  });

  it('sorts numbers numerically, text after, missing values last both ways', () => {
    const runs = [
      run('a', { params: { lr: '0.1' }, metric_min: { loss: 3 } }),
      run('b', { params: { lr: '0.01' }, metric_min: { loss: 'NaN' } }),
      run('c', { params: { lr: 'auto' }, metric_min: { loss: 1 } }),
      run('d', { params: {}, metric_min: {} })
    ];
    const lr = { kind: 'param' as const, key: 'lr' };
    expect(sortRuns(runs, lr, false).map(r => r.run_id)).toEqual(['b', 'a', 'c', 'd']);
    expect(sortRuns(runs, lr, true).map(r => r.run_id)).toEqual(['a', 'b', 'c', 'd']);
    const loss = { kind: 'metric' as const, key: 'loss', agg: 'min' as const };
    expect(sortRuns(runs, loss, false).map(r => r.run_id)).toEqual(['c', 'a', 'b', 'd']);
    expect(cellText(runs[1], loss)).toBe('NaN');
    expect(cellText(runs[0], { kind: 'attr', key: 'duration' })).toBe('1.5 s');
  });

  it('completes the key under the cursor, outside quotes', () => {
    const keys = filterKeys(['model', 'my key'], ['loss', 'val/loss'], ['team']);
    expect(keys).toContain('params.`my key`');
    expect(completions('params.mo', 9, keys).choices).toEqual(['params.model']);
    expect(completions('metrics.lo', 10, keys).choices).toEqual(['metrics.loss']);
    const inner = completions("params.model = 'cnn' and loss", 29, keys);
    expect(inner.start).toBe(25);
    expect(inner.choices).toEqual(['metrics.loss', 'metrics.val/loss']);
    expect(completions("params.model = 'lo", 18, keys).choices).toEqual([]);
    expect(completions('', 0, keys).choices).toEqual([]);
  });
});
