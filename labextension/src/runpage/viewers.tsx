/**
 * The artifact viewers. User data is React text everywhere, except HTML and Markdown, which are
 * sanitised (sanitize.ts) before they reach the DOM, and HTML artifacts, which are shown only in
 * a sandboxed frame (no scripts, an opaque origin, a CSP that loads nothing).
 */
import * as React from 'react';

import { useRequest } from '../hooks';
import { buildJsonTree, IJsonNode, initiallyOpen, isPlotlyFigure } from './jsonTree';
import { offsetOfPage, pageInfo } from './paging';
import { PlotlyView } from './PlotlyView';
import { tablePage } from './requests';
import { markdownHtml } from './sanitize';

/** Preformatted text. */
export function TextViewer(props: { text: string }): JSX.Element {
  return (
    <pre className="mlnb-preview-text mlnb-rp-text" tabIndex={0}>
      {props.text}
    </pre>
  );
}

/** Markdown rendered and sanitised. */
export function MarkdownViewer(props: { markdown: string }): JSX.Element {
  const html = React.useMemo(() => markdownHtml(props.markdown), [props.markdown]);
  return (
    <div className="mlnb-rp-markdown jp-RenderedHTMLCommon" dangerouslySetInnerHTML={{ __html: html }} />
  );
}

/** An image from a blob (its object URL revoked on unmount). */
export function ImageViewer(props: { blob: Blob; alt: string }): JSX.Element {
  const url = React.useMemo(() => URL.createObjectURL(props.blob), [props.blob]);
  React.useEffect(() => () => URL.revokeObjectURL(url), [url]);
  return <img className="mlnb-preview-image" src={url} alt={props.alt} />;
}

/**
 * An HTML artifact in a frame: `sandbox=""` (no scripts, no forms, no popups, an opaque origin)
 * and a CSP in the document itself that loads nothing from the network.
 */
export function HtmlFrame(props: { html: string; title: string }): JSX.Element {
  const csp =
    '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; style-src \'unsafe-inline\'">';
  return (
    <iframe
      className="mlnb-rp-html"
      sandbox=""
      referrerPolicy="no-referrer"
      srcDoc={`${csp}${props.html}`}
      title={props.title}
    />
  );
}

/** A Plotly figure as `log_figure` writes it (its data and layout), drawn with its own colours. */
export function PlotlyFigureViewer(props: {
  figure: { data: unknown[]; layout?: object };
  name: string;
}): JSX.Element {
  const { figure } = props;
  const layout = React.useMemo(
    () => ({ height: 420, ...(figure.layout as Record<string, unknown>) }),
    [figure]
  );
  return (
    <PlotlyView
      data={figure.data}
      layout={layout}
      name={props.name}
      className="mlnb-rp-figure"
      themed={false}
    />
  );
}

function JsonNodeView(props: {
  node: IJsonNode;
  open: Set<string>;
  toggle: (id: string) => void;
}): JSX.Element {
  const { node, open, toggle } = props;
  const branch = node.kind === 'object' || node.kind === 'array';
  const isOpen = open.has(node.id);
  const key = node.key === null ? null : <span className="mlnb-json-key">{node.key}: </span>;
  if (!branch) {
    return (
      <li role="treeitem" aria-selected={false} className="mlnb-json-leaf">
        {key}
        <span className={`mlnb-json-${node.kind}`}>{node.text}</span>
      </li>
    );
  }
  return (
    <li role="treeitem" aria-expanded={isOpen} aria-selected={false}>
      <button
        className="mlnb-json-toggle"
        onClick={() => toggle(node.id)}
        aria-label={`${isOpen ? 'Collapse' : 'Expand'} ${node.key ?? 'root'}`}
      >
        {isOpen ? '▾' : '▸'}
      </button>
      {key}
      <span className="mlnb-json-summary">{node.text}</span>
      {isOpen && (
        <ul role="group">
          {node.children.map(child => (
            <JsonNodeView key={child.id} node={child} open={open} toggle={toggle} />
          ))}
          {node.hidden > 0 && (
            <li className="mlnb-muted">… {node.hidden.toLocaleString('en-US')} more not shown</li>
          )}
        </ul>
      )}
    </li>
  );
}

