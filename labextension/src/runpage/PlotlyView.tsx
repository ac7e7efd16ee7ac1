/**
 * A Plotly chart drawn into a div (Plotly is loaded on first use, in its own bundle chunk), with
 * the theme's colours so it reads in dark themes.
 */
import * as React from 'react';

type PlotlyModule = {
  react: (el: HTMLElement, data: unknown[], layout: unknown, config?: unknown) => Promise<unknown>;
  purge: (el: HTMLElement) => void;
};

let plotlyPromise: Promise<PlotlyModule> | null = null;

/** Plotly, loaded once. */
export function loadPlotly(): Promise<PlotlyModule> {
  if (!plotlyPromise) {
    plotlyPromise = import('plotly.js-dist-min').then(
      (mod: { default?: PlotlyModule }) => (mod.default ?? mod) as PlotlyModule
    );
  }
  return plotlyPromise;
}

/** A JupyterLab theme colour (CSS variable) as the page has it now. */
export function themeColor(name: string, fallback: string): string {
  const value = getComputedStyle(document.body).getPropertyValue(name).trim();
  return value || fallback;
}

/** Layout defaults that follow the theme: transparent background, the theme's text and grid. */
export function themedLayout(): Record<string, unknown> {
  const text = themeColor('--jp-ui-font-color1', '#333');
  const grid = themeColor('--jp-border-color2', '#ddd');
  return {
    paper_bgcolor: 'rgba(0,0,0,0)',
    plot_bgcolor: 'rgba(0,0,0,0)',
    font: { color: text, size: 11 },
    xaxis: { gridcolor: grid, zerolinecolor: grid },
    yaxis: { gridcolor: grid, zerolinecolor: grid }
  };
}

export interface IPlotlyViewProps {
  data: unknown[];
  layout: Record<string, unknown>;
  /** A name for tests and screen readers. */
  name: string;
  className?: string;
}

/** One Plotly chart; redrawn when `data` or `layout` change, purged on unmount. */
export function PlotlyView(props: IPlotlyViewProps): JSX.Element {
  const ref = React.useRef<HTMLDivElement>(null);
  const [error, setError] = React.useState<string | null>(null);
  const { data, layout } = props;
  React.useEffect(() => {
    const element = ref.current;
    if (!element) {
      return;
    }
    loadPlotly()
      .then(Plotly => Plotly.react(element, data, layout, { displaylogo: false, responsive: true }))
      .catch(e => setError(`The chart could not be drawn: ${String(e)}`));
    return () => {
      void loadPlotly().then(Plotly => Plotly.purge(element));
    };
  }, [data, layout]);
  return (
    <div
      className={props.className ?? 'mlnb-rp-chart'}
      data-chart={props.name}
      role="figure"
      aria-label={props.name}
    >
      {error && <div className="mlnb-error">{error}</div>}
      <div ref={ref} />
    </div>
  );
}
