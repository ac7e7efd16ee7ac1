/**
 * The math of the workspace's charts, pure (no DOM): EMA smoothing, grouping runs by a param or
 * tag, and the aggregate line of a group with its band.
 *
 * **Aligning different step grids.** The runs of a group rarely share x values: they log at
 * different steps, and the server's downsampling keeps different points of each. A group's line
 * is drawn on the union of its runs' x values (`unionGrid`). At each x, a run contributes its
 * value linearly interpolated between its two nearest points (`valueAt`); a run contributes
 * nothing outside its own first..last x (no extrapolation), so each x aggregates only the runs
 * that cover it, and `count` says how many did. When the union is longer than `maxGrid` points,
 * it is thinned to `maxGrid` evenly spaced picks of itself (keeping its first and last) so one
 * chart never draws more than that per group.
 *
 * **Bands.** `std`: center ± the sample standard deviation (n - 1; 0 for one run); `minmax`: the
 * lowest and highest run; `ci95`: the 95% confidence interval of the mean, mean ± t(0.975, n-1) ·
 * s / √n (Student's t; for one run the band is the value itself). The center is the mean or the
 * median; a `ci95` band is always around the mean.
 */
import type { Band, Center } from './viewState';

/** One run's curve: x values ascending, and a value for each. */
export interface ISeries {
  x: number[];
  y: number[];
}

export interface IAggregate {
  x: number[];
  center: number[];
  lower: number[];
  upper: number[];
  /** How many runs covered each x. */
  count: number[];
}

/**
 * Exponential moving average as TensorBoard draws it: `s = w·s + (1 - w)·y`, debiased by
 * `1 - w^k` so the start is not pulled towards 0. Non-finite values are passed through and
 * skipped by the average.
 *
 * @param values the values in x order.
 * @param weight 0 (no smoothing) to below 1.
 */
export function ema(values: number[], weight: number): number[] {
  if (!(weight > 0)) {
    return [...values];
  }
  const w = Math.min(weight, 0.999);
  let last = 0;
  let k = 0;
  return values.map(v => {
    if (!Number.isFinite(v)) {
      return v;
    }
    last = last * w + (1 - w) * v;
    k += 1;
    return last / (1 - Math.pow(w, k));
  });
}

/** The sorted union of the x values of some series (each value once). */
export function unionGrid(series: ISeries[], maxGrid = 2000): number[] {
  const all = [...new Set(series.flatMap(s => s.x))].sort((a, b) => a - b);
  if (all.length <= maxGrid || maxGrid < 2) {
    return all;
  }
  const picked: number[] = [];
  for (let i = 0; i < maxGrid; i++) {
    const value = all[Math.round((i * (all.length - 1)) / (maxGrid - 1))];
    if (picked[picked.length - 1] !== value) {
      picked.push(value);
    }
  }
  return picked;
}

/**
 * A series' value at `x`: exact where it has a point (the last of equal x values), linearly
 * interpolated between neighbours, null outside its first..last x or where a neighbour is not
 * finite.
 */
export function valueAt(series: ISeries, x: number): number | null {
  const xs = series.x;
  const n = xs.length;
  if (n === 0 || x < xs[0] || x > xs[n - 1]) {
    return null;
  }
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    // the first index with xs[i] > x, minus one: the last point at or before x
    const mid = (lo + hi + 1) >> 1;
    if (xs[mid] <= x) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  const y0 = series.y[lo];
  if (xs[lo] === x) {
    return Number.isFinite(y0) ? y0 : null;
  }
  const y1 = series.y[lo + 1];
  if (!Number.isFinite(y0) || !Number.isFinite(y1)) {
    return null;
  }
  const t = (x - xs[lo]) / (xs[lo + 1] - xs[lo]);
  return y0 + t * (y1 - y0);
}

// Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom.
const T_975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042
];

/** t(0.975, df): the table up to 30, then the Cornish-Fisher expansion around 1.96. */
export function tQuantile975(df: number): number {
  if (df < 1) {
    return NaN;
  }
  if (df <= 30) {
    return T_975[Math.floor(df) - 1];
  }
  const z = 1.959964;
  return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df * df);
}

export function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The sample standard deviation (n - 1); 0 for fewer than two values. */
export function sampleStd(values: number[]): number {
  if (values.length < 2) {
    return 0;
  }
  const m = mean(values);
  return Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / (values.length - 1));
}

/** The center and band of some values (one x of a group). */
export function summarize(values: number[], center: Center, band: Band): [number, number, number] {
  const c = center === 'median' ? median(values) : mean(values);
  switch (band) {
    case 'std': {
      const s = sampleStd(values);
      return [c, c - s, c + s];
    }
    case 'minmax':
      return [c, Math.min(...values), Math.max(...values)];
    case 'ci95': {
      const m = mean(values);
      const half =
        values.length < 2
          ? 0
          : (tQuantile975(values.length - 1) * sampleStd(values)) / Math.sqrt(values.length);
      return [m, m - half, m + half];
    }
    default:
      return [c, c, c];
  }
}

/** The aggregate line of a group's series on the union of their x values (see the module doc). */
export function aggregate(series: ISeries[], center: Center, band: Band, maxGrid = 2000): IAggregate {
  const out: IAggregate = { x: [], center: [], lower: [], upper: [], count: [] };
  for (const x of unionGrid(series, maxGrid)) {
    const values: number[] = [];
    for (const s of series) {
      const v = valueAt(s, x);
      if (v !== null) {
        values.push(v);
      }
    }
    if (!values.length) {
      continue;
    }
    const [c, lo, hi] = summarize(values, center, band);
    out.x.push(x);
    out.center.push(c);
    out.lower.push(lo);
    out.upper.push(hi);
    out.count.push(values.length);
  }
  return out;
}

/** Items grouped by a key (items without one under `missing`), groups in first-seen order. */
export function groupBy<T>(
  items: T[],
  keyOf: (item: T) => string | undefined,
  missing = '(none)'
): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item) ?? missing;
    const list = groups.get(key);
    if (list) {
      list.push(item);
    } else {
      groups.set(key, [item]);
    }
  }
  return groups;
}
