/**
 * Page arithmetic for the paged table viewer (pure; unit-tested).
 */

/** Where a page sits in a table, and where the buttons go. */
export interface IPageInfo {
  /** e.g. "rows 51–100 of 1,234" (or "of 1,234+" / "no rows"). */
  label: string;
  /** The offset of the previous page, or null on the first page. */
  prev: number | null;
  /** The offset of the next page, or null on the last page. */
  next: number | null;
  /** The offset of the last page, or null when the total is unknown. */
  last: number | null;
  /** 1-based page number and the page count (null when the total is unknown). */
  page: number;
  pages: number | null;
}

const fmt = (n: number): string => n.toLocaleString('en-US');

/**
 * Describe a page of a table.
 *
 * @param offset - the first row of the page (0-based).
 * @param limit - the page size (at least 1).
 * @param shown - how many rows the page holds.
 * @param total - the table's row count, or null when it was not counted.
 * @param more - whether rows follow this page.
 */
export function pageInfo(
  offset: number,
  limit: number,
  shown: number,
  total: number | null,
  more: boolean
): IPageInfo {
  const size = Math.max(1, Math.floor(limit));
  const start = Math.max(0, Math.floor(offset));
  const pages = total === null ? null : Math.max(1, Math.ceil(total / size));
  const last = pages === null ? null : (pages - 1) * size;
  let label: string;
  if (shown === 0) {
    label =
      total === 0 ? 'no rows' : `no rows at ${fmt(start + 1)}${total === null ? '' : ` of ${fmt(total)}`}`;
  } else {
    const of = total === null ? `${fmt(start + shown)}+` : fmt(total);
    label = `rows ${fmt(start + 1)}–${fmt(start + shown)} of ${of}`;
  }
  return {
    label,
    prev: start > 0 ? Math.max(0, start - size) : null,
    next: more ? start + size : null,
    last: last !== null && last > start ? last : null,
    page: Math.floor(start / size) + 1,
    pages
  };
}

/**
 * The offset of a 1-based page number typed by the user, kept inside the table.
 *
 * @param page - the page number asked for (any number; rounded and clamped).
 * @param limit - the page size.
 * @param total - the row count, or null when unknown (then only the lower bound applies).
 */
export function offsetOfPage(page: number, limit: number, total: number | null): number {
  const size = Math.max(1, Math.floor(limit));
  let wanted = Number.isFinite(page) ? Math.max(1, Math.round(page)) : 1;
  if (total !== null) {
    wanted = Math.min(wanted, Math.max(1, Math.ceil(total / size)));
  }
  return (wanted - 1) * size;
}
