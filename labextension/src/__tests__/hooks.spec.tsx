/**
 * `useRequest` and `useSignal`, rendered with react-dom in jsdom.
 */
import { Signal } from '@lumino/signaling';
import * as React from 'react';
import { act } from 'react';
import { createRoot, Root } from 'react-dom/client';

import { IRequest, useRequest, useSignal } from '../hooks';
import { deferred } from './deferred';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let root: Root;
let container: HTMLElement;

beforeEach(() => {
  container = document.createElement('div');
  root = createRoot(container);
});

afterEach(() => {
  act(() => root.unmount());
});

interface IProbe {
  /** The hook's result at the last render. */
  latest: () => IRequest<string>;
  /** Render again with another key (the hook's dep). */
  rerender: (key: string) => void;
}

/** Render a component that calls `useRequest(() => load(key), [key])`. */
function renderRequest(load: ((key: string) => Promise<string>) | null, key: string): IProbe {
  let latest: IRequest<string> | null = null;
  function Probe(props: { k: string }): JSX.Element {
    const { k } = props;
    latest = useRequest(load ? () => load(k) : null, [k]);
    return <span>{latest.data ?? latest.error ?? 'loading'}</span>;
  }
  act(() => root.render(<Probe k={key} />));
  return {
    latest: () => {
      if (!latest) {
        throw new Error('not rendered');
      }
      return latest;
    },
    rerender: (k: string) => act(() => root.render(<Probe k={k} />))
  };
}

describe('useRequest', () => {
  it('gives the data once loaded', async () => {
    const load = jest.fn((k: string) => Promise.resolve(`data of ${k}`));
    const probe = renderRequest(load, 'a');
    await act(async () => undefined);
    expect(container.textContent).toBe('data of a');
    expect(probe.latest()).toMatchObject({ data: 'data of a', error: null });
    expect(load).toHaveBeenCalledTimes(1);
  });

  it("gives a failure's message", async () => {
    const probe = renderRequest(() => Promise.reject(new Error('no such run')), 'a');
    await act(async () => undefined);
    expect(probe.latest()).toMatchObject({ data: null, error: 'no such run' });
    act(() => probe.latest().clearError());
    expect(probe.latest().error).toBeNull();
  });

  it('loads again on reload and when the deps change, keeping the data meanwhile', async () => {
    const answers = [deferred<string>(), deferred<string>(), deferred<string>()];
    let calls = 0;
    const load = jest.fn((_key: string): Promise<string> => answers[calls++].promise);
    const probe = renderRequest(load, 'a');
    await act(async () => answers[0].resolve('first'));
    act(() => probe.latest().reload());
    expect(load).toHaveBeenCalledTimes(2);
    expect(container.textContent).toBe('first');
    await act(async () => answers[1].resolve('second'));
    expect(container.textContent).toBe('second');
    probe.rerender('b');
    expect(load).toHaveBeenCalledTimes(3);
    expect(load).toHaveBeenLastCalledWith('b');
  });

  it('drops an answer that a newer load overtook', async () => {
    const slow = deferred<string>();
    const fast = deferred<string>();
    const load = jest.fn((k: string) => (k === 'a' ? slow.promise : fast.promise));
    renderRequest(load, 'a').rerender('b');
    await act(async () => fast.resolve('for b'));
    await act(async () => slow.resolve('for a'));
    expect(container.textContent).toBe('for b');
  });

  it('loads nothing without a load function, and keeps the last data', async () => {
    const load = jest.fn(() => Promise.resolve('x'));
    renderRequest(null, 'a');
    await act(async () => undefined);
    expect(load).not.toHaveBeenCalled();
    expect(container.textContent).toBe('loading');
  });
});

describe('useSignal', () => {
  it('renders again on each emission, and stops after unmount', () => {
    const owner = {};
    const signal = new Signal<object, void>(owner);
    let count = 0;
    function Probe(): JSX.Element {
      useSignal(signal);
      count += 1;
      return <span>{count}</span>;
    }
    act(() => root.render(<Probe />));
    const afterMount = count;
    act(() => signal.emit());
    expect(count).toBe(afterMount + 1);
    act(() => root.render(<span />));
    act(() => signal.emit());
    expect(count).toBe(afterMount + 1);
  });
});
