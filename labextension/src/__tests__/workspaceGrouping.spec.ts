/**
 * The workspace's grouping math against references computed here, point by point: runs on
 * different step grids aligned by linear interpolation on the union of their steps, the mean or
 * median of each group with a band of std, min-max or a 95% confidence interval.
 */
import {
  aggregate,
  ema,
  groupBy,
  ISeries,
  median,
  summarize,
  tQuantile975,
  unionGrid,
  valueAt
} from '../workspace/grouping';

function curve(steps: number[], f: (s: number) => number): ISeries {
  return { x: steps, y: steps.map(f) };
}

const range = (start: number, stop: number, by: number): number[] => {
  const out: number[] = [];
  for (let s = start; s < stop; s += by) {
    out.push(s);
  }
  return out;
};

describe('alignment', () => {
  it('interpolates linearly between neighbours and not outside a run', () => {
    const s = { x: [0, 10, 20], y: [0, 100, 50] };
    expect(valueAt(s, 0)).toBe(0);
    expect(valueAt(s, 5)).toBeCloseTo(50);
    expect(valueAt(s, 15)).toBeCloseTo(75);
    expect(valueAt(s, 20)).toBe(50);
    expect(valueAt(s, -1)).toBeNull();
    expect(valueAt(s, 21)).toBeNull();
    expect(valueAt({ x: [], y: [] }, 0)).toBeNull();
    expect(valueAt({ x: [0, 1], y: [NaN, 1] }, 0.5)).toBeNull();
  });

  it('takes the union of steps, thinned evenly past maxGrid', () => {
    expect(
      unionGrid([
        { x: [0, 2, 4], y: [1, 1, 1] },
        { x: [0, 3], y: [1, 1] }
      ])
    ).toEqual([0, 2, 3, 4]);
    const thinned = unionGrid([curve(range(0, 1000, 1), () => 1)], 11);
    expect(thinned).toEqual([0, 100, 200, 300, 400, 500, 599, 699, 799, 899, 999]);
  });
});

describe('aggregate', () => {
  // Three seeds of one configuration, logging every 1, 2 and 3 steps over different spans.
  const f = [(s: number) => 1 / (1 + s), (s: number) => 2 / (1 + s) + 0.1, (s: number) => 0.5 + 0.01 * s];
  const runs = [curve(range(0, 30, 1), f[0]), curve(range(0, 25, 2), f[1]), curve(range(3, 28, 3), f[2])];

  function reference(x: number): number[] {
    // each run's value at x computed independently: exact on its grid, else linear between
    // its neighbours, nothing outside its span
    const values: number[] = [];
    runs.forEach(run => {
      const xs = run.x;
      if (x < xs[0] || x > xs[xs.length - 1]) {
        return;
      }
      const i = xs.findIndex(v => v >= x);
      if (xs[i] === x) {
        values.push(run.y[i]);
      } else {
        const t = (x - xs[i - 1]) / (xs[i] - xs[i - 1]);
        values.push(run.y[i - 1] * (1 - t) + run.y[i] * t);
      }
    });
    return values;
  }

  it('gives the mean with a std band on the union of steps', () => {
    const agg = aggregate(runs, 'mean', 'std');
    expect(agg.x).toEqual(range(0, 30, 1));
    agg.x.forEach((x, i) => {
      const values = reference(x);
      const m = values.reduce((a, v) => a + v, 0) / values.length;
      const sd =
        values.length > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / (values.length - 1)) : 0;
      expect(agg.count[i]).toBe(values.length);
      expect(agg.center[i]).toBeCloseTo(m, 12);
      expect(agg.lower[i]).toBeCloseTo(m - sd, 12);
      expect(agg.upper[i]).toBeCloseTo(m + sd, 12);
    });
    // step 10: all three runs cover it (run 2 on its grid, run 3 between 9 and 12)
    expect(agg.count[10]).toBe(3);
    // step 0 and step 29: only the runs that cover them
    expect(agg.count[0]).toBe(2);
    expect(agg.count[29]).toBe(1);
  });

  it('gives the median with a min-max band', () => {
    const agg = aggregate(runs, 'median', 'minmax');
    agg.x.forEach((x, i) => {
      const values = reference(x).sort((a, b) => a - b);
      const mid = values.length >> 1;
      const med = values.length % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
      expect(agg.center[i]).toBeCloseTo(med, 12);
      expect(agg.lower[i]).toBeCloseTo(values[0], 12);
      expect(agg.upper[i]).toBeCloseTo(values[values.length - 1], 12);
    });
  });

  it('gives the mean with a 95% confidence interval (Student t)', () => {
    const agg = aggregate(runs, 'median', 'ci95');
    const i = agg.x.indexOf(12);
    const values = reference(12);
    expect(values.length).toBe(3);
    const m = values.reduce((a, v) => a + v, 0) / 3;
    const sd = Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / 2);
    const half = (4.303 * sd) / Math.sqrt(3); // t(0.975, 2)
    expect(agg.center[i]).toBeCloseTo(m, 12);
    expect(agg.lower[i]).toBeCloseTo(m - half, 12);
    expect(agg.upper[i]).toBeCloseTo(m + half, 12);
    expect(summarize([5], 'mean', 'ci95')).toEqual([5, 5, 5]);
  });

  it('draws no band when asked for none, and skips steps no run covers', () => {
    const agg = aggregate(
      [
        { x: [0, 1], y: [1, 3] },
        { x: [5, 6], y: [10, 20] }
      ],
      'mean',
      'none'
    );
    expect(agg.x).toEqual([0, 1, 5, 6]);
    expect(agg.lower).toEqual(agg.center);
    expect(agg.upper).toEqual(agg.center);
  });
});

describe('helpers', () => {
  it('has t quantiles for small and large samples', () => {
    expect(tQuantile975(1)).toBeCloseTo(12.706, 3);
    expect(tQuantile975(30)).toBeCloseTo(2.042, 3);
    expect(tQuantile975(60)).toBeCloseTo(2.0003, 3);
    expect(tQuantile975(1e6)).toBeCloseTo(1.96, 3);
    expect(median([3, 1, 2, 10])).toBe(2.5);
  });

  it('smooths with a debiased EMA', () => {
    expect(ema([1, 2, 3], 0)).toEqual([1, 2, 3]);
    const w = 0.6;
    const s = ema([1, 3, NaN, 5], w);
    // reference: s_k = (sum_j w^(k-j) (1-w) y_j) / (1 - w^k) over the finite values
    expect(s[0]).toBeCloseTo(1, 12);
    expect(s[1]).toBeCloseTo((w * (1 - w) * 1 + (1 - w) * 3) / (1 - w * w), 12);
    expect(Number.isNaN(s[2])).toBe(true);
    expect(s[3]).toBeCloseTo((w * w * (1 - w) * 1 + w * (1 - w) * 3 + (1 - w) * 5) / (1 - w ** 3), 12);
    expect(ema([7, 7, 7], 0.9).every(v => Math.abs(v - 7) < 1e-12)).toBe(true);
  });

  it('groups in first-seen order, without a key under (none)', () => {
    const groups = groupBy(['a1', 'b1', 'a2', 'x'], s => (s === 'x' ? undefined : s[0]));
    expect([...groups.keys()]).toEqual(['a', 'b', '(none)']);
    expect(groups.get('a')).toEqual(['a1', 'a2']);
  });
});
