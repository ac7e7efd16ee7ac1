/**
 * The Models section: registered models, their versions, stages and aliases, with stage controls.
 * Moving a version to Production asks first, and archives the version that held it.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import * as React from 'react';

import * as api from '../api';
import { IModelVersion, IRegisteredModel, STAGES } from '../tokens';

async function confirm(title: string, body: string, label: string): Promise<boolean> {
  const result = await showDialog({
    title,
    body,
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label })]
  });
  return result.button.accept;
}

function aliasesOf(model: IRegisteredModel): Array<[string, string]> {
  const raw = model.aliases;
  if (!raw) {
    return [];
  }
  if (Array.isArray(raw)) {
    return raw.map(a => [a.alias, String(a.version)]);
  }
  return Object.entries(raw).map(([alias, version]) => [alias, String(version)]);
}

function VersionRow(props: {
  name: string;
  version: IModelVersion;
  aliases: string[];
  production: IModelVersion | undefined;
  onChanged: () => void;
  onError: (message: string) => void;
}): JSX.Element {
  const { name, version } = props;
  const [alias, setAlias] = React.useState('');
  const v = String(version.version);

  const changeStage = async (stage: string): Promise<void> => {
    if (stage === version.current_stage) {
      return;
    }
    const archive = stage === 'Production';
    if (archive) {
      const current = props.production && String(props.production.version) !== v
        ? ` Version ${String(props.production.version)} is in Production now and will be archived.`
        : '';
      if (!(await confirm('Move to Production?', `Move ${name} version ${v} to Production?${current}`,
        'Move to Production'))) {
        props.onChanged(); // reset the select
        return;
      }
    }
    try {
      await api.transitionStage(name, v, stage, archive);
    } catch (error) {
      props.onError((error as Error).message);
    }
    props.onChanged();
  };

  const addAlias = async (): Promise<void> => {
    if (!alias.trim()) {
      return;
    }
    try {
      await api.setAlias(name, alias.trim(), v);
      setAlias('');
    } catch (error) {
      props.onError((error as Error).message);
    }
    props.onChanged();
  };

  const removeAlias = async (a: string): Promise<void> => {
    if (!(await confirm('Remove alias?', `Remove the alias "${a}" from ${name}?`, 'Remove'))) {
      return;
    }
    try {
      await api.deleteAlias(name, a);
    } catch (error) {
      props.onError((error as Error).message);
    }
    props.onChanged();
  };

  return (
    <tr className="mlnb-model-version" data-version={v}>
      <td>v{v}</td>
      <td>
        <select
          aria-label={`stage of version ${v}`}
          className="mlnb-stage-select"
          value={version.current_stage}
          onChange={event => void changeStage(event.target.value)}
        >
          {STAGES.map(stage => (
            <option key={stage} value={stage}>
              {stage}
            </option>
          ))}
        </select>
      </td>
      <td>
        {props.aliases.map(a => (
          <span key={a} className="mlnb-chip">
            @{a}
            <button className="mlnb-chip-x" title={`remove alias ${a}`} onClick={() => void removeAlias(a)}>
              ×
            </button>
          </span>
        ))}
        <input
          className="mlnb-alias-input"
          placeholder="alias"
          value={alias}
          onChange={event => setAlias(event.target.value)}
          onKeyDown={event => event.key === 'Enter' && void addAlias()}
        />
      </td>
      <td className="mlnb-muted">{version.run_id ? version.run_id.slice(0, 8) : ''}</td>
    </tr>
  );
}

function ModelEntry(props: { model: IRegisteredModel; onError: (m: string) => void }): JSX.Element {
  const [open, setOpen] = React.useState(false);
  const [versions, setVersions] = React.useState<IModelVersion[] | null>(null);
  const [model, setModel] = React.useState(props.model);

  const load = React.useCallback(async () => {
    try {
      const detail = await api.getModel(props.model.name);
      setModel(detail.model);
      setVersions(detail.versions);
    } catch (error) {
      props.onError((error as Error).message);
    }
  }, [props.model.name]);

  React.useEffect(() => {
    if (open) {
      void load();
    }
  }, [open, load]);

  const aliases = aliasesOf(model);
  const production = versions?.find(v => v.current_stage === 'Production');
  const sorted = [...(versions ?? [])].sort((a, b) => Number(b.version) - Number(a.version));
  return (
    <div className="mlnb-model" data-model={model.name}>
      <div className="mlnb-model-head" onClick={() => setOpen(!open)}>
        <span>{open ? '▾ ' : '▸ '}</span>
        <span className="mlnb-model-name">{model.name}</span>
        <span className="mlnb-muted">
          {' '}
          {(model.latest_versions ?? []).map(v => `v${String(v.version)} ${v.current_stage}`).join(' · ')}
        </span>
      </div>
      {open && versions && (
        <table className="mlnb-versions">
          <thead>
            <tr>
              <th>Version</th>
              <th>Stage</th>
              <th>Aliases</th>
              <th>Run</th>
            </tr>
          </thead>
          <tbody>
            {sorted.map(version => (
              <VersionRow
                key={String(version.version)}
                name={model.name}
                version={version}
                aliases={aliases.filter(([, v]) => v === String(version.version)).map(([a]) => a)}
                production={production}
                onChanged={() => void load()}
                onError={props.onError}
              />
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

export function ModelsSection(props: { refreshKey: number }): JSX.Element {
  const [models, setModels] = React.useState<IRegisteredModel[] | null>(null);
  const [error, setError] = React.useState<string | null>(null);

  React.useEffect(() => {
    api.listModels().then(setModels, e => setError((e as Error).message));
  }, [props.refreshKey]);

  return (
    <div className="mlnb-models">
      {error && (
        <div className="mlnb-error" onClick={() => setError(null)}>
          {error}
        </div>
      )}
      {models && models.length === 0 && <div className="mlnb-muted">No registered models yet.</div>}
      {(models ?? []).map(model => (
        <ModelEntry key={model.name} model={model} onError={setError} />
      ))}
    </div>
  );
}
