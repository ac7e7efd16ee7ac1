/**
 * What a prompt version says about calling a model: its model configuration (a key/value table)
 * and the response format it expects (JSON text). Every value is React text, never HTML.
 */
import * as React from 'react';

import { IPromptVersion } from '../genai';
import { KeyValueTable } from './KeyValueTable';

/** A model-config value as text: text as it is, anything else as JSON. */
export function settingText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The model configuration and response format of a version; nothing when it has neither. */
export function PromptSettings(props: {
  version: Pick<IPromptVersion, 'version' | 'model_config' | 'response_format'>;
}): JSX.Element | null {
  const { model_config: config, response_format: format } = props.version;
  if (!config && !format) {
    return null;
  }
  return (
    <div className="mlnb-prompt-settings" data-version={props.version.version}>
      {config && (
        <div className="mlnb-prompt-model-config">
          <div className="mlnb-prompt-settings-title">Model config (v{props.version.version})</div>
          <KeyValueTable entries={Object.entries(config).map(([k, v]) => [k, settingText(v)])} />
        </div>
      )}
      {format && (
        <div className="mlnb-prompt-response-format">
          <div className="mlnb-prompt-settings-title">Response format (v{props.version.version})</div>
          <pre className="mlnb-prompt-json">{JSON.stringify(format, null, 2)}</pre>
        </div>
      )}
    </div>
  );
}
