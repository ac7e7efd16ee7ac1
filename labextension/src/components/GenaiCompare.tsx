/**
 * GenAI evaluations: the sidebar's list of an experiment's evaluation runs (choose two or more
 * and compare), and the compare tab: prompt versions x models per scorer, per scorer the runs'
 * means and paired win rates with confidence intervals, per input the outputs side by side with
 * the words that differ from the first run's output marked, and promote (after a confirmation)
 * moving a prompt alias to the winner's prompt version. Every string is React text.
 */
import * as React from 'react';

import { errorMessage } from '../api';
import { confirmWarning } from '../dialogs';
import * as genai from '../genai';
import { IComparison, ICompareRun } from '../genai';
import { useRequest } from '../hooks';
import { formatValue } from '../tokens';
import { WordDiff } from './TextDiff';

/** The experiment's (or with '' every experiment's) GenAI evaluation runs with checkboxes; `onCompare` opens the compare tab. */
export function GenaiEvaluationsSection(props: {
  experimentId: string;
  refreshKey: number;
  onCompare: (runIds: string[]) => void;
}): JSX.Element {
  const { experimentId } = props;
  const runs = useRequest(() => genai.listEvaluationsOf(experimentId), [experimentId, props.refreshKey]);
  const [chosen, setChosen] = React.useState<string[]>([]);
  const toggle = (runId: string): void =>
    setChosen(ids => (ids.includes(runId) ? ids.filter(i => i !== runId) : [...ids, runId]));
  const listed = runs.data ?? [];
  const selected = chosen.filter(id => listed.some(r => r.run_id === id));
  return (
    <div className="mlnb-models mlnb-genai-evaluations">
      {runs.error && (
        <div className="mlnb-error" role="alert">
          {runs.error}
        </div>
      )}
      <div className="mlnb-toolbar">
        <span className="mlnb-count">
          {listed.length} evaluation{listed.length === 1 ? '' : 's'}
          {selected.length ? ` · ${selected.length} selected` : ''}
        </span>
        <button
          className="jp-mod-styled mlnb-genai-compare-button"
          disabled={selected.length < 2}
          onClick={() => props.onCompare(selected)}
        >
          Compare
        </button>
        <button
          className="mlnb-prompts-refresh"
          aria-label="reload the evaluations"
          title="reload"
          onClick={runs.reload}
        >
          ↻
        </button>
      </div>
      {runs.data && listed.length === 0 && (
        <div className="mlnb-muted">No mlnb.genai.evaluate runs in this experiment.</div>
      )}
      {listed.map(run => (
        <label key={run.run_id} className="mlnb-genai-run" data-run-id={run.run_id}>
          <input
            type="checkbox"
            checked={selected.includes(run.run_id)}
            onChange={() => toggle(run.run_id)}
          />
          <span className="mlnb-model-name">{run.run_name}</span>
          <span className="mlnb-muted"> {[run.prompt, run.model].filter(p => p).join(' x ')}</span>
        </label>
      ))}
    </div>
  );
}

