/**
 * A parent run's sweep (its child runs as trials), as `mlnb.show_sweep` shows it in a notebook:
 * the objective and its direction, the best value so far (an SVG line), parameter importance
 * (bars) and the trial table, best trial first in a card. Every user value is React text.
 */
import * as React from 'react';

import * as api from '../api';
import { useRequest } from '../hooks';
import { formatValue, ISweep } from '../tokens';
import { pairs } from './LoggedModels';

const WIDTH = 320;
const HEIGHT = 120;

/** SVG polyline points of the best value so far, scaled into the chart's box. */
export function historyPoints(sweep: ISweep, width = WIDTH, height = HEIGHT): string {
  const points = sweep.best_so_far;
  if (points.length === 0) {
    return '';
  }
  const xs = points.map(p => p.number);
  const ys = points.map(p => p.value);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (x: number): number => (x1 === x0 ? width / 2 : ((x - x0) / (x1 - x0)) * width);
  const sy = (y: number): number => (y1 === y0 ? height / 2 : height - ((y - y0) / (y1 - y0)) * height);
  return points.map(p => `${sx(p.number).toFixed(1)},${sy(p.value).toFixed(1)}`).join(' ');
}

function History(props: { sweep: ISweep }): JSX.Element {
  const { sweep } = props;
  const last = sweep.best_so_far[sweep.best_so_far.length - 1];
  return (
    <div className="mlnb-sweep-history">
      <h4>Best {sweep.metric} so far</h4>
      <svg width={WIDTH} height={HEIGHT} className="mlnb-sweep-chart" role="img" aria-label="best so far">
        <polyline fill="none" stroke="#cf222e" strokeWidth={2} points={historyPoints(sweep)} />
      </svg>
      {last && (
        <div className="mlnb-muted">
          after trial {last.number}: {formatValue(last.value)}
        </div>
      )}
    </div>
  );
}

function Importance(props: { sweep: ISweep }): JSX.Element {
  const { sweep } = props;
  return (
    <div className="mlnb-sweep-importance">
      <h4>Parameter importance</h4>
      <div className="mlnb-muted">{sweep.importance_method}</div>
      <table>
        <tbody>
          {sweep.importances.map(i => (
            <tr key={i.param} data-param={i.param}>
              <th>{i.param}</th>
              <td>
                <div
                  className="mlnb-sweep-bar"
                  style={{ width: `${Math.round((i.importance ?? 0) * 100)}%` }}
                />
              </td>
              <td className="mlnb-muted">{i.importance === null ? '' : i.importance.toFixed(3)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Trials(props: { sweep: ISweep }): JSX.Element {
  const { sweep } = props;
  return (
    <table className="mlnb-sweep-trials">
      <thead>
        <tr>
          <th>#</th>
          <th>Run</th>
          <th>State</th>
          <th>{sweep.metric}</th>
          <th>Params</th>
        </tr>
      </thead>
      <tbody>
        {sweep.trials.map(t => (
          <tr
            key={t.run_id}
            data-run-id={t.run_id}
            className={`mlnb-sweep-trial mlnb-trial-${t.state.toLowerCase()}`}
          >
            <td>{t.number}</td>
            <td>{t.run_name}</td>
            <td>{t.state}</td>
            <td>{t.value === null ? '' : formatValue(t.value)}</td>
            <td>{pairs(t.params)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The sweep of a parent run; shown in its tab when the run has child runs. */
export function SweepSection(props: { runId: string }): JSX.Element {
  const sweep = useRequest(() => api.getSweep(props.runId), [props.runId]);
  const data = sweep.data;
  return (
    <section className="mlnb-section mlnb-sweep">
      <h3>Sweep</h3>
      {sweep.error && <div className="mlnb-error">{sweep.error}</div>}
      {!data && !sweep.error && <div className="mlnb-muted">Loading…</div>}
      {data && (
        <>
          <div className="mlnb-muted">
            {data.trials.length} trials · {data.direction} {data.metric}
            {data.direction_guessed ? ' (direction guessed from its name)' : ''}
          </div>
          {data.best && (
            <div className="mlnb-sweep-best">
              Best: trial {data.best.number} ({data.best.run_name}) {data.metric} ={' '}
              {data.best.value === null ? '' : formatValue(data.best.value)} · {pairs(data.best.params)}
              {data.best.model_uri && <div className="mlnb-muted">model: {data.best.model_uri}</div>}
            </div>
          )}
          <History sweep={data} />
          <Importance sweep={data} />
          <Trials sweep={data} />
        </>
      )}
    </section>
  );
}
