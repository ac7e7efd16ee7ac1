/**
 * The version handshake: the sidebar and the server extension must speak the same API version.
 */
import { ApiError, errorMessage, getVersion } from './api';
import { API_VERSION } from './tokens';

/** What the handshake found. */
export interface IHandshake {
  /** The server's store (shown as the panel title's tooltip); '' until known. */
  storeUri: string;
  /** Why the sidebar cannot work with this server (shown instead of the panel), or null. */
  problem: string | null;
  /**
   * Why the store may only be read (a PostgreSQL reader role): write actions are shown disabled
   * with this as their tooltip; null when the user may write (or it is not known yet).
   */
  readOnly: string | null;
}

function unreachable(error: unknown): string {
  if (error instanceof ApiError && error.status === 404) {
    return (
      'The mlnb server extension is not running in this Jupyter server. Install mlnb in the ' +
      "server's environment (pip install mlnb) and restart JupyterLab; `jupyter server extension list` " +
      'should show mlnb enabled.'
    );
  }
  return `Cannot reach the mlnb server extension: ${errorMessage(error)}`;
}

/** Ask the server for its version; never rejects (a failure is a `problem`). */
export async function checkHandshake(): Promise<IHandshake> {
  let version;
  try {
    version = await getVersion();
  } catch (error) {
    return { storeUri: '', problem: unreachable(error), readOnly: null };
  }
  if (version.api_version !== API_VERSION) {
    const problem =
      `This sidebar speaks mlnb API ${API_VERSION}, but the server extension (mlnb ` +
      `${version.mlnb_version}) speaks API ${version.api_version}. Reinstall mlnb so both ` +
      'come from the same version, then restart JupyterLab and reload the page.';
    return { storeUri: '', problem, readOnly: null };
  }
  const readOnly =
    version.can_write === false
      ? (version.read_only_reason ?? 'Your access to this store is read-only.')
      : null;
  return { storeUri: version.store, problem: null, readOnly };
}
