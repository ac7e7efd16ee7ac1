/**
 * A small Markdown renderer for artifacts and notebook cells (pure; unit-tested).
 *
 * Everything the text holds is escaped first, so raw HTML in the Markdown shows as text; the
 * renderer then adds only its own tags (headings, paragraphs, lists, quotes, code, tables,
 * emphasis, links and images). Links keep only http(s), mailto and relative URLs, images only
 * http(s), relative and data:image URLs of raster types; any other URL (javascript:, data:text…)
 * leaves its text with no link. Callers still pass the result through JupyterLab's Sanitizer.
 */

/** Escape text for HTML, quotes included (so it is safe inside attribute values too). */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function unescapeHtml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

// Browsers drop ASCII tab/newline inside URLs and leading control characters and spaces.
// eslint-disable-next-line no-control-regex
const URL_NOISE = /[\u0000-\u0020\u007f-\u009f]/g;
const SCHEME = /^([a-z][a-z0-9+.-]*):/i;

/**
 * Whether a URL may be a link target: http(s), mailto, or no scheme at all (relative or #anchor).
 *
 * @param url - the URL as written.
 */
export function isSafeLink(url: string): boolean {
  const scheme = SCHEME.exec(url.replace(URL_NOISE, ''));
  return !scheme || ['http', 'https', 'mailto'].includes(scheme[1].toLowerCase());
}

/**
 * Whether a URL may be an image source: http(s), relative, or a data: URL of a raster image.
 *
 * @param url - the URL as written.
 */
export function isSafeImage(url: string): boolean {
  const clean = url.replace(URL_NOISE, '');
  const scheme = SCHEME.exec(clean);
  if (!scheme) {
    return true;
  }
  const name = scheme[1].toLowerCase();
  return name === 'http' || name === 'https' || /^data:image\/(png|jpe?g|gif|webp);/i.test(clean);
}

/** Inline Markdown of one escaped segment (no code spans in it). */
function inlineEscaped(text: string): string {
  let out = text;
  // Images, then links: [text](url "title"); the url has no spaces or parentheses.
  out = out.replace(/!\[([^\]]*)\]\(([^)\s]*)(?:\s+&quot;[^)]*&quot;)?\)/g, (_m, alt: string, url: string) =>
    isSafeImage(unescapeHtml(url)) ? `<img src="${url}" alt="${alt}">` : alt
  );
  out = out.replace(
    /\[([^\]]+)\]\(([^)\s]*)(?:\s+&quot;[^)]*&quot;)?\)/g,
    (_m, label: string, url: string) =>
      isSafeLink(unescapeHtml(url))
        ? `<a href="${url}" target="_blank" rel="noopener noreferrer">${label}</a>`
        : label
  );
  out = out.replace(
    /&lt;(https?:\/\/[^\s&]+)&gt;/g,
    '<a href="$1" target="_blank" rel="noopener noreferrer">$1</a>'
  );
  out = out.replace(/\*\*(?=\S)([\s\S]*?\S)\*\*/g, '<strong>$1</strong>');
  out = out.replace(/__(?=\S)([\s\S]*?\S)__/g, '<strong>$1</strong>');
  out = out.replace(/(^|[^*\w])\*(?=\S)([^*]*?\S)\*(?!\*)/g, '$1<em>$2</em>');
  out = out.replace(/(^|[^_\w])_(?=\S)([^_]*?\S)_(?![_\w])/g, '$1<em>$2</em>');
  out = out.replace(/~~(?=\S)([\s\S]*?\S)~~/g, '<del>$1</del>');
  out = out.replace(/ {2,}\n/g, '<br>\n');
  return out;
}

/**
 * Inline Markdown of raw text: code spans kept literal, the rest escaped then formatted.
 *
 * @param text - raw inline text.
 */