function Grid(props: { data: IComparison; scorer: string }): JSX.Element {
  const grid = genai.compareGrid(props.data, props.scorer);
  return (
    <table className="mlnb-kv mlnb-genai-grid">
      <thead>
        <tr>
          <th>prompt \ model</th>
          {grid.models.map(m => (
            <th key={m}>{m}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {grid.prompts.map((p, i) => (
          <tr key={p}>
            <th>{p}</th>
            {grid.cells[i].map((cell, j) => (
              <td
                key={grid.models[j]}
                className={cell.winner ? 'mlnb-genai-winner' : undefined}
                title={cell.runs.map(r => r.run_name).join(', ')}
              >
                {cell.runs.length ? genai.formatMean(cell.mean) : ''}
                {cell.winner ? ' ★' : ''}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Aggregates(props: { data: IComparison }): JSX.Element {
  const { data } = props;
  return (
    <table className="mlnb-kv mlnb-genai-aggregates">
      <thead>
        <tr>
          <th>run</th>
          <th>rows</th>
          {data.scorers.map(s => (
            <th key={s}>
              {s}/mean {data.greater_is_better[s] === false ? '(lower is better)' : ''}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {data.runs.map(run => (
          <tr key={run.run_id} data-run-id={run.run_id}>
            <td>{genai.runLabel(run)}</td>
            <td>{run.rows}</td>
            {data.scorers.map(s => (
              <td key={s} className={data.winners[s] === run.run_id ? 'mlnb-genai-winner' : undefined}>
                {genai.formatMean(run.means[s])}
                {data.winners[s] === run.run_id ? ' ★' : ''}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function WinRates(props: { data: IComparison; scorer: string }): JSX.Element {
  const rows = genai.winRateRows(props.data, props.scorer);
  const level = `${Math.round(props.data.confidence * 100)}%`;
  return (
    <table className="mlnb-kv mlnb-genai-win-rates">
      <thead>
        <tr>
          <th>run</th>
          <th>vs</th>
          <th>pairs</th>
          <th>wins / ties / losses</th>
          <th>win rate [{level} CI]</th>
          <th>mean difference [{level} CI]</th>
        </tr>
      </thead>
      <tbody>
        {rows.map(({ run, other, rate }) => (
          <tr key={`${run.run_id} ${other.run_id}`}>
            <td>{genai.runLabel(run)}</td>
            <td>{genai.runLabel(other)}</td>
            <td>{rate.pairs}</td>
            <td>
              {rate.wins} / {rate.ties} / {rate.losses}
            </td>
            <td>{genai.formatWinRate(rate)}</td>
            <td>{genai.formatMeanDiff(rate)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Outputs(props: { data: IComparison }): JSX.Element {
  const { data } = props;
  const first = data.runs[0];
  return (
    <>
      <table className="mlnb-kv mlnb-genai-outputs">
        <thead>
          <tr>
            <th>inputs</th>
            {data.runs.map((run, i) => (
              <th key={run.run_id}>
                {genai.runLabel(run)}
                {i === 0 ? ' (base)' : ''}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {data.inputs.map((row, i) => {
            const base = row.outputs[first.run_id] ?? '';
            return (
              <tr key={i} className="mlnb-genai-input">
                <td className="mlnb-genai-inputs">{row.inputs}</td>
                {data.runs.map((run, j) => {
                  const text = row.outputs[run.run_id];
                  const scores = row.scores[run.run_id] ?? {};
                  return (
                    <td key={run.run_id} className="mlnb-genai-output" data-run-id={run.run_id}>
                      {text === null || text === undefined ? (
                        <span className="mlnb-muted">(not in this run)</span>
                      ) : j === 0 ? (
                        <span>{text}</span>
                      ) : (
                        <WordDiff base={base} text={text} />
                      )}
                      {row.errors[run.run_id] && (
                        <div className="mlnb-gate-reason">{row.errors[run.run_id]}</div>
                      )}
                      {Object.keys(scores).length > 0 && (
                        <div className="mlnb-muted mlnb-genai-scores">
                          {Object.entries(scores)
                            .map(([s, v]) => `${s}=${v === null ? '–' : formatValue(v)}`)
                            .join(' ')}
                        </div>
                      )}
                    </td>
                  );
                })}
              </tr>
            );
          })}
        </tbody>
      </table>
      {data.total_inputs > data.inputs.length && (
        <p className="mlnb-muted">
          Showing {data.inputs.length} of {data.total_inputs} inputs.
        </p>
      )}
    </>
  );
}

function Promote(props: {
  data: IComparison;
  scorer: string;
  runIds: string[];
  lowerIsBetter: string[];
  onPromoted: () => void;
  readOnly: string | null;
}): JSX.Element {
  const { data, scorer } = props;
  const [alias, setAlias] = React.useState('production');
  const [message, setMessage] = React.useState<{ text: string; error: boolean } | null>(null);
  const target = genai.promoteTarget(data, scorer);
  const promote = async (): Promise<void> => {
    if ('problem' in target || !alias.trim()) {
      return;
    }
    const ok = await confirmWarning(
      'Promote the winner?',
      `Point ${target.name}@${alias.trim()} at version ${target.version}, the prompt of ` +
        `${genai.runLabel(target.run)} (best ${scorer})?`,
      'Promote'
    );
    if (!ok) {
      return;
    }
    try {
      const done = await genai.promoteGenai(props.runIds, alias.trim(), scorer, props.lowerIsBetter);
      setMessage({ text: `${done.name}@${done.alias} now points at version ${done.version}.`, error: false });
      props.onPromoted();
    } catch (error) {
      setMessage({ text: errorMessage(error), error: true });
    }
  };
  return (
    <div className="mlnb-genai-promote">
      {'problem' in target ? (
        <div className="mlnb-muted">{target.problem}</div>
      ) : (
        <div>
          Winner on {scorer}: {genai.runLabel(target.run)} → {target.name} version {target.version}
        </div>
      )}
      <label>
        alias{' '}
        <input
          className="mlnb-genai-alias"
          aria-label="alias to move to the winner"
          value={alias}
          onChange={event => setAlias(event.target.value)}
        />
      </label>{' '}
      <button
        className="jp-mod-styled jp-mod-accept mlnb-genai-promote-button"
        disabled={'problem' in target || !alias.trim() || props.readOnly !== null}
        title={props.readOnly ?? undefined}
        onClick={() => void promote()}
      >
        Promote winner
      </button>
      {message && (
        <div className={message.error ? 'mlnb-error' : 'mlnb-genai-promoted'} role="status">
          {message.text}
        </div>
      )}
    </div>
  );
}

/** The compare tab of GenAI evaluation runs; with `readOnly` (why the store may only be read)
 * promote is disabled. */
export function GenaiCompare(props: { runIds: string[]; readOnly?: string | null }): JSX.Element {
  const { runIds } = props;
  const [lowerIsBetter, setLowerIsBetter] = React.useState<string[]>([]);
  const [generation, setGeneration] = React.useState(0);
  const comparison = useRequest(
    () => genai.compareGenai(runIds, lowerIsBetter),
    [runIds.join(','), lowerIsBetter.join(','), generation]
  );
  const [chosenScorer, setScorer] = React.useState<string | null>(null);
  const data = comparison.data;
  if (!data) {
    return (
      <div className="mlnb-genai-compare">
        {comparison.error ? (
          <div className="mlnb-error" role="alert">
            {comparison.error}
          </div>
        ) : (
          <div className="mlnb-muted">Loading…</div>
        )}
      </div>
    );
  }
  const scorer = chosenScorer && data.scorers.includes(chosenScorer) ? chosenScorer : data.scorers[0];
  const flip = (name: string): void =>
    setLowerIsBetter(list => (list.includes(name) ? list.filter(s => s !== name) : [...list, name]));
  return (
    <div className="mlnb-genai-compare">
      {comparison.error && (
        <div className="mlnb-error" role="alert">
          {comparison.error}
        </div>
      )}
      <h2>GenAI evaluations: {data.runs.map((r: ICompareRun) => r.run_name).join(', ')}</h2>
      {data.scorers.length === 0 ? (
        <div className="mlnb-muted">The runs share no scorer.</div>
      ) : (
        <>
          <div className="mlnb-genai-scorer">
            <label>
              scorer{' '}
              <select
                className="mlnb-genai-scorer-select"
                value={scorer}
                onChange={event => setScorer(event.target.value)}
              >
                {data.scorers.map(s => (
                  <option key={s} value={s}>
                    {s}
                  </option>
                ))}
              </select>
            </label>{' '}
            <label>
              <input type="checkbox" checked={lowerIsBetter.includes(scorer)} onChange={() => flip(scorer)} />{' '}
              lower is better
            </label>
          </div>
          <div className="mlnb-section">
            <h3>{scorer}/mean: prompt versions x models</h3>
            <Grid data={data} scorer={scorer} />
          </div>
          <div className="mlnb-section">
            <h3>Promote</h3>
            <Promote
              data={data}
              scorer={scorer}
              runIds={runIds}
              lowerIsBetter={lowerIsBetter}
              onPromoted={() => setGeneration(g => g + 1)}
              readOnly={props.readOnly ?? null}
            />
          </div>
          <div className="mlnb-section">
            <h3>Per scorer</h3>
            <Aggregates data={data} />
          </div>
          <div className="mlnb-section">
            <h3>Win rates on {scorer} (paired by input)</h3>
            <WinRates data={data} scorer={scorer} />
          </div>
        </>
      )}
      <div className="mlnb-section">
        <h3>Outputs (differences from the first run marked)</h3>
        <Outputs data={data} />
      </div>
    </div>
  );
}
