/**
 * The line and word diffs behind the prompt diff and the compare view's highlighted outputs.
 */
import {
  diffLines,
  diffSequence,
  diffTemplates,
  diffWords,
  IDiffPart,
  similarity,
  tokenize
} from '../textdiff';

/** The old text (equal + removed parts) and the new one (equal + added parts). */
function sides(parts: IDiffPart[]): [string, string] {
  const old = parts.filter(p => p.kind !== 'added').map(p => p.text);
  const neu = parts.filter(p => p.kind !== 'removed').map(p => p.text);
  return [old.join(''), neu.join('')];
}

describe('tokenize', () => {
  it('splits words, whitespace and single punctuation, losing nothing', () => {
    expect(tokenize('Hi {{name}},  you')).toEqual(['Hi', ' ', '{', '{', 'name', '}', '}', ',', '  ', 'you']);
    expect(tokenize('')).toEqual([]);
    const text = 'Ünïcode 数字 <b>x</b>\n\ty';
    expect(tokenize(text).join('')).toBe(text);
  });
});

describe('diffWords', () => {
  it('marks the words that changed', () => {
    expect(diffWords('the quick fox', 'the slow fox')).toEqual([
      { kind: 'equal', text: 'the ' },
      { kind: 'removed', text: 'quick' },
      { kind: 'added', text: 'slow' },
      { kind: 'equal', text: ' fox' }
    ]);
  });

  it('gives back both texts exactly', () => {
    const pairs: Array<[string, string]> = [
      ['', 'new text'],
      ['old text', ''],
      ['a b c d e', 'a c e f'],
      ['<img src=x onerror=alert(1)>', '<img src=y onerror=alert(1)> more'],
      ['same', 'same']
    ];
    for (const [a, b] of pairs) {
      expect(sides(diffWords(a, b))).toEqual([a, b]);
    }
  });

  it('keeps an unchanged text as one equal part', () => {
    expect(diffWords('no change here', 'no change here')).toEqual([
      { kind: 'equal', text: 'no change here' }
    ]);
  });
});

describe('diffSequence', () => {
  it('finds a longest common subsequence, removals before additions', () => {
    const ops = diffSequence(['a', 'b', 'c', 'd'], ['a', 'x', 'c', 'd', 'e'], (x, y) => x === y);
    expect(ops.map(o => o.kind)).toEqual(['equal', 'removed', 'added', 'equal', 'equal', 'added']);
  });

  it('handles empty sides', () => {
    expect(diffSequence([], ['a'], (x, y) => x === y).map(o => o.kind)).toEqual(['added']);
    expect(diffSequence(['a'], [], (x, y) => x === y).map(o => o.kind)).toEqual(['removed']);
  });
});

describe('diffLines', () => {
  it('pairs a changed line with its word diff and keeps the rest', () => {
    const lines = diffLines('Hello {{name}}\nBe brief.\nBye', 'Hello {{name}}\nBe very brief.\nBye\nPS');
    expect(lines.map(l => l.kind)).toEqual(['equal', 'changed', 'equal', 'added']);
    expect(lines[1].parts).toEqual([
      { kind: 'equal', text: 'Be ' },
      { kind: 'added', text: 'very ' },
      { kind: 'equal', text: 'brief.' }
    ]);
    expect(lines[3].parts).toEqual([{ kind: 'added', text: 'PS' }]);
  });

  it('pairs a line only with a similar one', () => {
    const lines = diffLines('Answer {{n}}\n<b>x</b>', 'Be brief <b>x</b>\nmore');
    expect(lines.map(l => l.kind)).toEqual(['removed', 'changed', 'added']);
    expect(lines[0].parts).toEqual([{ kind: 'removed', text: 'Answer {{n}}' }]);
    expect(lines[1].parts).toEqual([
      { kind: 'added', text: 'Be brief ' },
      { kind: 'equal', text: '<b>x</b>' }
    ]);
    expect(similarity('abc', 'abc')).toBe(1);
    expect(similarity('abc', 'xyz')).toBe(0);
  });

  it('shows a removed line', () => {
    expect(diffLines('a\nb', 'a').map(l => l.kind)).toEqual(['equal', 'removed']);
  });
});

describe('diffTemplates', () => {
  it('diffs two texts by line', () => {
    const diff = diffTemplates('a\nb', 'a\nc');
    expect(diff.kind).toBe('text');
  });

  it('diffs chat templates per message, paired by role', () => {
    const old = [
      { role: 'system', content: 'Be brief' },
      { role: 'user', content: 'Hi {{name}}' }
    ];
    const neu = [
      { role: 'system', content: 'Be brief' },
      { role: 'assistant', content: 'Example' },
      { role: 'user', content: 'Hello {{name}}' }
    ];
    const diff = diffTemplates(old, neu);
    if (diff.kind !== 'chat') {
      throw new Error('expected a chat diff');
    }
    expect(diff.messages.map(m => [m.kind, m.oldRole, m.newRole])).toEqual([
      ['equal', 'system', 'system'],
      ['added', undefined, 'assistant'],
      ['changed', 'user', 'user']
    ]);
    expect(diff.messages[2].lines[0].parts).toEqual([
      { kind: 'removed', text: 'Hi' },
      { kind: 'added', text: 'Hello' },
      { kind: 'equal', text: ' {{name}}' }
    ]);
  });

  it('diffs a text against a chat as a message with role "text"', () => {
    const diff = diffTemplates('Hi', [{ role: 'user', content: 'Hi' }]);
    if (diff.kind !== 'chat') {
      throw new Error('expected a chat diff');
    }
    expect(diff.messages.map(m => [m.kind, m.oldRole, m.newRole])).toEqual([['changed', 'text', 'user']]);
  });
});
