/**
 * A notebook (nbformat 4 JSON) as a read-only view model (pure; unit-tested): each cell's type,
 * source and outputs, and which cell made the run. Nothing here renders HTML: HTML and Markdown
 * outputs are carried as text for the viewer to sanitise.
 */

export type OutputView =
  | { kind: 'text'; text: string; stream?: string }
  | { kind: 'error'; text: string }
  | { kind: 'image'; src: string; mime: string }
  | { kind: 'html'; html: string }
  | { kind: 'markdown'; markdown: string }
  | { kind: 'plotly'; figure: { data: unknown[]; layout?: object } };

export interface ICellView {
  index: number;
  id: string | null;
  type: 'code' | 'markdown' | 'raw';
  source: string;
  executionCount: number | null;
  outputs: OutputView[];
}

export interface INotebookView {
  cells: ICellView[];
  language: string;
}

/** What the run recorded about its cell (the `mlnb.cell.*` tags). */
export interface ITargetCell {
  cellId?: string | null;
  source?: string | null;
}

/** The cell that made the run, and whether its source still matches what the run recorded. */
export interface ITargetMatch {
  index: number;
  /** True when the run recorded a source and the cell's source differs from it. */
  edited: boolean;
}

const RASTER = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;
const BASE64 = /^[A-Za-z0-9+/=\s]*$/;
const PLOTLY = 'application/vnd.plotly.v1+json';
/** The longest tag value the store keeps (mlnb.store.validation): a longer cell source is cut. */
const MAX_TAG_VALUE_LENGTH = 8000;

/** A multiline string of nbformat: a string or a list of lines. */
export function joinSource(value: unknown): string {
  if (Array.isArray(value)) {
    return value.map(v => (typeof v === 'string' ? v : '')).join('');
  }
  return typeof value === 'string' ? value : '';
}

/** Text with terminal colour codes removed. */
export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

function base64Utf8(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  bytes.forEach(b => (binary += String.fromCharCode(b)));
  return btoa(binary);
}

/**
 * The view of one `display_data` / `execute_result` bundle: the richest safe type it holds.
 *
 * @param data - the output's mime bundle.
 */
export function bundleView(data: Record<string, unknown>): OutputView | null {
  const figure = data[PLOTLY];
  if (figure && typeof figure === 'object' && Array.isArray((figure as { data?: unknown }).data)) {
    return { kind: 'plotly', figure: figure as { data: unknown[]; layout?: object } };
  }
  for (const mime of RASTER) {
    const raw = joinSource(data[mime]);
    if (raw && BASE64.test(raw)) {
      return { kind: 'image', mime, src: `data:${mime};base64,${raw.replace(/\s/g, '')}` };
    }
  }
  const svg = joinSource(data['image/svg+xml']);
  if (svg) {
    // As an <img>, an SVG's scripts and handlers never run.
    return { kind: 'image', mime: 'image/svg+xml', src: `data:image/svg+xml;base64,${base64Utf8(svg)}` };
  }
  const html = joinSource(data['text/html']);
  if (html) {
    return { kind: 'html', html };
  }
  const markdown = joinSource(data['text/markdown']);
  if (markdown) {
    return { kind: 'markdown', markdown };
  }
  if (data['application/json'] !== undefined) {
    return { kind: 'text', text: JSON.stringify(data['application/json'], null, 2) };
  }
  for (const mime of ['text/plain', 'text/latex']) {
    const text = joinSource(data[mime]);
    if (text) {
      return { kind: 'text', text: stripAnsi(text) };
    }
  }
  return null;
}

/**
 * The view of one output of a code cell, or null for an output with nothing to show.
 *
 * @param output - one entry of a cell's `outputs`.
 */
export function outputView(output: Record<string, unknown>): OutputView | null {
  switch (output.output_type) {
    case 'stream':
      return {
        kind: 'text',
        text: stripAnsi(joinSource(output.text)),
        stream: String(output.name ?? 'stdout')
      };
    case 'error': {
      const trace = Array.isArray(output.traceback) ? output.traceback.map(String).join('\n') : '';
      const head = `${String(output.ename ?? 'Error')}: ${String(output.evalue ?? '')}`;
      return { kind: 'error', text: stripAnsi(trace || head) };
    }
    case 'display_data':
    case 'execute_result':
    case 'update_display_data':
      return output.data && typeof output.data === 'object'
        ? bundleView(output.data as Record<string, unknown>)
        : null;
    default:
      return null;
  }
}

/**
 * Parse a notebook file's JSON into its view.
 *
 * @param json - the notebook's parsed JSON.
 * @throws {Error} when it is not an nbformat 4 notebook.
 */
export function parseNotebook(json: unknown): INotebookView {
  const nb = json as { nbformat?: unknown; cells?: unknown; metadata?: Record<string, unknown> };
  if (!nb || typeof nb !== 'object' || !Array.isArray(nb.cells)) {
    throw new Error('This file is not a Jupyter notebook (no cells).');
  }
  if (typeof nb.nbformat === 'number' && nb.nbformat < 4) {
    throw new Error(`Notebook format ${nb.nbformat} is not shown; only format 4 is.`);
  }
  const info = (nb.metadata?.language_info ?? nb.metadata?.kernelspec ?? {}) as {
    name?: unknown;
    language?: unknown;
  };
  const cells = (nb.cells as Array<Record<string, unknown>>).map((cell, index): ICellView => {
    const type = cell.cell_type === 'markdown' || cell.cell_type === 'raw' ? cell.cell_type : 'code';
    const outputs = Array.isArray(cell.outputs)
      ? (cell.outputs as Array<Record<string, unknown>>)
          .map(o => (o && typeof o === 'object' ? outputView(o) : null))
          .filter((o): o is OutputView => o !== null)
      : [];
    return {
      index,
      id: typeof cell.id === 'string' ? cell.id : null,
      type,
      source: joinSource(cell.source),
      executionCount: typeof cell.execution_count === 'number' ? cell.execution_count : null,
      outputs: type === 'code' ? outputs : []
    };
  });
  return { cells, language: String(info.language ?? info.name ?? 'python') };
}

function sameSource(recorded: string, actual: string): boolean {
  // A long source is recorded cut to the tag length: compare the part recorded.
  return recorded.length >= MAX_TAG_VALUE_LENGTH
    ? actual.startsWith(recorded)
    : recorded.trimEnd() === actual.trimEnd();
}

/**
 * Find the cell that made the run: by its recorded id, else by its recorded source.
 *
 * @param view - the notebook's view.
 * @param target - what the run recorded about its cell.
 */
export function findTargetCell(view: INotebookView, target: ITargetCell): ITargetMatch | null {
  const source = target.source ?? null;
  if (target.cellId) {
    const byId = view.cells.find(c => c.id === target.cellId);
    if (byId) {
      return { index: byId.index, edited: source !== null && !sameSource(source, byId.source) };
    }
  }
  if (source !== null && source.trim() !== '') {
    const bySource = view.cells.find(c => c.type === 'code' && sameSource(source, c.source));
    if (bySource) {
      return { index: bySource.index, edited: false };
    }
  }
  return null;
}
