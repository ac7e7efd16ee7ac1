/**
 * The prompt registry and GenAI evaluation endpoints (`prompts`, `genai/...`), and the shaping
 * of a comparison for its view: the prompt x model grid, win rates, what promote will do.
 */
import { ServerConnection } from '@jupyterlab/services';

import { apiUrl, listExperiments, QueryParams, request, serverSettings } from './api';
import { finite, formatValue, JsonNumber } from './tokens';
import { Template } from './textdiff';

/** A prompt: its aliases (alias -> version) and newest version. */
export interface IPrompt {
  name: string;
  description: string;
  tags: Record<string, string>;
  aliases: Record<string, string>;
  creation_timestamp: number;
  latest_version: number | null;
}

/** One immutable version of a prompt. */
export interface IPromptVersion {
  name: string;
  version: number;
  template: Template;
  prompt_type: 'text' | 'chat';
  commit_message: string;
  tags: Record<string, string>;
  aliases: string[];
  creation_timestamp: number;
  user_id: string;
  /** The model and its settings (MLflow's PromptModelConfig.to_dict()), or null. */
  model_config: Record<string, unknown> | null;
  /** The expected response's structure (e.g. a JSON schema), or null. */
  response_format: Record<string, unknown> | null;
}

/** A prompt version a run used. */
export interface ILinkedPrompt {
  name: string;
  version: string | number;
}

/** A run logged by `mlnb.genai.evaluate`. */
export interface IGenaiEvaluation {
  run_id: string;
  run_name: string;
  status: string;
  start_time: number;
  prompt: string;
  model: string;
  linked_prompts: ILinkedPrompt[];
  metrics: Record<string, JsonNumber>;
}

/** A run of a comparison, with each shared scorer's mean. */
export interface ICompareRun {
  run_id: string;
  run_name: string;
  prompt: string;
  model: string;
  linked_prompts: ILinkedPrompt[];
  rows: number;
  means: Record<string, JsonNumber>;
}

/** How often `run` beats `other` on one scorer (paired by input), with bootstrap intervals. */
export interface IWinRate {
  scorer: string;
  run: string;
  other: string;
  pairs: number;
  wins: number;
  ties: number;
  losses: number;
  win_rate: JsonNumber;
  ci_low: JsonNumber;
  ci_high: JsonNumber;
  mean_diff: JsonNumber;
  diff_ci_low: JsonNumber;
  diff_ci_high: JsonNumber;
}

/** One input: each run's output (null where the run lacks the input), errors and scores. */
export interface ICompareInput {
  inputs: string;
  occurrence: number;
  outputs: Record<string, string | null>;
  errors: Record<string, string>;
  scores: Record<string, Record<string, JsonNumber | null>>;
}

/** What `mlnb.genai.compare` computes over evaluation runs. */
export interface IComparison {
  runs: ICompareRun[];
  scorers: string[];
  greater_is_better: Record<string, boolean>;
  confidence: number;
  winners: Record<string, string | null>;
  win_rates: IWinRate[];
  inputs: ICompareInput[];
  total_inputs: number;
}

/** What promote did: the alias now points at this prompt version, the winner's. */
export interface IPromoted {
  name: string;
  version: number;
  alias: string;
  run_id: string;
  scorer: string;
}

const enc = encodeURIComponent;

async function getJson<T>(
  path: string,
  query: QueryParams,
  settings: ServerConnection.ISettings
): Promise<T> {
  const response = await request('GET', apiUrl(settings, path, query), settings);
  return (await response.json()) as T;
}

async function send<T>(
  method: string,
  path: string,
  body: unknown,
  settings: ServerConnection.ISettings
): Promise<T> {
  const response = await request(method, apiUrl(settings, path), settings, body);
  return (await response.json()) as T;
}

/** The prompts matching a registry filter (every prompt without one). */
export async function listPrompts(filter = '', settings = serverSettings()): Promise<IPrompt[]> {
  return (await getJson<{ prompts: IPrompt[] }>('prompts', { filter }, settings)).prompts;
}

/** A prompt and all its versions, newest first. */
export function getPrompt(
  name: string,
  settings = serverSettings()
): Promise<{ prompt: IPrompt; versions: IPromptVersion[] }> {
  return getJson(`prompts/${enc(name)}`, {}, settings);
}

/** Point a prompt's alias at a version (moving it from another). */
export function setPromptAlias(
  name: string,
  alias: string,
  version: number,
  settings = serverSettings()
): Promise<unknown> {
  return send('PUT', `prompts/${enc(name)}/aliases/${enc(alias)}`, { version }, settings);
}

/** Remove a prompt's alias. */
export function deletePromptAlias(
  name: string,
  alias: string,
  settings = serverSettings()
): Promise<unknown> {
  return send('DELETE', `prompts/${enc(name)}/aliases/${enc(alias)}`, {}, settings);
}

/** The GenAI evaluation runs of an experiment, newest first. */
export async function listGenaiEvaluations(
  experimentId: string,
  settings = serverSettings()
): Promise<IGenaiEvaluation[]> {
  const path = `experiments/${enc(experimentId)}/genai-evaluations`;
  return (await getJson<{ runs: IGenaiEvaluation[] }>(path, { limit: 500 }, settings)).runs;
}

