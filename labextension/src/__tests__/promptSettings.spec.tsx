/**
 * A prompt version's model configuration (key/value table) and response format (JSON text),
 * rendered with react-dom: hostile strings stay text, non-text values are shown as JSON, and a
 * version with neither shows nothing.
 */
import * as React from 'react';
import { act } from 'react';
import { createRoot, Root } from 'react-dom/client';

import { PromptSettings, settingText } from '../components/PromptSettings';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const XSS = '<img src=x onerror=window.__xss=1>';

describe('PromptSettings', () => {
  let container: HTMLElement;
  let root: Root;
  beforeEach(() => {
    container = document.createElement('div');
    document.body.appendChild(container);
    root = createRoot(container);
  });
  afterEach(() => {
    act(() => root.unmount());
    container.remove();
  });

  it('shows the model config as rows and the response format as JSON, all as text', () => {
    const version = {
      version: 3,
      model_config: { model_name: XSS, temperature: 0.2, stop_sequences: ['END'], extra: { a: 1 } },
      response_format: { title: XSS, type: 'object' }
    };
    act(() => root.render(<PromptSettings version={version} />));
    expect(container.querySelectorAll('img, script')).toHaveLength(0);
    const rows = Array.from(container.querySelectorAll('.mlnb-prompt-model-config tr')).map(tr => [
      tr.querySelector('th')?.textContent,
      tr.querySelector('td')?.textContent
    ]);
    expect(rows).toEqual([
      ['model_name', XSS],
      ['temperature', '0.2'],
      ['stop_sequences', '["END"]'],
      ['extra', '{"a":1}']
    ]);
    const json = container.querySelector('.mlnb-prompt-response-format pre')?.textContent ?? '';
    expect(JSON.parse(json)).toEqual({ title: XSS, type: 'object' });
    expect(container.textContent).toContain('Model config (v3)');
  });

  it('shows only what the version has', () => {
    act(() =>
      root.render(<PromptSettings version={{ version: 1, model_config: null, response_format: { a: 1 } }} />)
    );
    expect(container.querySelector('.mlnb-prompt-model-config')).toBeNull();
    expect(container.querySelector('.mlnb-prompt-response-format')).not.toBeNull();
    act(() =>
      root.render(<PromptSettings version={{ version: 1, model_config: null, response_format: null }} />)
    );
    expect(container.innerHTML).toBe('');
    expect(settingText('x')).toBe('x');
    expect(settingText(null)).toBe('null');
  });
});