/** JSON as a collapsible tree (keys and values as text). */
export function JsonTreeViewer(props: { value: unknown }): JSX.Element {
  const root = React.useMemo(() => buildJsonTree(props.value), [props.value]);
  const [open, setOpen] = React.useState(() => initiallyOpen(root));
  const toggle = React.useCallback(
    (id: string) =>
      setOpen(current => {
        const next = new Set(current);
        if (next.has(id)) {
          next.delete(id);
        } else {
          next.add(id);
        }
        return next;
      }),
    []
  );
  return (
    <ul className="mlnb-json" role="tree" aria-label="JSON">
      <JsonNodeView node={root} open={open} toggle={toggle} />
    </ul>
  );
}

/** JSON text: a Plotly figure is drawn, any other value shown as a tree, invalid JSON as text. */
export function JsonViewer(props: { text: string; name: string; partial: boolean }): JSX.Element {
  const parsed = React.useMemo((): { value?: unknown; error?: string } => {
    try {
      return { value: JSON.parse(props.text) };
    } catch (e) {
      return { error: String(e) };
    }
  }, [props.text]);
  const [asTree, setAsTree] = React.useState(false);
  if (parsed.error !== undefined) {
    return (
      <>
        <div className="mlnb-muted">
          {props.partial
            ? 'Only the start of this file is shown, so it is not parsed.'
            : `Not valid JSON (${parsed.error}).`}
        </div>
        <TextViewer text={props.text} />
      </>
    );
  }
  if (isPlotlyFigure(parsed.value) && !asTree) {
    return (
      <>
        <button className="jp-mod-styled mlnb-rp-as-tree" onClick={() => setAsTree(true)}>
          Show as JSON tree
        </button>
        <PlotlyFigureViewer figure={parsed.value} name={props.name} />
      </>
    );
  }
  return <JsonTreeViewer value={parsed.value} />;
}

const PAGE_SIZE = 50;

/** A CSV, TSV or Parquet artifact as a table read page by page from the server. */
export function TableViewer(props: { runId: string; path: string }): JSX.Element {
  const { runId, path } = props;
  const [offset, setOffset] = React.useState(0);
  const request = useRequest(() => tablePage(runId, path, offset, PAGE_SIZE), [runId, path, offset]);
  const page = request.data;
  if (request.error) {
    return <div className="mlnb-error">{request.error}</div>;
  }
  if (!page) {
    return <div className="mlnb-muted">Loading…</div>;
  }
  const info = pageInfo(page.offset, page.limit, page.rows.length, page.total, page.more);
  const go = (to: number | null): void => {
    if (to !== null) {
      setOffset(to);
    }
  };
  return (
    <div className="mlnb-rp-table">
      <div className="mlnb-rp-pager" role="navigation" aria-label="Table pages">
        <button
          className="jp-mod-styled"
          disabled={info.prev === null}
          onClick={() => go(0)}
          aria-label="First page"
        >
          «
        </button>
        <button
          className="jp-mod-styled"
          disabled={info.prev === null}
          onClick={() => go(info.prev)}
          aria-label="Previous page"
        >
          ‹
        </button>
        <span className="mlnb-rp-page-label" aria-live="polite">
          {info.label}
        </span>
        <button
          className="jp-mod-styled"
          disabled={info.next === null}
          onClick={() => go(info.next)}
          aria-label="Next page"
        >
          ›
        </button>
        <button
          className="jp-mod-styled"
          disabled={info.last === null}
          onClick={() => go(info.last)}
          aria-label="Last page"
        >
          »
        </button>
        {info.pages !== null && info.pages > 1 && (
          <label className="mlnb-muted">
            page{' '}
            <input
              className="mlnb-rp-page-input"
              type="number"
              min={1}
              max={info.pages}
              defaultValue={info.page}
              key={info.page}
              onKeyDown={e => {
                if (e.key === 'Enter') {
                  setOffset(
                    offsetOfPage(Number((e.target as HTMLInputElement).value), PAGE_SIZE, page.total)
                  );
                }
              }}
            />{' '}
            of {info.pages.toLocaleString('en-US')}
          </label>
        )}
        {page.columns_cut > 0 && (
          <span className="mlnb-muted">{page.columns_cut} more columns not shown</span>
        )}
      </div>
      <div className="mlnb-rp-table-scroll" tabIndex={0}>
        <table className="mlnb-csv mlnb-rp-grid">
          <thead>
            <tr>
              <th className="mlnb-rp-rownum">#</th>
              {page.columns.map((c, j) => (
                <th key={j}>{c}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {page.rows.map((row, i) => (
              <tr key={page.offset + i}>
                <td className="mlnb-rp-rownum">{page.offset + i + 1}</td>
                {page.columns.map((_c, j) => (
                  <td key={j}>{row[j] === null || row[j] === undefined ? '' : String(row[j])}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
