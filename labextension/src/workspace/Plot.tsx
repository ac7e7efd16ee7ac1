/**
 * One Plotly figure, loaded on first use, drawn in JupyterLab's theme colours (read from its CSS
 * variables, so a dark theme gives light text). Callers escape every user string first
 * (`escapePlotly`): Plotly renders a subset of HTML in labels.
 */
import * as React from 'react';

type PlotlyModule = {
  react: (el: HTMLElement, data: unknown[], layout: unknown, config?: unknown) => Promise<unknown>;
  purge: (el: HTMLElement) => void;
  Plots: { resize: (el: HTMLElement) => void };
};

let plotlyPromise: Promise<PlotlyModule> | null = null;

export function loadPlotly(): Promise<PlotlyModule> {
  plotlyPromise ??= import('plotly.js-dist-min').then(
    (mod: { default?: PlotlyModule }) => (mod.default ?? mod) as PlotlyModule
  );
  return plotlyPromise;
}

/**
 * Load Plotly and draw one small figure off screen, then drop it: Plotly's first figure in a page
 * sets up fonts, styles and measuring elements, so done while the browser is idle, the user's
 * first charts do not pay for it.
 */
export async function preparePlotly(): Promise<void> {
  const Plotly = await loadPlotly();
  const scratch = document.createElement('div');
  scratch.style.cssText = 'position:absolute;left:-10000px;top:0;width:400px;height:200px;';
  document.body.appendChild(scratch);
  try {
    await Plotly.react(
      scratch,
      [
        { x: [0, 1], y: [0, 1], type: 'scatter', mode: 'lines', name: 'a' },
        { x: [0, 1], y: [1, 0], name: 'b' }
      ],
      { ...themeLayout(), height: 200, showlegend: true, xaxis: { type: 'linear' }, yaxis: { type: 'log' } },
      { displaylogo: false, responsive: false }
    );
  } finally {
    Plotly.purge(scratch);
    scratch.remove();
  }
}

/** Text for a Plotly label: tags and MathJax never interpreted (Plotly decodes these entities). */
export function escapePlotly(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\$/g, '&#36;');
}

function cssVar(name: string, fallback: string): string {
  if (typeof document === 'undefined') {
    return fallback;
  }
  const value = getComputedStyle(document.body).getPropertyValue(name).trim();
  return value || fallback;
}

/** Plotly layout colours from JupyterLab's theme. */
export function themeLayout(): Record<string, unknown> {
  const font = cssVar('--jp-ui-font-color1', '#222');
  const grid = cssVar('--jp-border-color2', '#ddd');
  const axis = { gridcolor: grid, zerolinecolor: grid, linecolor: grid, color: font };
  return {
    paper_bgcolor: 'rgba(0,0,0,0)',
    plot_bgcolor: 'rgba(0,0,0,0)',
    font: { size: 11, color: font },
    margin: { l: 55, r: 15, t: 10, b: 40 },
    legend: { orientation: 'h', y: -0.2, font: { color: font } },
    xaxis: axis,
    yaxis: axis
  };
}

/** A number that changes whenever JupyterLab's theme changes (charts are redrawn in its colours). */
export function useThemeVersion(): number {
  const [version, setVersion] = React.useState(0);
  React.useEffect(() => {
    if (typeof MutationObserver === 'undefined') {
      return;
    }
    const observer = new MutationObserver(() => setVersion(v => v + 1));
    observer.observe(document.body, {
      attributes: true,
      attributeFilter: ['data-jp-theme-name', 'data-jp-theme-light']
    });
    return () => observer.disconnect();
  }, []);
  return version;
}

export function Plot(props: {
  data: unknown[];
  layout: Record<string, unknown>;
  height: number;
  name: string;
  /** Set as the element's data-painted once drawn (what tests and the benchmark wait for). */
  revision?: string;
}): JSX.Element {
  const ref = React.useRef<HTMLDivElement>(null);
  const [error, setError] = React.useState<string | null>(null);
  const { data, layout, height, revision } = props;
  const theme = useThemeVersion();
  React.useEffect(() => {
    const element = ref.current;
    if (!element) {
      return;
    }
    let alive = true;
    const base = themeLayout();
    loadPlotly()
      .then(Plotly => {
        if (!alive) {
          return;
        }
        const merged = {
          ...base,
          ...layout,
          xaxis: { ...(base.xaxis as object), ...((layout.xaxis as object) ?? {}) },
          yaxis: { ...(base.yaxis as object), ...((layout.yaxis as object) ?? {}) },
          height,
          autosize: true
        };
        return Plotly.react(element, data, merged, { displaylogo: false, responsive: true });
      })
      .then(() => {
        if (alive) {
          element.dataset.painted = revision ?? 'yes';
        }
      })
      .catch(e => setError(String(e)));
    return () => {
      alive = false;
    };
  }, [data, layout, height, theme, revision]);
  React.useEffect(() => {
    const element = ref.current;
    return () => {
      if (element) {
        void loadPlotly().then(Plotly => Plotly.purge(element));
      }
    };
  }, []);
  React.useEffect(() => {
    const element = ref.current;
    if (!element || typeof ResizeObserver === 'undefined') {
      return;
    }
    const observer = new ResizeObserver(() => {
      if (element.dataset.painted) {
        void loadPlotly().then(Plotly => Plotly.Plots.resize(element));
      }
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return (
    <div className="mlnb-ws-plot" data-plot={props.name}>
      {error && <div className="mlnb-error">{error}</div>}
      <div ref={ref} />
    </div>
  );
}
