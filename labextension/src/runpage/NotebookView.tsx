/**
 * A notebook rendered read-only: Markdown cells rendered and sanitised, code as text, outputs as
 * text, images, sanitised HTML and Plotly figures (scripts, event handlers and javascript: URLs
 * never survive). The cell that made the run is highlighted, scrolled to and focused.
 */
import * as React from 'react';

import { findTargetCell, ICellView, INotebookView, ITargetCell, OutputView, parseNotebook } from './notebook';
import { markdownHtml, sanitizeHtml } from './sanitize';
import { MarkdownViewer, PlotlyFigureViewer } from './viewers';

function Output(props: { output: OutputView; name: string }): JSX.Element {
  const { output } = props;
  switch (output.kind) {
    case 'text':
      return (
        <pre className={`mlnb-nb-output mlnb-nb-stream-${output.stream ?? 'result'}`}>{output.text}</pre>
      );
    case 'error':
      return <pre className="mlnb-nb-output mlnb-nb-error">{output.text}</pre>;
    case 'image':
      return (
        <img
          className="mlnb-nb-output mlnb-nb-image"
          src={output.src}
          alt={`${props.name} (${output.mime})`}
        />
      );
    case 'html':
      return (
        <div
          className="mlnb-nb-output mlnb-nb-html jp-RenderedHTMLCommon"
          dangerouslySetInnerHTML={{ __html: sanitizeHtml(output.html) }}
        />
      );
    case 'markdown':
      return <MarkdownViewer markdown={output.markdown} />;
    case 'plotly':
      return <PlotlyFigureViewer figure={output.figure} name={props.name} />;
  }
}

function Cell(props: { cell: ICellView; target: boolean; edited: boolean }): JSX.Element {
  const { cell, target } = props;
  const ref = React.useRef<HTMLDivElement>(null);
  React.useEffect(() => {
    if (target && ref.current) {
      ref.current.scrollIntoView({ block: 'center' });
      ref.current.focus({ preventScroll: true });
    }
  }, [target]);
  const html = React.useMemo(() => (cell.type === 'markdown' ? markdownHtml(cell.source) : ''), [cell]);
  const classes = ['mlnb-nb-cell', `mlnb-nb-${cell.type}`, target ? 'mlnb-nb-target' : ''].join(' ').trim();
  const name = `cell ${cell.index + 1}`;
  return (
    <div
      ref={ref}
      className={classes}
      role="listitem"
      aria-label={target ? `${name}: the cell that made this run` : name}
      aria-current={target ? 'true' : undefined}
      tabIndex={target ? 0 : -1}
      data-cell-index={cell.index}
      data-cell-id={cell.id ?? undefined}
    >
      {target && (
        <div className="mlnb-nb-target-note">
          This cell made the run{props.edited ? ' (its source has changed since)' : ''}.
        </div>
      )}
      {cell.type === 'markdown' ? (
        <div className="mlnb-nb-markdown jp-RenderedHTMLCommon" dangerouslySetInnerHTML={{ __html: html }} />
      ) : (
        <div className="mlnb-nb-input">
          <div className="mlnb-nb-prompt">
            {cell.type === 'code' ? `[${cell.executionCount ?? ' '}]:` : ''}
          </div>
          <pre className="mlnb-nb-source">{cell.source}</pre>
        </div>
      )}
      {cell.outputs.map((output, i) => (
        <Output key={i} output={output} name={`${name} output ${i + 1}`} />
      ))}
    </div>
  );
}

/** A parsed notebook; `target` names the cell to highlight (by id, else by source). */
export function NotebookRender(props: { view: INotebookView; target?: ITargetCell }): JSX.Element {
  const { view, target } = props;
  const match = React.useMemo(() => (target ? findTargetCell(view, target) : null), [view, target]);
  return (
    <div className="mlnb-nb" role="list" aria-label="Notebook (read-only)">
      {target && !match && (
        <div className="mlnb-muted mlnb-nb-no-target">
          The cell that made this run is not in this notebook.
        </div>
      )}
      {view.cells.map(cell => (
        <Cell key={cell.index} cell={cell} target={match?.index === cell.index} edited={!!match?.edited} />
      ))}
    </div>
  );
}

/** A notebook's JSON text, or why it cannot be shown. */
export function NotebookViewer(props: { text: string; target?: ITargetCell; partial: boolean }): JSX.Element {
  const parsed = React.useMemo((): { view?: INotebookView; error?: string } => {
    if (props.partial) {
      return { error: 'This notebook is too large to show here; download it instead.' };
    }
    try {
      return { view: parseNotebook(JSON.parse(props.text)) };
    } catch (e) {
      return {
        error: e instanceof SyntaxError ? `Not valid JSON (${e.message}).` : String((e as Error).message ?? e)
      };
    }
  }, [props.text, props.partial]);
  if (!parsed.view) {
    return <div className="mlnb-error">{parsed.error}</div>;
  }
  return <NotebookRender view={parsed.view} target={props.target} />;
}
