/**
 * Which notebook the run page shows as "the run's notebook": the snapshot `%%track` kept with
 * the run (`notebook/<name>.ipynb`, the notebook as it was when the run ended, with the cell's
 * executed source), else the file on disk as it is now. Pure choice and loading with the REST
 * calls passed in (unit-tested).
 */
import { IFileInfo } from '../tokens';

/** The artifact folder the snapshot is kept in (mlnb.capture.notebook_snapshot.FOLDER). */
export const SNAPSHOT_FOLDER = 'notebook';

/** What the snapshot's `metadata.mlnb.snapshot` says about itself. */
export interface ISnapshotInfo {
  savedAt: string | null;
  cellId: string | null;
  cellFound: boolean;
  /** True: the saved file held the executed source; false: an older one, replaced; null: unknown. */
  sourceMatched: boolean | null;
  /** Why the outputs were left out (over the size cap), or null. */
  outputsDropped: string | null;
}

/** The notebook shown, and where it came from. */
export interface IRunNotebook {
  origin: 'snapshot' | 'disk';
  /** The artifact path (snapshot) or the notebook's path on the server (disk). */
  path: string;
  content: unknown;
  snapshot: ISnapshotInfo | null;
}

/** The REST calls the loader needs (the run page passes the real ones). */
export interface INotebookSources {
  listArtifacts: (runId: string, folder: string) => Promise<IFileInfo[]>;
  artifactText: (runId: string, path: string) => Promise<string>;
  diskNotebook: (path: string) => Promise<unknown>;
}

function baseName(path: string): string {
  return path.replace(/\\/g, '/').split('/').pop() ?? path;
}

/**
 * The snapshot among a run's `notebook/` artifacts: the one named as the run's notebook, else the
 * only notebook there; null when there is none (or several, none of them named so).
 *
 * @param files - the listing of the run's `notebook/` folder.
 * @param notebookPath - the run's notebook path (`mlnb.notebook.path`), if recorded.
 */
export function chooseSnapshot(files: IFileInfo[], notebookPath: string | null): IFileInfo | null {
  const notebooks = files.filter(f => !f.is_dir && f.path.endsWith('.ipynb'));
  if (notebookPath) {
    const named = notebooks.find(f => f.path === `${SNAPSHOT_FOLDER}/${baseName(notebookPath)}`);
    if (named) {
      return named;
    }
  }
  return notebooks.length === 1 ? notebooks[0] : null;
}

/**
 * The `mlnb.snapshot` record of a snapshot notebook's metadata, or null.
 *
 * @param content - the notebook's parsed JSON.
 */
export function snapshotInfo(content: unknown): ISnapshotInfo | null {
  const meta = (content as { metadata?: { mlnb?: { snapshot?: Record<string, unknown> } } } | null)?.metadata
    ?.mlnb?.snapshot;
  if (!meta || typeof meta !== 'object') {
    return null;
  }
  const text = (v: unknown): string | null => (typeof v === 'string' && v ? v : null);
  return {
    savedAt: text(meta.saved_at),
    cellId: text(meta.cell_id),
    cellFound: meta.cell_found === true,
    sourceMatched: typeof meta.source_matched === 'boolean' ? meta.source_matched : null,
    outputsDropped: text(meta.outputs_dropped)
  };
}

/**
 * The run's notebook: its snapshot when the run has one (read whole), else the file on disk.
 * A snapshot that cannot be read falls back to the disk file too.
 *
 * @param runId - the run.
 * @param notebookPath - the run's notebook path, if recorded (needed for the disk file).
 * @param sources - the REST calls.
 * @param maxBytes - the largest snapshot fetched to be shown.
 * @throws {Error} when neither can be read (the disk file's error).
 */
export async function loadRunNotebook(
  runId: string,
  notebookPath: string | null,
  sources: INotebookSources,
  maxBytes: number
): Promise<IRunNotebook> {
  // No such folder, or the listing failed: the disk file is what is left.
  const listed = await sources.listArtifacts(runId, SNAPSHOT_FOLDER).catch((): IFileInfo[] => []);
  const chosen = chooseSnapshot(listed, notebookPath);
  if (chosen && (chosen.file_size ?? 0) <= maxBytes) {
    try {
      const content: unknown = JSON.parse(await sources.artifactText(runId, chosen.path));
      return { origin: 'snapshot', path: chosen.path, content, snapshot: snapshotInfo(content) };
    } catch {
      // unreadable: fall back to the disk file below
    }
  }
  if (!notebookPath) {
    throw new Error(
      chosen
        ? `The notebook snapshot ${chosen.path} could not be shown; download it from the artifacts.`
        : 'The run recorded no notebook.'
    );
  }
  return {
    origin: 'disk',
    path: notebookPath,
    content: await sources.diskNotebook(notebookPath),
    snapshot: null
  };
}

/**
 * The line above the rendered notebook, saying which version it is.
 *
 * @param notebook - what was loaded.
 */
export function notebookCaption(notebook: IRunNotebook): string {
  if (notebook.origin === 'disk') {
    return `${notebook.path} as it is on disk now, not a copy kept with the run: it may have changed since the run (the run recorded its cell's source above).`;
  }
  const info = notebook.snapshot;
  const parts = [`${notebook.path}: the notebook as it was when the run ended`];
  if (info?.savedAt) {
    parts[0] += ` (kept ${info.savedAt})`;
  }
  if (info?.cellFound && info.sourceMatched === false) {
    parts.push("the run's cell shows the source that ran; the saved file held an older version");
  } else if (info && !info.cellFound) {
    parts.push("the run's cell was not in the saved file");
  }
  if (info?.outputsDropped) {
    parts.push(`outputs left out: ${info.outputsDropped}`);
  }
  return parts.join('; ') + '.';
}