export function renderInline(text: string): string {
  const parts = text.split(/(`+)([\s\S]*?[^`])\1(?!`)/);
  let out = '';
  for (let i = 0; i < parts.length; i += 3) {
    out += inlineEscaped(escapeHtml(parts[i]));
    if (i + 2 < parts.length) {
      out += `<code>${escapeHtml(parts[i + 2].trim())}</code>`;
    }
  }
  return out;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+-]*)/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;
const BULLET = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const QUOTE = /^ {0,3}>\s?(.*)$/;
const TABLE_SEP = /^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$/;

function tableCells(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split('|')
    .map(c => c.trim());
}

function isBlockStart(line: string): boolean {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || BULLET.test(line) || QUOTE.test(line);
}

/**
 * Render Markdown as HTML made only of the renderer's own tags (see the module's comment).
 *
 * @param markdown - the Markdown text.
 */
export function markdownToHtml(markdown: string): string {
  const lines = markdown.replace(/\r\n?/g, '\n').split('\n');
  const out: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    const fence = FENCE.exec(line);
    if (fence) {
      const body: string[] = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) {
        body.push(lines[i++]);
      }
      i++; // the closing fence
      const lang = fence[2] ? ` class="language-${escapeHtml(fence[2])}"` : '';
      out.push(`<pre><code${lang}>${escapeHtml(body.join('\n'))}</code></pre>`);
      continue;
    }
    if (line.trim() === '') {
      i++;
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      const level = heading[1].length;
      out.push(`<h${level}>${renderInline(heading[2])}</h${level}>`);
      i++;
      continue;
    }
    if (RULE.test(line)) {
      out.push('<hr>');
      i++;
      continue;
    }
    if (QUOTE.test(line)) {
      const body: string[] = [];
      while (i < lines.length && QUOTE.test(lines[i])) {
        body.push((QUOTE.exec(lines[i]) as RegExpExecArray)[1]);
        i++;
      }
      out.push(`<blockquote>${markdownToHtml(body.join('\n'))}</blockquote>`);
      continue;
    }
    const bullet = BULLET.exec(line);
    if (bullet) {
      const ordered = /\d/.test(bullet[2]);
      const items: string[] = [];
      while (i < lines.length) {
        const item = BULLET.exec(lines[i]);
        if (item) {
          items.push(item[3]);
        } else if (lines[i].trim() !== '' && items.length && /^\s+/.test(lines[i])) {
          items[items.length - 1] += `\n${lines[i].trim()}`; // a continuation line
        } else {
          break;
        }
        i++;
      }
      const tag = ordered ? 'ol' : 'ul';
      out.push(`<${tag}>${items.map(item => `<li>${renderInline(item)}</li>`).join('')}</${tag}>`);
      continue;
    }
    if (line.includes('|') && i + 1 < lines.length && TABLE_SEP.test(lines[i + 1])) {
      const head = tableCells(line);
      i += 2;
      const rows: string[][] = [];
      while (i < lines.length && lines[i].includes('|') && lines[i].trim() !== '') {
        rows.push(tableCells(lines[i++]));
      }
      const th = head.map(c => `<th>${renderInline(c)}</th>`).join('');
      const body = rows
        .map(r => `<tr>${head.map((_h, j) => `<td>${renderInline(r[j] ?? '')}</td>`).join('')}</tr>`)
        .join('');
      out.push(`<table><thead><tr>${th}</tr></thead><tbody>${body}</tbody></table>`);
      continue;
    }
    if (/^( {4}|\t)/.test(line)) {
      const body: string[] = [];
      while (i < lines.length && (/^( {4}|\t)/.test(lines[i]) || lines[i].trim() === '')) {
        body.push(lines[i++].replace(/^( {4}|\t)/, ''));
      }
      out.push(`<pre><code>${escapeHtml(body.join('\n').replace(/\n+$/, ''))}</code></pre>`);
      continue;
    }
    const para: string[] = [];
    while (i < lines.length && lines[i].trim() !== '' && (para.length === 0 || !isBlockStart(lines[i]))) {
      para.push(lines[i++]);
    }
    out.push(`<p>${renderInline(para.join('\n'))}</p>`);
  }
  return out.join('\n');
}
