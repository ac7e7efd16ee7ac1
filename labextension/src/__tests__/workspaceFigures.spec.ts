/**
 * The workspace's chart figures: a line per run, or per group a center line and its band; user
 * strings escaped before Plotly sees them; x by step, wall time or time since the run started.
 */
import { IWsRun } from '../workspace/columns';
import {
  barFigure,
  Histories,
  lineFigure,
  lineLegend,
  PALETTE,
  runSeries,
  scatterFigure
} from '../workspace/figures';
import { newChart } from '../workspace/viewState';

const XSS = '<img src=x onerror=alert(1)>$x$';

function run(id: string, model: string, extra: Partial<IWsRun> = {}): IWsRun {
  return {
    run_id: id,
    run_name: `${XSS}-${id}`,
    experiment_id: '1',
    status: 'FINISHED',
    start_time: 1000,
    end_time: 2000,
    lifecycle_stage: 'active',
    user_id: 'u',
    metrics: { acc: Number(id.slice(1)) / 10 },
    params: { model, seed: id.slice(1) },
    tags: {},
    ...extra
  };
}

const runs = [run('r1', 'cnn'), run('r2', 'cnn'), run('r3', XSS)];
const histories: Histories = {
  r1: { loss: [0, 1, 2].map(s => ({ step: s, value: 1 + s, timestamp: 1000 + 1000 * s })) },
  r2: { loss: [0, 2].map(s => ({ step: s, value: 3 + s, timestamp: 3000 + 1000 * s })) },
  r3: {
    loss: [
      { step: 0, value: 'NaN', timestamp: 1000 },
      { step: 1, value: 5, timestamp: 2000 }
    ]
  }
};

describe('line charts', () => {
  it('draws a line per run, names escaped', () => {
    const figure = lineFigure(newChart('line', { metric: 'loss' }), runs, histories, {
      groupBy: null,
      center: 'mean',
      band: 'std'
    });
    expect(figure.data).toHaveLength(3);
    const names = figure.data.map(t => (t as { name: string }).name);
    expect(names[0]).toBe('&lt;img src=x onerror=alert(1)&gt;&#36;x&#36;-r1');
    expect(names.join('')).not.toMatch(/[<>$]/);
    // NaN left out: r3 has one point, drawn as a marker
    expect((figure.data[2] as { x: number[]; mode: string }).x).toEqual([1]);
    expect((figure.data[2] as { mode: string }).mode).toBe('markers');
  });

  it('draws per group its band and center, aligned on the union of steps', () => {
    const figure = lineFigure(newChart('line', { metric: 'loss' }), runs, histories, {
      groupBy: { kind: 'param', key: 'model' },
      center: 'mean',
      band: 'minmax'
    });
    type Trace = { name: string; meta?: string; x: number[]; y: number[]; fill?: string };
    const traces = figure.data as Trace[];
    const cnn = traces.filter(t => t.name.startsWith('model=cnn'));
    expect(cnn.map(t => t.meta ?? 'lower')).toEqual(['lower', 'band', 'center']);
    expect(cnn[2].name).toBe('model=cnn (2)');
    expect(cnn[2].x).toEqual([0, 1, 2]);
    // step 1: r1 = 2, r2 interpolated between 3 (step 0) and 5 (step 2) = 4
    expect(cnn[2].y).toEqual([2, 3, 4]);
    expect(cnn[0].y).toEqual([1, 2, 3]);
    expect(cnn[1].y).toEqual([3, 4, 5]);
    expect(cnn[1].fill).toBe('tonexty');
    const other = traces.filter(t => t.meta === 'center' && !t.name.startsWith('model=cnn'));
    expect(other[0].name).toBe('model=&lt;img src=x onerror=alert(1)&gt;&#36;x&#36; (1)');
  });

  it('gives a run the same colour in every chart, named once in the shared legend', () => {
    const none = { groupBy: null, center: 'mean' as const, band: 'std' as const };
    // r1 has no acc history: the acc chart must not shift r2 and r3 onto other colours
    const accHistories: Histories = {
      r2: { acc: [{ step: 0, value: 1, timestamp: 1 }] },
      r3: { acc: [{ step: 0, value: 2, timestamp: 1 }] }
    };
    type Trace = { name: string; line: { color: string } };
    const loss = lineFigure(newChart('line', { metric: 'loss' }), runs, histories, none).data as Trace[];
    const acc = lineFigure(newChart('line', { metric: 'acc' }), runs, accHistories, none).data as Trace[];
    expect(loss.map(t => t.line.color)).toEqual([PALETTE[0], PALETTE[1], PALETTE[2]]);
    expect(acc.map(t => t.line.color)).toEqual([PALETTE[1], PALETTE[2]]);
    expect(lineFigure(newChart('line', { metric: 'loss' }), runs, histories, none).layout.showlegend).toBe(
      false
    );
    // the legend is text for React to escape: the raw name, not entities
    expect(lineLegend(runs, null)).toEqual([
      { label: `${XSS}-r1`, colour: PALETTE[0] },
      { label: `${XSS}-r2`, colour: PALETTE[1] },
      { label: `${XSS}-r3`, colour: PALETTE[2] }
    ]);
  });

  it('gives a group the colour the legend shows for it', () => {
    const grouping = {
      groupBy: { kind: 'param' as const, key: 'model' },
      center: 'mean' as const,
      band: 'none' as const
    };
    const legend = lineLegend(runs, grouping.groupBy);
    expect(legend).toEqual([
      { label: 'model=cnn (2)', colour: PALETTE[0] },
      { label: `model=${XSS} (1)`, colour: PALETTE[1] }
    ]);
    // a chart where the cnn runs have no points keeps the other group on its own colour
    const only = { r3: histories.r3 };
    type Trace = { line: { color: string }; meta?: string };
    const traces = lineFigure(newChart('line', { metric: 'loss' }), runs, only, grouping).data as Trace[];
    expect(traces.filter(t => t.meta === 'center').map(t => t.line.color)).toEqual([PALETTE[1]]);
  });

  it('puts wall time or time since the run started on x', () => {
    const points = histories.r2.loss;
    expect(runSeries(runs[1], points, 'wall').x).toEqual([3000, 5000]);
    expect(runSeries(runs[1], points, 'relative').x).toEqual([2, 4]);
  });
});

describe('scatter and bars', () => {
  it('escapes group names and run labels', () => {
    const grouping = {
      groupBy: { kind: 'param' as const, key: 'model' },
      center: 'mean' as const,
      band: 'std' as const
    };
    const scatter = scatterFigure(
      newChart('scatter', { x: 'param:seed', y: 'metric:last:acc' }),
      runs,
      grouping
    );
    const names = scatter.data.map(t => (t as { name: string }).name);
    expect(names).toEqual(['model=cnn', 'model=&lt;img src=x onerror=alert(1)&gt;&#36;x&#36;']);
    const bars = barFigure(newChart('bar', { metric: 'acc' }), runs, { ...grouping, groupBy: null });
    const ticks = (bars.layout.xaxis as { ticktext: string[] }).ticktext;
    expect(ticks.join('')).not.toMatch(/[<>$]/);
    const grouped = barFigure(newChart('bar', { metric: 'acc' }), runs, grouping);
    const trace = grouped.data[0] as { y: number[]; error_y: { array: number[] } };
    expect(trace.y[0]).toBeCloseTo(0.15, 12);
    expect(trace.error_y.array[0]).toBeCloseTo(Math.SQRT1_2 * 0.1, 12);
  });
});
