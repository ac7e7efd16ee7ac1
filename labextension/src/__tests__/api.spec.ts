/**
 * The API client against a fake `fetch` behind the real `ServerConnection.makeRequest`: URLs,
 * methods, JSON bodies, headers, and `ApiError` on error answers.
 */
import { ServerConnection } from '@jupyterlab/services';

import * as api from '../api';
import { ApiError } from '../api';

const BASE = 'http://localhost:8888/lab-base/';
const API = `${BASE}mlnb/api`;

type Answer = Response | Error;

/** Settings whose fetch records each request and gives the next answer (200 `{}` by default). */
function fakeServer(...answers: Answer[]): { settings: ServerConnection.ISettings; requests: Request[] } {
  const requests: Request[] = [];
  const fetch = async (input: RequestInfo | URL): Promise<Response> => {
    requests.push(input as Request);
    const answer = answers.shift() ?? json({});
    if (answer instanceof Error) {
      throw answer;
    }
    return answer;
  };
  const settings = ServerConnection.makeSettings({
    baseUrl: BASE,
    token: 'secret-token',
    fetch,
    init: { credentials: 'same-origin' } // no cache-busting suffix, so URLs compare exactly
  });
  return { settings, requests };
}

function json(body: unknown, status = 200, statusText = 'OK'): Response {
  return new Response(JSON.stringify(body), {
    status,
    statusText,
    headers: { 'Content-Type': 'application/json' }
  });
}

async function bodyOf(request: Request): Promise<unknown> {
  return JSON.parse(await request.text());
}

describe('GET endpoints', () => {
  it('asks for the version with the token and a JSON content type', async () => {
    const version = { mlnb_version: '0.1.0', api_version: 1, store: 'sqlite:///x.db' };
    const { settings, requests } = fakeServer(json(version));
    await expect(api.getVersion(settings)).resolves.toEqual(version);
    expect(requests).toHaveLength(1);
    expect(requests[0].method).toBe('GET');
    expect(requests[0].url).toBe(`${API}/version`);
    expect(requests[0].headers.get('Authorization')).toBe('token secret-token');
    expect(requests[0].headers.get('Content-Type')).toBe('application/json');
    expect(await requests[0].text()).toBe('');
  });

  it('puts the run query in the query string, encoded, leaving out an empty filter', async () => {
    const page = { runs: [], total: 0, limit: 50, offset: 100, metric_keys: [], param_keys: [] };
    const { settings, requests } = fakeServer(json(page), json(page));
    const query = {
      experimentId: '7',
      filter: "params.tag = 'a&b#c=d' and metrics.acc > 0.9",
      orderBy: 'metrics.`val acc` DESC',
      view: 'deleted' as const,
      limit: 50
    };
    await expect(api.listRuns(query, 100, settings)).resolves.toEqual(page);
    await api.listRuns({ ...query, experimentId: '', filter: '' }, 0, settings);
    const [first, second] = requests.map(r => new URL(r.url));
    expect(first.origin + first.pathname).toBe(`${API}/runs`);
    expect([...first.searchParams]).toEqual([
      ['experiment_id', '7'],
      ['filter', query.filter],
      ['order_by', query.orderBy],
      ['view', 'deleted'],
      ['limit', '50'],
      ['offset', '100']
    ]);
    expect([...second.searchParams.keys()]).toEqual(['order_by', 'view', 'limit', 'offset']);
    expect(second.searchParams.get('offset')).toBe('0');
  });

  it('repeats run_id and key for metric histories, asks for columns and turns them into points', async () => {
    const histories = {
      a: {
        loss: { step: [0, 5], timestamp: [1, 2], value: ['NaN', 0.5] },
        acc: { step: [], timestamp: [], value: [] }
      },
      b: {}
    };
    const { settings, requests } = fakeServer(json({ histories }));
    await expect(api.metricHistories(['a', 'b'], ['loss', 'acc'], 500, settings)).resolves.toEqual({
      a: {
        loss: [
          { step: 0, value: 'NaN', timestamp: 1 },
          { step: 5, value: 0.5, timestamp: 2 }
        ],
        acc: []
      },
      b: {}
    });
    expect(requests[0].url).toBe(
      `${API}/metric-histories?run_id=a&run_id=b&key=loss&key=acc&max_points=500&columns=1`
    );
  });

  it('unwraps the experiment, model and artifact lists', async () => {
    const { settings, requests } = fakeServer(
      json({ experiments: [{ experiment_id: '1' }] }),
      json({ models: [{ name: 'm' }] }),
      json({ files: [{ path: 'dir/a b.txt', is_dir: false }] })
    );
    await expect(api.listExperiments(settings)).resolves.toEqual([{ experiment_id: '1' }]);
    await expect(api.listModels(settings)).resolves.toEqual([{ name: 'm' }]);
    await expect(api.listArtifacts('r/1', 'dir', settings)).resolves.toEqual([
      { path: 'dir/a b.txt', is_dir: false }
    ]);
    expect(requests.map(r => r.url)).toEqual([
      `${API}/experiments`,
      `${API}/models`,
      `${API}/runs/r%2F1/artifacts?path=dir`
    ]);
  });

  it('encodes path segments of runs and models', async () => {
    const { settings, requests } = fakeServer();
    await api.getRun('a/b c', settings);
    await api.getModel('my model/v?', settings);
    expect(requests.map(r => r.url)).toEqual([`${API}/runs/a%2Fb%20c`, `${API}/models/my%20model%2Fv%3F`]);
  });

  it('returns an artifact as a blob of its bytes', async () => {
    const bytes = new Response('a,b\n1,2\n', { status: 200 });
    const { settings, requests } = fakeServer(bytes);
    const blob = await api.fetchArtifact('r1', 'data/table.csv', settings);
    expect(await blob.text()).toBe('a,b\n1,2\n');
    expect(requests[0].url).toBe(`${API}/runs/r1/artifact?path=data%2Ftable.csv`);
  });
});

