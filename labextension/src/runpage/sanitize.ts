/**
 * HTML from the store (notebook outputs, rendered Markdown) made inert with JupyterLab's own
 * Sanitizer: no scripts, no event handlers, no javascript: URLs, and no command-linker
 * attributes (a click must never run a JupyterLab command from an artifact).
 */
import { Sanitizer } from '@jupyterlab/apputils';

import { markdownToHtml } from './markdown';

let sanitizer: Sanitizer | null = null;

function instance(): Sanitizer {
  if (!sanitizer) {
    sanitizer = new Sanitizer();
    sanitizer.setAllowCommandLinker(false);
    sanitizer.setAllowNamedProperties(false);
    sanitizer.setAllowedSchemes(['http', 'https', 'mailto']);
  }
  return sanitizer;
}

/**
 * Sanitised HTML.
 *
 * @param html - HTML from the store.
 */
export function sanitizeHtml(html: string): string {
  return instance().sanitize(html);
}

/**
 * Markdown rendered (its own HTML shown as text) and then sanitised.
 *
 * @param markdown - Markdown from the store.
 */
export function markdownHtml(markdown: string): string {
  return sanitizeHtml(markdownToHtml(markdown));
}
