/**
 * Diffs rendered as React text: added parts in <ins>, removed parts in <del>, each line a row.
 * No string is ever parsed as HTML.
 */
import * as React from 'react';

import { diffTemplates, diffWords, IDiffLine, IDiffPart, IMessageDiff, Template } from '../textdiff';

const MARK: Record<IDiffLine['kind'], string> = { equal: ' ', added: '+', removed: '-', changed: '~' };

/** Parts of a diff: added in <ins>, removed in <del>, equal as plain text. */
export function DiffParts(props: { parts: IDiffPart[] }): JSX.Element {
  return (
    <>
      {props.parts.map((part, i) =>
        part.kind === 'added' ? (
          <ins key={i} className="mlnb-diff-added">
            {part.text}
          </ins>
        ) : part.kind === 'removed' ? (
          <del key={i} className="mlnb-diff-removed">
            {part.text}
          </del>
        ) : (
          <span key={i}>{part.text}</span>
        )
      )}
    </>
  );
}

/** The lines of a line diff, each marked +, -, ~ or blank. */
export function DiffLines(props: { lines: IDiffLine[] }): JSX.Element {
  if (props.lines.length === 0) {
    return <div className="mlnb-muted">(empty)</div>;
  }
  return (
    <div className="mlnb-diff-lines">
      {props.lines.map((line, i) => (
        <div key={i} className={`mlnb-diff-line mlnb-diff-line-${line.kind}`} data-kind={line.kind}>
          <span className="mlnb-diff-mark" aria-hidden="true">
            {MARK[line.kind]}
          </span>
          <DiffParts parts={line.parts} />
        </div>
      ))}
    </div>
  );
}

function roleText(message: IMessageDiff): string {
  if (message.oldRole === undefined) {
    return `${message.newRole ?? ''} (added)`;
  }
  if (message.newRole === undefined) {
    return `${message.oldRole} (removed)`;
  }
  return message.oldRole === message.newRole ? message.oldRole : `${message.oldRole} → ${message.newRole}`;
}

/** The diff of two templates: lines of text, or per chat message its role and content lines. */
export function TemplateDiffView(props: { oldTemplate: Template; newTemplate: Template }): JSX.Element {
  const diff = diffTemplates(props.oldTemplate, props.newTemplate);
  if (diff.kind === 'text') {
    return (
      <div className="mlnb-template-diff">
        <DiffLines lines={diff.lines} />
      </div>
    );
  }
  return (
    <div className="mlnb-template-diff">
      {diff.messages.map((message, i) => (
        <div
          key={i}
          className={`mlnb-diff-message mlnb-diff-message-${message.kind}`}
          data-kind={message.kind}
        >
          <div className="mlnb-diff-role">{roleText(message)}</div>
          <DiffLines lines={message.lines} />
        </div>
      ))}
    </div>
  );
}

/** `text` with the words that differ from `base` marked (removed ones struck through). */
export function WordDiff(props: { base: string; text: string }): JSX.Element {
  return <DiffParts parts={diffWords(props.base, props.text)} />;
}