/** The GenAI evaluation runs of an experiment, or of every experiment for '', newest first. */
export async function listEvaluationsOf(
  experimentId: string,
  settings = serverSettings()
): Promise<IGenaiEvaluation[]> {
  const ids = experimentId ? [experimentId] : (await listExperiments(settings)).map(e => e.experiment_id);
  const pages = await Promise.all(ids.map(id => listGenaiEvaluations(id, settings)));
  return pages.flat().sort((a, b) => b.start_time - a.start_time);
}

/** Compare evaluation runs (`lowerIsBetter`: the scorers where a lower value wins). */
export function compareGenai(
  runIds: string[],
  lowerIsBetter: string[] = [],
  settings = serverSettings()
): Promise<IComparison> {
  return getJson('genai/compare', { run_id: runIds, lower_is_better: lowerIsBetter }, settings);
}

/** Point `alias` at the prompt version of the run that wins on `scorer`. */
export function promoteGenai(
  runIds: string[],
  alias: string,
  scorer: string,
  lowerIsBetter: string[] = [],
  settings = serverSettings()
): Promise<IPromoted> {
  const body = { run_ids: runIds, alias, scorer, lower_is_better: lowerIsBetter };
  return send('POST', 'genai/promote', body, settings);
}

// --- shaping a comparison for the view ---------------------------------------------------------

/** A run's label: "prompt x model", else its name. */
export function runLabel(run: ICompareRun): string {
  const parts = [run.prompt, run.model].filter(p => p);
  return parts.length ? parts.join(' x ') : run.run_name;
}

/** A cell of the grid: the runs of one prompt and one model, their mean, and whether the winner
 * is among them. */
export interface IGridCell {
  runs: ICompareRun[];
  mean: number | null;
  winner: boolean;
}

/** The prompt versions (rows) x models (columns) grid of one scorer's means. */
export interface IGrid {
  prompts: string[];
  models: string[];
  cells: IGridCell[][];
}

const NONE = '-';

/** The grid of one scorer: a row per prompt version, a column per model, in the runs' order. */
export function compareGrid(data: IComparison, scorer: string): IGrid {
  const promptOf = (r: ICompareRun): string => r.prompt || NONE;
  const modelOf = (r: ICompareRun): string => r.model || NONE;
  const prompts = [...new Set(data.runs.map(promptOf))];
  const models = [...new Set(data.runs.map(modelOf))];
  const winner = data.winners[scorer] ?? null;
  const cells = prompts.map(p =>
    models.map(m => {
      const runs = data.runs.filter(r => promptOf(r) === p && modelOf(r) === m);
      const values = runs.map(r => finite(r.means[scorer])).filter((v): v is number => v !== null);
      const mean = values.length ? values.reduce((s, v) => s + v, 0) / values.length : null;
      return { runs, mean, winner: runs.some(r => r.run_id === winner) };
    })
  );
  return { prompts, models, cells };
}

/** One row of the win-rate table. */
export interface IWinRow {
  run: ICompareRun;
  other: ICompareRun;
  rate: IWinRate;
}

/** The win rates of one scorer, best first (by win rate, then by mean difference). */
export function winRateRows(data: IComparison, scorer: string): IWinRow[] {
  const byId = new Map(data.runs.map(r => [r.run_id, r]));
  const rows: IWinRow[] = [];
  for (const rate of data.win_rates) {
    const run = byId.get(rate.run);
    const other = byId.get(rate.other);
    if (rate.scorer === scorer && run && other) {
      rows.push({ run, other, rate });
    }
  }
  const key = (r: IWinRow): number => finite(r.rate.win_rate) ?? -1;
  return rows.sort(
    (x, y) => key(y) - key(x) || (finite(y.rate.mean_diff) ?? 0) - (finite(x.rate.mean_diff) ?? 0)
  );
}

function fixed(value: JsonNumber, digits: number, sign = false): string {
  const number = finite(value);
  if (number === null) {
    return formatValue(value);
  }
  return (sign && number >= 0 ? '+' : '') + number.toFixed(digits);
}

/** "0.65 [0.50, 0.85]": a win rate and its interval. */
export function formatWinRate(rate: IWinRate): string {
  return `${fixed(rate.win_rate, 2)} [${fixed(rate.ci_low, 2)}, ${fixed(rate.ci_high, 2)}]`;
}

/** "+0.300 [+0.100, +0.500]": the mean difference and its interval. */
export function formatMeanDiff(rate: IWinRate): string {
  return `${fixed(rate.mean_diff, 3, true)} [${fixed(rate.diff_ci_low, 3, true)}, ${fixed(rate.diff_ci_high, 3, true)}]`;
}

/** A mean as text ("" when there is none). */
export function formatMean(value: JsonNumber | null | undefined): string {
  return value === null || value === undefined ? '' : fixed(value, 3);
}

/** What promote will do for a scorer: the winning run and its one prompt version, or why it
 * cannot (the server applies the same rule). */
export type PromoteTarget = { run: ICompareRun; name: string; version: string } | { problem: string };

/** The winner of `scorer` and the prompt version promote would point the alias at. */
export function promoteTarget(data: IComparison, scorer: string): PromoteTarget {
  const winnerId = data.winners[scorer];
  const run = data.runs.find(r => r.run_id === winnerId);
  if (!run) {
    return { problem: `No run has a value of ${scorer}.` };
  }
  if (run.linked_prompts.length !== 1) {
    return {
      problem:
        `The winning run ${run.run_name} used ${run.linked_prompts.length} prompt versions; ` +
        'promote needs exactly one.'
    };
  }
  const linked = run.linked_prompts[0];
  return { run, name: linked.name, version: String(linked.version) };
}
