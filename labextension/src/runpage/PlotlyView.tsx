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

type Layout = Record<string, unknown>;

function part(layout: Layout, key: string): Layout {
  const value = layout[key];
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Layout) : {};
}

/**
 * A layout over the theme's defaults: what the layout sets wins (a figure's own colours stay),
 * the rest follows the theme.
 */
export function withTheme(layout: Layout): Layout {
  const theme = themedLayout();
  const merged: Layout = { ...theme, ...layout };
  for (const key of ['font', 'xaxis', 'yaxis']) {
    merged[key] = { ...part(theme, key), ...part(layout, key) };
  }
  return merged;
}

/** JupyterLab's current theme name; changes (and re-renders the caller) when the user switches. */
export function useThemeName(): string {
  const read = (): string => document.body.dataset.jpThemeName ?? '';
  const [theme, setTheme] = React.useState(read);
  React.useEffect(() => {
    const observer = new MutationObserver(() => setTheme(read()));
    observer.observe(document.body, {
      attributes: true,
      attributeFilter: ['data-jp-theme-name', 'data-jp-theme-light']
    });
    return () => observer.disconnect();
  }, []);
  return theme;
}

export interface IPlotlyViewProps {
  data: unknown[];
  layout: Record<string, unknown>;
  /** A name for tests and screen readers. */
  name: string;
  className?: string;
  /**
   * Draw over the theme's colours (the default, for mlnb's own charts); false draws the layout
   * as it is (a user's figure keeps the look it was logged with, its own background included).
   */
  themed?: boolean;
}

/**
 * One Plotly chart over the theme's defaults; redrawn when `data`, `layout` or JupyterLab's theme
 * change, purged on unmount.
 */
export function PlotlyView(props: IPlotlyViewProps): JSX.Element {
  const ref = React.useRef<HTMLDivElement>(null);
  const [error, setError] = React.useState<string | null>(null);
  const { data, layout } = props;
  const theme = useThemeName();
  const themed = props.themed ?? true;
  React.useEffect(() => {
    const element = ref.current;
    if (!element) {
      return;
    }
    loadPlotly()
      .then(Plotly => {
        // The box's width, not the last drawing's: a redraw (a theme change) must not keep a
        // stale size. Plotly's responsive mode follows later window resizes.
        const width = layout.width ?? (element.parentElement?.clientWidth || undefined);
        const drawn = { ...(themed ? withTheme(layout) : layout), width };
        return Plotly.react(element, data, drawn, { displaylogo: false, responsive: true });
      })
      .catch(e => setError(`The chart could not be drawn: ${String(e)}`));
    return () => {
      void loadPlotly().then(Plotly => Plotly.purge(element));
    };
  }, [data, layout, theme, themed]);
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
