/**
 * A JSON value as a tree of nodes for the collapsible JSON viewer (pure; unit-tested). Nodes
 * carry text only: the viewer shows keys and values as React text, never as HTML.
 */

export type JsonKind = 'object' | 'array' | 'string' | 'number' | 'boolean' | 'null';

export interface IJsonNode {
  /** A stable id: the JSON pointer of the node ('' for the root). */
  id: string;
  /** The key in its parent (a property name or an index), or null for the root. */
  key: string | null;
  kind: JsonKind;
  /** The value as shown: a quoted string, a number, or a summary like "{3 keys}" / "[10 items]". */
  text: string;
  /** The children of an object or array (at most `maxChildren`). */
  children: IJsonNode[];
  /** How many children were left out past `maxChildren`. */
  hidden: number;
}

/** How much of a tree to build. */
export interface ITreeLimits {
  /** The most children built per object or array. */
  maxChildren: number;
  /** The longest string shown in full (longer ones are cut with "…"). */
  maxString: number;
}

export const DEFAULT_LIMITS: ITreeLimits = { maxChildren: 500, maxString: 2000 };

function pointerPart(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function kindOf(value: unknown): JsonKind {
  if (value === null || value === undefined) {
    return 'null';
  }
  if (Array.isArray(value)) {
    return 'array';
  }
  switch (typeof value) {
    case 'object':
      return 'object';
    case 'string':
      return 'string';
    case 'number':
    case 'bigint':
      return 'number';
    case 'boolean':
      return 'boolean';
    default:
      return 'string';
  }
}

function plural(n: number, one: string, many: string): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/**
 * Build the tree of a parsed JSON value.
 *
 * @param value - the value (from `JSON.parse`).
 * @param limits - how many children and characters to keep.
 * @param key - the key of this node in its parent (null for the root).
 * @param id - the JSON pointer of this node.
 */
export function buildJsonTree(
  value: unknown,
  limits: ITreeLimits = DEFAULT_LIMITS,
  key: string | null = null,
  id = ''
): IJsonNode {
  const kind = kindOf(value);
  const node: IJsonNode = { id, key, kind, text: '', children: [], hidden: 0 };
  if (kind === 'array') {
    const items = value as unknown[];
    node.text = `[${plural(items.length, 'item', 'items')}]`;
    node.children = items
      .slice(0, limits.maxChildren)
      .map((item, i) => buildJsonTree(item, limits, String(i), `${id}/${i}`));
    node.hidden = Math.max(0, items.length - limits.maxChildren);
  } else if (kind === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    node.text = `{${plural(entries.length, 'key', 'keys')}}`;
    node.children = entries
      .slice(0, limits.maxChildren)
      .map(([k, v]) => buildJsonTree(v, limits, k, `${id}/${pointerPart(k)}`));
    node.hidden = Math.max(0, entries.length - limits.maxChildren);
  } else if (kind === 'string') {
    const text = value as string;
    node.text = JSON.stringify(text.length > limits.maxString ? `${text.slice(0, limits.maxString)}…` : text);
  } else if (kind === 'null') {
    node.text = 'null';
  } else {
    node.text = String(value);
  }
  return node;
}

/**
 * The ids of the nodes open at first: the root and its children down to `depth` levels.
 *
 * @param root - the tree.
 * @param depth - how many levels to open (1 opens the root only).
 */
export function initiallyOpen(root: IJsonNode, depth = 2): Set<string> {
  const open = new Set<string>();
  const visit = (node: IJsonNode, level: number): void => {
    if (level >= depth || node.children.length === 0) {
      return;
    }
    open.add(node.id);
    node.children.forEach(child => visit(child, level + 1));
  };
  visit(root, 0);
  return open;
}

/** Whether a parsed JSON value is a Plotly figure (as `log_figure` writes it: data and layout). */
export function isPlotlyFigure(value: unknown): value is { data: unknown[]; layout?: object } {
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    return false;
  }
  const fig = value as { data?: unknown; layout?: unknown };
  return (
    Array.isArray(fig.data) &&
    fig.data.every(trace => !!trace && typeof trace === 'object' && !Array.isArray(trace)) &&
    typeof fig.layout === 'object' &&
    fig.layout !== null &&
    !Array.isArray(fig.layout)
  );
}
