/**
 * The Logged models section: MLflow 3's logged models of the chosen experiment (name, id, source
 * run if any, status, created, params and its run's metrics). Opening one shows its page: its
 * files (folders browsable) and the registered versions made from it. Every user value is React
 * text (escaped by React).
 */
import * as React from 'react';

import * as api from '../api';
import { useRequest } from '../hooks';
import { formatValue, ILoggedModel } from '../tokens';

/** `key=value` pairs of a record, sorted by key, for one table cell. */
export function pairs(record: Record<string, unknown>): string {
  return Object.entries(record)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${formatValue(v as string)}`)
    .join(', ');
}

function ModelFiles(props: { modelId: string }): JSX.Element {
  const { modelId } = props;
  const [folder, setFolder] = React.useState('');
  const files = useRequest(() => api.listLoggedModelFiles(modelId, folder), [modelId, folder]);
  const up = folder.includes('/') ? folder.slice(0, folder.lastIndexOf('/')) : '';
  return (
    <div className="mlnb-logged-model-files">
      <h4>Files{folder ? ` / ${folder}` : ''}</h4>
      {files.error && <div className="mlnb-error">{files.error}</div>}
      <ul className="mlnb-files">
        {folder && (
          <li>
            <a onClick={() => setFolder(up)}>..</a>
          </li>
        )}
        {(files.data ?? []).map(file => (
          <li key={file.path} className="mlnb-file" data-path={file.path}>
            {file.is_dir ? (
              <a onClick={() => setFolder(file.path)}>📁 {file.path.slice(folder ? folder.length + 1 : 0)}</a>
            ) : (
              <span>{file.path.slice(folder ? folder.length + 1 : 0)}</span>
            )}
            {!file.is_dir && <span className="mlnb-muted"> {file.file_size ?? 0} B</span>}
          </li>
        ))}
        {files.data && files.data.length === 0 && <li className="mlnb-muted">no files</li>}
      </ul>
    </div>
  );
}

function ModelPage(props: { model: ILoggedModel }): JSX.Element {
  const { model } = props;
  const detail = useRequest(() => api.getLoggedModel(model.model_id), [model.model_id]);
  const versions = detail.data?.versions ?? [];
  return (
    <div className="mlnb-logged-model-page" data-model-id={model.model_id}>
      <div className="mlnb-muted mlnb-logged-model-uri">{model.model_uri}</div>
      {model.model_type && <div className="mlnb-muted">type: {model.model_type}</div>}
      {Object.keys(model.tags).length > 0 && <div className="mlnb-muted">tags: {pairs(model.tags)}</div>}
      <ModelFiles modelId={model.model_id} />
      <h4>Registered versions</h4>
      {detail.error && <div className="mlnb-error">{detail.error}</div>}
      {detail.data && versions.length === 0 && <div className="mlnb-muted">not registered</div>}
      <ul className="mlnb-logged-model-versions">
        {versions.map(v => (
          <li key={`${v.name}/${String(v.version)}`}>
            {v.name} v{String(v.version)} · {v.current_stage}
          </li>
        ))}
      </ul>
    </div>
  );
}

function ModelRow(props: { model: ILoggedModel; open: boolean; onToggle: () => void }): JSX.Element {
  const { model, open } = props;
  return (
    <>
      <tr className="mlnb-logged-model" data-model-id={model.model_id} onClick={props.onToggle}>
        <td className="mlnb-logged-model-name">
          {open ? '▾ ' : '▸ '}
          {model.name}
        </td>
        <td className="mlnb-muted" title={model.model_id}>
          {model.model_id.slice(0, 10)}
        </td>
        <td className="mlnb-muted" title={model.source_run_id ?? 'no run'}>
          {model.source_run_id ? model.source_run_id.slice(0, 8) : '—'}
        </td>
        <td className={`mlnb-logged-model-status mlnb-status-${model.status.toLowerCase()}`}>
          {model.status}
        </td>
        <td className="mlnb-muted">{new Date(model.creation_timestamp).toLocaleString()}</td>
        <td className="mlnb-logged-model-params">{pairs(model.params)}</td>
        <td className="mlnb-logged-model-metrics">{pairs(model.metrics)}</td>
      </tr>
      {open && (
        <tr>
          <td colSpan={7}>
            <ModelPage model={model} />
          </td>
        </tr>
      )}
    </>
  );
}

/** The logged models of `experimentId` ('' for every experiment); reloaded when `refreshKey` changes. */
export function LoggedModelsSection(props: { experimentId: string; refreshKey: number }): JSX.Element {
  const models = useRequest(
    () => api.listLoggedModels(props.experimentId),
    [props.experimentId, props.refreshKey]
  );
  const [open, setOpen] = React.useState<string | null>(null);
  return (
    <div className="mlnb-logged-models">
      {models.error && <div className="mlnb-error">{models.error}</div>}
      {models.data && models.data.length === 0 && <div className="mlnb-muted">No logged models yet.</div>}
      {models.data && models.data.length > 0 && (
        <table className="mlnb-logged-models-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Model id</th>
              <th>Run</th>
              <th>Status</th>
              <th>Created</th>
              <th>Params</th>
              <th>Metrics</th>
            </tr>
          </thead>
          <tbody>
            {models.data.map(model => (
              <ModelRow
                key={model.model_id}
                model={model}
                open={open === model.model_id}
                onToggle={() => setOpen(open === model.model_id ? null : model.model_id)}
              />
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
