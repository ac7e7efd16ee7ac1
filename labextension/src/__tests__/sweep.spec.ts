/**
 * The pure helpers of the Logged models and Sweep views: cell text of params/metrics, and the
 * best-so-far line scaled into its chart.
 */
import { pairs } from '../components/LoggedModels';
import { historyPoints } from '../components/Sweep';
import { ISweep } from '../tokens';

function sweep(best: Array<[number, number]>): ISweep {
  return {
    parent: { run_id: 'p', run_name: 'parent' },
    metric: 'loss',
    direction: 'minimize',
    direction_guessed: false,
    optuna: false,
    params: [],
    trials: [],
    truncated: false,
    best_so_far: best.map(([number, value]) => ({ number, value })),
    importances: [],
    importance_method: '',
    best: null
  };
}

describe('pairs', () => {
  it('sorts keys and shortens numbers', () => {
    expect(pairs({ b: 'x', a: 0.123456 })).toBe('a=0.1235, b=x');
    expect(pairs({})).toBe('');
  });
});

describe('historyPoints', () => {
  it('scales the best-so-far line into the box (lower values lower on screen for y)', () => {
    expect(
      historyPoints(
        sweep([
          [0, 0.5],
          [1, 0.3],
          [3, 0.1]
        ]),
        300,
        100
      )
    ).toBe('0.0,0.0 100.0,50.0 300.0,100.0');
  });
  it('draws one point in the middle and nothing for no trials', () => {
    expect(historyPoints(sweep([[4, 1]]), 300, 100)).toBe('150.0,50.0');
    expect(historyPoints(sweep([]))).toBe('');
  });
});
