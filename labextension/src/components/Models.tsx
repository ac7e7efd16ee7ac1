/**
 * The Models section: registered models, their versions, stages and aliases, with stage controls.
 * Moving a version to Production asks first, and archives the version that held it.
 */
import * as React from 'react';

import * as api from '../api';
import { confirmWarning } from '../dialogs';
import { reportFailure, useRequest } from '../hooks';
import { IModelVersion, IRegisteredModel, STAGES } from '../tokens';
import { EvaluationView, GateBadges, MonitoringTab } from './ModelHealth';

/** A model's aliases as [alias, version] pairs (the server sends a map or a list). */
export function aliasesOf(model: IRegisteredModel): Array<[string, string]> {
  const raw = model.aliases;
  if (!raw) {
    return [];
  }
  if (Array.isArray(raw)) {
    return raw.map(a => [a.alias, String(a.version)]);
  }
  return Object.entries(raw).map(([alias, version]) => [alias, String(version)]);
}

interface IVersionProps {
  name: string;
  version: IModelVersion;
  aliases: string[];
  production: IModelVersion | undefined;
  onChanged: () => void;
  onError: (message: string) => void;
  /** Why the registry may only be read (its controls are disabled), or null. */
  readOnly: string | null;
}

async function askMoveToProduction(props: IVersionProps): Promise<boolean> {
  const v = String(props.version.version);
  const holder = props.production;
  const current =
    holder && String(holder.version) !== v
      ? ` Version ${String(holder.version)} is in Production now and will be archived.`
      : '';
  const body = `Move ${props.name} version ${v} to Production?${current}`;
  return confirmWarning('Move to Production?', body, 'Move to Production');
}

function StageSelect(props: IVersionProps): JSX.Element {
  const { name, version } = props;
  const v = String(version.version);
  const changeStage = async (stage: string): Promise<void> => {
    if (stage === version.current_stage) {
      return;
    }
    const archive = stage === 'Production';
    if (archive && !(await askMoveToProduction(props))) {
      props.onChanged(); // reset the select
      return;
    }
    await reportFailure(() => api.transitionStage(name, v, stage, archive), props.onError);
    props.onChanged();
  };
  return (
    <select
      aria-label={`stage of version ${v}`}
      className="mlnb-stage-select"
      value={version.current_stage}
      disabled={props.readOnly !== null}
      title={props.readOnly ?? undefined}
      onChange={event => void changeStage(event.target.value)}
    >
      {STAGES.map(stage => (
        <option key={stage} value={stage}>
          {stage}
        </option>
      ))}
    </select>
  );
}

function AliasChip(props: {
  alias: string;
  name: string;
  onRemove: () => void;
  readOnly: string | null;
}): JSX.Element {
  const { alias, readOnly } = props;
  return (
    <span className="mlnb-chip">
      @{alias}
      <button
        className="mlnb-chip-x"
        title={readOnly ?? `remove alias ${alias}`}
        disabled={readOnly !== null}
        onClick={props.onRemove}
      >
        ×
      </button>
    </span>
  );
}

function Aliases(props: IVersionProps): JSX.Element {
  const { name } = props;
  const [alias, setAlias] = React.useState('');
  const addAlias = async (): Promise<void> => {
    if (!alias.trim()) {
      return;
    }
    await reportFailure(async () => {
      await api.setAlias(name, alias.trim(), String(props.version.version));
      setAlias('');
    }, props.onError);
    props.onChanged();
  };
  const removeAlias = async (a: string): Promise<void> => {
    if (!(await confirmWarning('Remove alias?', `Remove the alias "${a}" from ${name}?`, 'Remove'))) {
      return;
    }
    await reportFailure(() => api.deleteAlias(name, a), props.onError);
    props.onChanged();
  };
  return (
    <>
      {props.aliases.map(a => (
        <AliasChip
          key={a}
          alias={a}
          name={name}
          readOnly={props.readOnly}
          onRemove={() => void removeAlias(a)}
        />
      ))}
      <input
        className="mlnb-alias-input"
        placeholder="alias"
        value={alias}
        disabled={props.readOnly !== null}
        title={props.readOnly ?? undefined}
        onChange={event => setAlias(event.target.value)}
        onKeyDown={event => event.key === 'Enter' && void addAlias()}
      />
    </>
  );
}

