/**
 * Line and word diffs of texts and prompt templates, as data (the views render each part as a
 * React text node, never as HTML). A chat template is diffed per message: messages are paired
 * by their roles, then each pair's content line by line, with the words that changed marked in
 * each changed line.
 */

/** What a part of a diff is: in both texts, only in the new one, or only in the old one. */
export type DiffKind = 'equal' | 'added' | 'removed';

/** A run of text of one kind. */
export interface IDiffPart {
  kind: DiffKind;
  text: string;
}

/** One line of a line diff; a `changed` line has both its removed and its added words. */
export interface IDiffLine {
  kind: DiffKind | 'changed';
  parts: IDiffPart[];
}

/** A chat message: a role and its content. */
export interface IChatMessage {
  role: string;
  content: string;
}

/** A prompt template: text, or chat messages. */
export type Template = string | IChatMessage[];

/** One message of a chat diff: its role on each side (undefined where the side lacks it). */
export interface IMessageDiff {
  kind: DiffKind | 'changed';
  oldRole?: string;
  newRole?: string;
  lines: IDiffLine[];
}

/** The diff of two templates: by lines for two texts, by message when either is a chat. */
export type TemplateDiff = { kind: 'text'; lines: IDiffLine[] } | { kind: 'chat'; messages: IMessageDiff[] };

/** Above this many cells of the comparison table, the middle is shown as replaced whole. */
const MAX_CELLS = 4_000_000;

interface IOp {
  kind: DiffKind;
  a: number; // index in the old sequence (equal, removed)
  b: number; // index in the new sequence (equal, added)
}

/**
 * Walk the diff of two sequences: `onEqual` for each pair kept, `onChange` for each run of removed
 * items and the added items that follow them (either may be empty).
 */
function walkDiff<T>(
  a: readonly T[],
  b: readonly T[],
  same: (x: T, y: T) => boolean,
  onEqual: (x: T, y: T) => void,
  onChange: (removed: T[], added: T[]) => void
): void {
  const ops = diffSequence(a, b, same);
  let k = 0;
  while (k < ops.length) {
    const op = ops[k];
    if (op.kind === 'equal') {
      onEqual(a[op.a], b[op.b]);
      k++;
      continue;
    }
    const removed: T[] = [];
    const added: T[] = [];
    while (k < ops.length && ops[k].kind === 'removed') {
      removed.push(a[ops[k].a]);
      k++;
    }
    while (k < ops.length && ops[k].kind === 'added') {
      added.push(b[ops[k].b]);
      k++;
    }
    onChange(removed, added);
  }
}

/**
 * The edit script from `a` to `b` (a longest common subsequence): equal, removed and added
 * items in order, removals before additions where both happen at one place.
 */
export function diffSequence<T>(a: readonly T[], b: readonly T[], same: (x: T, y: T) => boolean): IOp[] {
  let start = 0;
  while (start < a.length && start < b.length && same(a[start], b[start])) {
    start++;
  }
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && same(a[endA - 1], b[endB - 1])) {
    endA--;
    endB--;
  }
  const ops: IOp[] = [];
  for (let i = 0; i < start; i++) {
    ops.push({ kind: 'equal', a: i, b: i });
  }
  const n = endA - start;
  const m = endB - start;
  if (n * m > MAX_CELLS) {
    for (let i = start; i < endA; i++) {
      ops.push({ kind: 'removed', a: i, b: -1 });
    }
    for (let j = start; j < endB; j++) {
      ops.push({ kind: 'added', a: -1, b: j });
    }
  } else {
    // lengths[i][j]: the LCS length of a[start+i..endA) and b[start+j..endB).
    const width = m + 1;
    const lengths = new Uint32Array((n + 1) * width);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lengths[i * width + j] = same(a[start + i], b[start + j])
          ? lengths[(i + 1) * width + j + 1] + 1
          : Math.max(lengths[(i + 1) * width + j], lengths[i * width + j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && same(a[start + i], b[start + j])) {
        ops.push({ kind: 'equal', a: start + i, b: start + j });
        i++;
        j++;
      } else if (j >= m || (i < n && lengths[(i + 1) * width + j] >= lengths[i * width + j + 1])) {
        ops.push({ kind: 'removed', a: start + i, b: -1 });
        i++;
      } else {
        ops.push({ kind: 'added', a: -1, b: start + j });
        j++;
      }
    }
  }
  for (let k = 0; endA + k < a.length; k++) {
    ops.push({ kind: 'equal', a: endA + k, b: endB + k });
  }
  return reorder(ops);
}

/** Within each run of changes, removals first, then additions (as a reader expects). */
function reorder(ops: IOp[]): IOp[] {
  const out: IOp[] = [];
  let removed: IOp[] = [];
  let added: IOp[] = [];
  const flush = (): void => {
    out.push(...removed, ...added);
    removed = [];
    added = [];
  };
  for (const op of ops) {
    if (op.kind === 'equal') {
      flush();
      out.push(op);
    } else if (op.kind === 'removed') {
      removed.push(op);
    } else {
      added.push(op);
    }
  }
  flush();
  return out;
}

/** Words, runs of whitespace, and single other characters (punctuation, braces). */
export function tokenize(text: string): string[] {
  return text.match(/\s+|[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]/gu) ?? [];
}

