/**
 * Shaping a GenAI comparison for its view: the prompt x model grid, win-rate rows and their
 * text, and what promote will do.
 */
import {
  compareGrid,
  formatMeanDiff,
  formatWinRate,
  IComparison,
  ICompareRun,
  IWinRate,
  promoteTarget,
  runLabel,
  winRateRows
} from '../genai';

function run(id: string, prompt: string, model: string, mean: number | 'NaN', linked = 1): ICompareRun {
  const version = prompt.split('/').pop() ?? '1';
  return {
    run_id: id,
    run_name: `run-${id}`,
    prompt,
    model,
    linked_prompts: linked ? [{ name: 'qa', version }] : [],
    rows: 10,
    means: { exact_match: mean }
  };
}

function rate(a: string, b: string, winRate: number, meanDiff: number): IWinRate {
  return {
    scorer: 'exact_match',
    run: a,
    other: b,
    pairs: 10,
    wins: 3,
    ties: 7,
    losses: 0,
    win_rate: winRate,
    ci_low: winRate - 0.15,
    ci_high: winRate + 0.2,
    mean_diff: meanDiff,
    diff_ci_low: meanDiff - 0.2,
    diff_ci_high: meanDiff + 0.1
  };
}

function data(): IComparison {
  return {
    runs: [
      run('a', 'prompts:/qa/1', 'small', 0.6),
      run('b', 'prompts:/qa/1', 'large', 0.9),
      run('c', 'prompts:/qa/2', 'small', 0.5),
      run('d', 'prompts:/qa/2', 'large', 'NaN')
    ],
    scorers: ['exact_match'],
    greater_is_better: { exact_match: true },
    confidence: 0.95,
    winners: { exact_match: 'b' },
    win_rates: [
      rate('a', 'b', 0.35, -0.3),
      rate('b', 'a', 0.65, 0.3),
      { ...rate('b', 'c', 0.7, 0.4), scorer: 'other' }
    ],
    inputs: [],
    total_inputs: 0
  };
}

describe('compareGrid', () => {
  it('puts prompt versions in rows and models in columns, marking the winner', () => {
    const grid = compareGrid(data(), 'exact_match');
    expect(grid.prompts).toEqual(['prompts:/qa/1', 'prompts:/qa/2']);
    expect(grid.models).toEqual(['small', 'large']);
    expect(grid.cells.map(row => row.map(c => c.mean))).toEqual([
      [0.6, 0.9],
      [0.5, null]
    ]);
    expect(grid.cells.map(row => row.map(c => c.winner))).toEqual([
      [false, true],
      [false, false]
    ]);
  });

  it('averages runs of the same cell and names missing parts "-"', () => {
    const d = data();
    d.runs = [run('a', '', 'm', 0.2, 0), run('b', '', 'm', 0.4, 0), run('c', 'prompts:/qa/1', '', 1)];
    const grid = compareGrid(d, 'exact_match');
    expect(grid.prompts).toEqual(['-', 'prompts:/qa/1']);
    expect(grid.models).toEqual(['m', '-']);
    expect(grid.cells[0][0].mean).toBeCloseTo(0.3);
    expect(grid.cells[0][1]).toEqual({ runs: [], mean: null, winner: false });
  });
});

describe('win rates', () => {
  it('keeps the scorer, best first, with intervals as text', () => {
    const rows = winRateRows(data(), 'exact_match');
    expect(rows.map(r => [r.run.run_id, r.other.run_id])).toEqual([
      ['b', 'a'],
      ['a', 'b']
    ]);
    expect(formatWinRate(rows[0].rate)).toBe('0.65 [0.50, 0.85]');
    expect(formatMeanDiff(rows[0].rate)).toBe('+0.300 [+0.100, +0.400]');
    expect(formatWinRate({ ...rows[0].rate, win_rate: 'NaN', ci_low: 'NaN', ci_high: 'NaN' })).toBe(
      'NaN [NaN, NaN]'
    );
  });
});

describe('runLabel and promoteTarget', () => {
  it('labels a run by prompt and model, else by name', () => {
    expect(runLabel(data().runs[0])).toBe('prompts:/qa/1 x small');
    expect(runLabel(run('z', '', '', 1))).toBe('run-z');
  });

  it("names the winner's prompt version, or why promote cannot", () => {
    const target = promoteTarget(data(), 'exact_match');
    expect('problem' in target ? target.problem : [target.run.run_id, target.name, target.version]).toEqual([
      'b',
      'qa',
      '1'
    ]);
    const none = data();
    none.runs[1].linked_prompts = [];
    const problem = promoteTarget(none, 'exact_match');
    expect('problem' in problem && problem.problem).toMatch(/used 0 prompt versions/);
    const nobody = { ...data(), winners: { exact_match: null } };
    expect('problem' in promoteTarget(nobody, 'exact_match')).toBe(true);
  });
});
