/**
 * Which viewer shows an artifact, from its name (pure; unit-tested).
 */

export type ViewerKind = 'image' | 'markdown' | 'text' | 'table' | 'json' | 'html' | 'notebook' | 'none';

const BY_SUFFIX: Record<string, ViewerKind> = {
  png: 'image',
  jpg: 'image',
  jpeg: 'image',
  gif: 'image',
  webp: 'image',
  svg: 'image', // as an <img>: an SVG's scripts never run there
  md: 'markdown',
  markdown: 'markdown',
  csv: 'table',
  tsv: 'table',
  parquet: 'table',
  pq: 'table',
  json: 'json',
  html: 'html',
  htm: 'html',
  ipynb: 'notebook'
};

const TEXT = new Set([
  'txt',
  'log',
  'py',
  'yaml',
  'yml',
  'toml',
  'cfg',
  'ini',
  'sh',
  'r',
  'sql',
  'xml',
  'js',
  'ts',
  'jsonl',
  'ndjson',
  'diff',
  'patch',
  'rst',
  'tex',
  'err',
  'out'
]);

/** Names MLflow and mlnb write without a suffix that hold text. */
const TEXT_NAMES = new Set(['MLmodel', 'MLproject', 'LICENSE', 'README', 'requirements', 'Dockerfile']);

/**
 * The viewer for an artifact.
 *
 * @param path - the artifact's path.
 */
export function viewerKind(path: string): ViewerKind {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  if (dot <= 0) {
    return TEXT_NAMES.has(name) ? 'text' : 'none';
  }
  const suffix = name.slice(dot + 1).toLowerCase();
  return BY_SUFFIX[suffix] ?? (TEXT.has(suffix) ? 'text' : 'none');
}

/** Human size: "512 B", "1.5 KB", "3.2 MB". */
export function formatBytes(size: number | null | undefined): string {
  if (size === null || size === undefined || !Number.isFinite(size)) {
    return '';
  }
  if (size < 1024) {
    return `${size} B`;
  }
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = size / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