/** Adjacent parts of one kind joined into one. */
function merge(parts: IDiffPart[]): IDiffPart[] {
  const out: IDiffPart[] = [];
  for (const part of parts) {
    const last = out[out.length - 1];
    if (last && last.kind === part.kind) {
      last.text += part.text;
    } else if (part.text) {
      out.push({ ...part });
    }
  }
  return out;
}

/** The word diff of two texts: joining the equal and added parts gives `newText`, the equal and
 * removed parts `oldText`. */
export function diffWords(oldText: string, newText: string): IDiffPart[] {
  const a = tokenize(oldText);
  const b = tokenize(newText);
  const parts = diffSequence(a, b, (x, y) => x === y).map(op => ({
    kind: op.kind,
    text: op.kind === 'added' ? b[op.b] : a[op.a]
  }));
  return merge(parts);
}

function splitLines(text: string): string[] {
  return text === '' ? [] : text.split(/\r?\n/);
}

/**
 * The line diff of two texts. Where lines were removed and added at one place, a removed line
 * and a similar added line make one `changed` line with its word diff; the lines left over stay
 * removed or added.
 */
export function diffLines(oldText: string, newText: string): IDiffLine[] {
  const a = splitLines(oldText);
  const b = splitLines(newText);
  const out: IDiffLine[] = [];
  walkDiff(
    a,
    b,
    (x, y) => x === y,
    x => out.push({ kind: 'equal', parts: [{ kind: 'equal', text: x }] }),
    (removed, added) => out.push(...pairLines(removed, added))
  );
  return out;
}

/** How alike two texts are: twice the characters they share over both lengths (0 to 1). */
export function similarity(oldText: string, newText: string): number {
  const total = oldText.length + newText.length;
  if (total === 0) {
    return 1;
  }
  const shared = diffWords(oldText, newText)
    .filter(p => p.kind === 'equal')
    .reduce((n, p) => n + p.text.length, 0);
  return (2 * shared) / total;
}

/** Below this similarity two lines are shown as one removed and one added, not as one changed. */
const PAIR_SIMILARITY = 0.5;

/**
 * Removed and added lines of one place: each removed line is paired, in order, with the most
 * similar added line still free (a `changed` line with its word diff) when they are alike
 * enough; the other lines stay removed or added.
 */
function pairLines(removed: string[], added: string[]): IDiffLine[] {
  const out: IDiffLine[] = [];
  const addedLine = (text: string): IDiffLine => ({ kind: 'added', parts: [{ kind: 'added', text }] });
  let next = 0;
  for (const line of removed) {
    let best = -1;
    let bestScore = PAIR_SIMILARITY;
    for (let k = next; k < added.length; k++) {
      const score = similarity(line, added[k]);
      if (score > bestScore) {
        best = k;
        bestScore = score;
      }
    }
    if (best < 0) {
      out.push({ kind: 'removed', parts: [{ kind: 'removed', text: line }] });
      continue;
    }
    for (; next < best; next++) {
      out.push(addedLine(added[next]));
    }
    out.push({ kind: 'changed', parts: diffWords(line, added[best]) });
    next = best + 1;
  }
  for (; next < added.length; next++) {
    out.push(addedLine(added[next]));
  }
  return out;
}

/** A template's messages (a text template is one message with role "text"). */
function messagesOf(template: Template): IChatMessage[] {
  if (typeof template === 'string') {
    return [{ role: 'text', content: template }];
  }
  return template.map(m => ({ role: String(m.role), content: String(m.content) }));
}

function messageDiff(
  oldMessage: IChatMessage | undefined,
  newMessage: IChatMessage | undefined
): IMessageDiff {
  const lines = diffLines(oldMessage?.content ?? '', newMessage?.content ?? '');
  let kind: IMessageDiff['kind'];
  if (!oldMessage) {
    kind = 'added';
  } else if (!newMessage) {
    kind = 'removed';
  } else {
    const same = oldMessage.role === newMessage.role && oldMessage.content === newMessage.content;
    kind = same ? 'equal' : 'changed';
  }
  return { kind, oldRole: oldMessage?.role, newRole: newMessage?.role, lines };
}

/**
 * The diff of two prompt templates: line by line for two texts; for chat templates, message by
 * message (paired by role, so a message added in front does not shift the others), each pair's
 * content line by line.
 */
export function diffTemplates(oldTemplate: Template, newTemplate: Template): TemplateDiff {
  if (typeof oldTemplate === 'string' && typeof newTemplate === 'string') {
    return { kind: 'text', lines: diffLines(oldTemplate, newTemplate) };
  }
  const a = messagesOf(oldTemplate);
  const b = messagesOf(newTemplate);
  const messages: IMessageDiff[] = [];
  walkDiff(
    a,
    b,
    (x, y) => x.role === y.role,
    (x, y) => messages.push(messageDiff(x, y)),
    (removed, added) => {
      // Messages whose role changed at one place: shown as one changed message.
      for (let i = 0; i < Math.max(removed.length, added.length); i++) {
        messages.push(messageDiff(removed[i], added[i]));
      }
    }
  );
  return { kind: 'chat', messages };
}