describe('writes', () => {
  it('deletes and restores runs with the right methods and a JSON body', async () => {
    const { settings, requests } = fakeServer();
    await api.deleteRun('r1', settings);
    await api.restoreRun('r1', settings);
    expect(requests.map(r => `${r.method} ${r.url}`)).toEqual([
      `DELETE ${API}/runs/r1`,
      `POST ${API}/runs/r1/restore`
    ]);
    expect(await bodyOf(requests[0])).toEqual({});
    expect(await bodyOf(requests[1])).toEqual({});
  });

  it('sends the stage transition and alias bodies', async () => {
    const { settings, requests } = fakeServer();
    await api.transitionStage('m 1', '3', 'Production', true, settings);
    await api.setAlias('m 1', 'champ ion', '3', settings);
    await api.deleteAlias('m 1', 'champ ion', settings);
    expect(requests.map(r => `${r.method} ${r.url}`)).toEqual([
      `POST ${API}/models/m%201/versions/3/stage`,
      `PUT ${API}/models/m%201/aliases/champ%20ion`,
      `DELETE ${API}/models/m%201/aliases/champ%20ion`
    ]);
    expect(await bodyOf(requests[0])).toEqual({ stage: 'Production', archive_existing_versions: true });
    expect(await bodyOf(requests[1])).toEqual({ version: '3' });
    expect(requests[1].headers.get('Content-Type')).toBe('application/json');
  });
});

describe('errors', () => {
  it("throw ApiError with the error body's code and message", async () => {
    const body = { error_code: 'INVALID_PARAMETER_VALUE', message: 'metrics.acc >>> 1\n            ^' };
    const { settings } = fakeServer(json(body, 400, 'Bad Request'));
    const error = await api.getRun('r1', settings).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 400,
      errorCode: 'INVALID_PARAMETER_VALUE',
      message: body.message
    });
  });

  it('throw ApiError with HTTP_<status> and the status text when the body is not JSON', async () => {
    const page = new Response('<html>404: Not Found</html>', { status: 404, statusText: 'Not Found' });
    const { settings } = fakeServer(page);
    await expect(api.getVersion(settings)).rejects.toMatchObject({
      status: 404,
      errorCode: 'HTTP_404',
      message: 'Not Found'
    });
  });

  it('throw ApiError with status 0 when the server does not answer', async () => {
    const { settings } = fakeServer(new TypeError('Failed to fetch'));
    const error = await api.listModels(settings).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 0, errorCode: 'NETWORK_ERROR' });
    expect((error as ApiError).message).toMatch(/^The Jupyter server did not answer: .*Failed to fetch/);
  });

  it('errorMessage gives the message of an Error and the text of anything else', () => {
    expect(api.errorMessage(new ApiError(500, 'X', 'boom'))).toBe('boom');
    expect(api.errorMessage('plain')).toBe('plain');
  });
});

describe('default settings', () => {
  it('are made on first use, not when the module loads, and then kept', () => {
    jest.isolateModules(() => {
      const services = jest.requireActual<typeof import('@jupyterlab/services')>('@jupyterlab/services');
      const makeSettings = jest.spyOn(services.ServerConnection, 'makeSettings');
      const fresh = jest.requireActual<typeof api>('../api');
      expect(makeSettings).not.toHaveBeenCalled();
      const first = fresh.serverSettings();
      expect(fresh.serverSettings()).toBe(first);
      expect(makeSettings).toHaveBeenCalledTimes(1);
    });
  });

  it('are used when no settings are passed', async () => {
    const { settings, requests } = fakeServer(json({ models: [] }));
    let pending: Promise<unknown> = Promise.resolve();
    jest.isolateModules(() => {
      const services = jest.requireActual<typeof import('@jupyterlab/services')>('@jupyterlab/services');
      jest.spyOn(services.ServerConnection, 'makeSettings').mockReturnValue(settings);
      const fresh = jest.requireActual<typeof api>('../api');
      pending = fresh.listModels();
    });
    await expect(pending).resolves.toEqual([]);
    expect(requests.map(r => r.url)).toEqual([`${API}/models`]);
  });
});