function VersionRow(props: IVersionProps): JSX.Element {
  const { version, name } = props;
  const v = String(version.version);
  const [showEvaluation, setShowEvaluation] = React.useState(false);
  // The gate's verdict per guarded stage or alias, again after every change of the version.
  const evaluation = useRequest(
    () => api.getVersionEvaluation(name, v),
    [name, v, version.current_stage, props.aliases.join(',')]
  );
  const checks = evaluation.data?.checks ?? [];
  return (
    <>
      <tr className="mlnb-model-version" data-version={v}>
        <td>v{v}</td>
        <td>
          <StageSelect {...props} />
        </td>
        <td>
          <Aliases {...props} />
        </td>
        <td className="mlnb-muted">{version.run_id ? version.run_id.slice(0, 8) : ''}</td>
      </tr>
      {/* A row of its own, so the table stays as narrow as the sidebar. */}
      <tr className="mlnb-model-version-gate" data-version={v}>
        <td />
        <td colSpan={3}>
          <button
            className="mlnb-evaluation-toggle"
            title="the attached evaluation and the gate's verdict"
            onClick={() => setShowEvaluation(!showEvaluation)}
          >
            {showEvaluation ? '▾' : '▸'} evaluation
          </button>
          <GateBadges checks={checks} />
        </td>
      </tr>
      {showEvaluation && evaluation.data && (
        <tr className="mlnb-model-version-evaluation" data-version={v}>
          <td colSpan={4}>
            <EvaluationView evaluation={evaluation.data} />
          </td>
        </tr>
      )}
    </>
  );
}

function Versions(props: {
  model: IRegisteredModel;
  versions: IModelVersion[];
  onChanged: () => void;
  onError: (message: string) => void;
  readOnly: string | null;
}): JSX.Element {
  const { model, versions } = props;
  const aliases = aliasesOf(model);
  const production = versions.find(v => v.current_stage === 'Production');
  const sorted = [...versions].sort((a, b) => Number(b.version) - Number(a.version));
  return (
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
            onChanged={props.onChanged}
            onError={props.onError}
            readOnly={props.readOnly}
          />
        ))}
      </tbody>
    </table>
  );
}

function ModelEntry(props: {
  model: IRegisteredModel;
  onError: (m: string) => void;
  readOnly: string | null;
}): JSX.Element {
  const { onError } = props;
  const name = props.model.name;
  const [open, setOpen] = React.useState(false);
  // Loaded when opened (and after each change); kept when closed.
  const detail = useRequest(open ? () => api.getModel(name) : null, [open, name]);
  React.useEffect(() => {
    if (detail.error) {
      onError(detail.error);
    }
  }, [detail.error, onError]);

  const [tab, setTab] = React.useState<'versions' | 'monitoring'>('versions');
  const model = detail.data?.model ?? props.model;
  const summary = (model.latest_versions ?? []).map(v => `v${String(v.version)} ${v.current_stage}`);
  return (
    <div className="mlnb-model" data-model={model.name}>
      <div className="mlnb-model-head" onClick={() => setOpen(!open)}>
        <span>{open ? '▾ ' : '▸ '}</span>
        <span className="mlnb-model-name">{model.name}</span>
        <span className="mlnb-muted"> {summary.join(' · ')}</span>
      </div>
      {open && (
        <div className="mlnb-model-tabs">
          {(['versions', 'monitoring'] as const).map(t => (
            <button
              key={t}
              className={`mlnb-model-tab ${tab === t ? 'mlnb-model-tab-active' : ''}`}
              data-tab={t}
              onClick={() => setTab(t)}
            >
              {t === 'versions' ? 'Versions' : 'Monitoring'}
            </button>
          ))}
        </div>
      )}
      {open && tab === 'versions' && detail.data && (
        <Versions
          model={model}
          versions={detail.data.versions}
          onChanged={detail.reload}
          onError={onError}
          readOnly={props.readOnly}
        />
      )}
      {open && tab === 'monitoring' && <MonitoringTab name={name} onError={onError} />}
    </div>
  );
}

/**
 * The registered models; loaded again whenever `refreshKey` changes. With `readOnly` (why the
 * store may only be read), the stage and alias controls are shown disabled with it as tooltip.
 */
export function ModelsSection(props: { refreshKey: number; readOnly?: string | null }): JSX.Element {
  const readOnly = props.readOnly ?? null;
  const models = useRequest(() => api.listModels(), [props.refreshKey]);
  const [actionError, setActionError] = React.useState<string | null>(null);
  const error = actionError ?? models.error;
  const dismiss = (): void => {
    setActionError(null);
    models.clearError();
  };
  return (
    <div className="mlnb-models">
      {error && (
        <div className="mlnb-error" onClick={dismiss}>
          {error}
        </div>
      )}
      {models.data && models.data.length === 0 && <div className="mlnb-muted">No registered models yet.</div>}
      {(models.data ?? []).map(model => (
        <ModelEntry key={model.name} model={model} onError={setActionError} readOnly={readOnly} />
      ))}
    </div>
  );
}
