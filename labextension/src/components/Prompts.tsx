/**
 * The Prompts section of the registry: prompts, their versions (commit message, tags, aliases),
 * alias controls (set, move, remove, each error shown), and a diff between two chosen versions
 * with the second's model configuration and response format.
 * Every string is React text.
 */
import * as React from 'react';

import { confirmWarning } from '../dialogs';
import * as genai from '../genai';
import { reportFailure, useRequest } from '../hooks';
import { IPromptVersion } from '../genai';
import { Template } from '../textdiff';
import { PromptSettings } from './PromptSettings';
import { TemplateDiffView } from './TextDiff';

/** A template as plain text (a chat template as "role: content" lines). */
export function templateText(template: Template): string {
  return typeof template === 'string' ? template : template.map(m => `${m.role}: ${m.content}`).join('\n');
}

interface IVersionsProps {
  name: string;
  versions: IPromptVersion[];
  onChanged: () => void;
  onError: (message: string) => void;
  readOnly: string | null;
}

function AliasControls(props: IVersionsProps & { version: IPromptVersion }): JSX.Element {
  const { name, version, readOnly } = props;
  const [alias, setAlias] = React.useState('');
  const addAlias = async (): Promise<void> => {
    const wanted = alias.trim();
    if (!wanted) {
      return;
    }
    const holder = props.versions.find(v => v.version !== version.version && v.aliases.includes(wanted));
    if (
      holder &&
      !(await confirmWarning(
        'Move alias?',
        `Move ${name}@${wanted} from version ${holder.version} to version ${version.version}?`,
        'Move'
      ))
    ) {
      return;
    }
    await reportFailure(async () => {
      await genai.setPromptAlias(name, wanted, version.version);
      setAlias('');
    }, props.onError);
    props.onChanged();
  };
  const removeAlias = async (a: string): Promise<void> => {
    if (!(await confirmWarning('Remove alias?', `Remove the alias "${a}" from ${name}?`, 'Remove'))) {
      return;
    }
    await reportFailure(() => genai.deletePromptAlias(name, a), props.onError);
    props.onChanged();
  };
  return (
    <span className="mlnb-prompt-aliases">
      {version.aliases.map(a => (
        <span key={a} className="mlnb-chip" data-alias={a}>
          @{a}
          <button
            className="mlnb-chip-x"
            aria-label={`remove alias ${a}`}
            title={readOnly ?? `remove alias ${a}`}
            disabled={readOnly !== null}
            onClick={() => void removeAlias(a)}
          >
            ×
          </button>
        </span>
      ))}
      <input
        className="mlnb-alias-input"
        aria-label={`alias for version ${version.version}`}
        placeholder="alias"
        value={alias}
        disabled={readOnly !== null}
        title={readOnly ?? 'set or move an alias to this version (Enter)'}
        onChange={event => setAlias(event.target.value)}
        onKeyDown={event => event.key === 'Enter' && void addAlias()}
      />
      <button
        className="mlnb-alias-set"
        disabled={readOnly !== null || !alias.trim()}
        title={readOnly ?? undefined}
        onClick={() => void addAlias()}
      >
        set
      </button>
    </span>
  );
}

function VersionRows(
  props: IVersionsProps & { left: number; right: number; choose: (side: 'left' | 'right', v: number) => void }
): JSX.Element {
  const { name, versions } = props;
  return (
    <table className="mlnb-versions mlnb-prompt-versions">
      <thead>
        <tr>
          <th title="diff from">A</th>
          <th title="diff to">B</th>
          <th>Version</th>
          <th>Commit message · aliases</th>
        </tr>
      </thead>
      <tbody>
        {versions.map(version => (
          <tr key={version.version} className="mlnb-prompt-version" data-version={version.version}>
            <td>
              <input
                type="radio"
                name={`mlnb-prompt-${name}-left`}
                aria-label={`diff from version ${version.version}`}
                checked={props.left === version.version}
                onChange={() => props.choose('left', version.version)}
              />
            </td>
            <td>
              <input
                type="radio"
                name={`mlnb-prompt-${name}-right`}
                aria-label={`diff to version ${version.version}`}
                checked={props.right === version.version}
                onChange={() => props.choose('right', version.version)}
              />
            </td>
            <td title={version.prompt_type === 'chat' ? 'chat template' : 'text template'}>
              v{version.version}
              {version.prompt_type === 'chat' ? <div className="mlnb-muted">chat</div> : null}
            </td>
            <td>
              <div className="mlnb-prompt-commit">{version.commit_message}</div>
              {Object.keys(version.tags).length > 0 && (
                <div className="mlnb-muted">
                  {Object.entries(version.tags)
                    .map(([k, v]) => `${k}=${v}`)
                    .join(', ')}
                </div>
              )}
              <AliasControls {...props} version={version} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function VersionDiff(props: { oldVersion: IPromptVersion; newVersion: IPromptVersion }): JSX.Element {
  const { oldVersion, newVersion } = props;
  return (
    <div className="mlnb-prompt-diff" data-from={oldVersion.version} data-to={newVersion.version}>
      <div className="mlnb-prompt-diff-title">
        v{oldVersion.version} → v{newVersion.version}
      </div>
      {oldVersion.version === newVersion.version ? (
        <pre className="mlnb-prompt-template">{templateText(newVersion.template)}</pre>
      ) : (
        <TemplateDiffView oldTemplate={oldVersion.template} newTemplate={newVersion.template} />
      )}
      <PromptSettings version={newVersion} />
    </div>
  );
}

function PromptEntry(props: {
  refreshKey: number;
  name: string;
  aliases: Record<string, string>;
  latest: number | null;
  onError: (m: string) => void;
  readOnly: string | null;
}): JSX.Element {
  const { name, onError } = props;
  const [open, setOpen] = React.useState(false);
  const detail = useRequest(open ? () => genai.getPrompt(name) : null, [open, name, props.refreshKey]);
  const [chosen, setChosen] = React.useState<{ left: number | null; right: number | null }>({
    left: null,
    right: null
  });
  React.useEffect(() => {
    if (detail.error) {
      onError(detail.error);
    }
  }, [detail.error, onError]);
  const versions = detail.data?.versions ?? [];
  // By default the newest version against the one before it.
  const right = chosen.right ?? versions[0]?.version ?? 0;
  const left = chosen.left ?? versions[1]?.version ?? right;
  const oldVersion = versions.find(v => v.version === left);
  const newVersion = versions.find(v => v.version === right);
  const current = detail.data?.prompt ?? { aliases: props.aliases, latest_version: props.latest };
  const aliases = Object.entries(current.aliases).map(([a, v]) => `@${a}→v${v}`);
  return (
    <div className="mlnb-model mlnb-prompt" data-prompt={name}>
      <button
        className="mlnb-model-head mlnb-prompt-head"
        aria-expanded={open}
        onClick={() => setOpen(!open)}
      >
        <span>{open ? '▾ ' : '▸ '}</span>
        <span className="mlnb-model-name">{name}</span>
        <span className="mlnb-muted">
          {' '}
          {current.latest_version !== null ? `v${current.latest_version}` : ''} {aliases.join(' ')}
        </span>
      </button>
      {open && detail.data && (
        <>
          <VersionRows
            name={name}
            versions={versions}
            onChanged={detail.reload}
            onError={onError}
            readOnly={props.readOnly}
            left={left}
            right={right}
            choose={(side, v) => setChosen({ left, right, [side]: v })}
          />
          {oldVersion && newVersion && <VersionDiff oldVersion={oldVersion} newVersion={newVersion} />}
        </>
      )}
    </div>
  );
}

/** Quote a search term for the registry's filter grammar. */
function quoted(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
}

/**
 * The prompts, searchable by name; loaded again whenever `refreshKey` changes or ↻ is pressed.
 * With `readOnly` (why the store may only be read) the alias controls are disabled.
 */
export function PromptsSection(props: { refreshKey: number; readOnly?: string | null }): JSX.Element {
  const readOnly = props.readOnly ?? null;
  const [search, setSearch] = React.useState('');
  const [applied, setApplied] = React.useState('');
  const filter = applied.trim() ? `name LIKE '%${quoted(applied.trim())}%'` : '';
  // ↻ reloads the list and every opened prompt (an alias moved elsewhere, e.g. by promote).
  const [reloads, setReloads] = React.useState(0);
  const prompts = useRequest(() => genai.listPrompts(filter), [props.refreshKey, filter, reloads]);
  const [actionError, setActionError] = React.useState<string | null>(null);
  const error = actionError ?? prompts.error;
  const dismiss = (): void => {
    setActionError(null);
    prompts.clearError();
  };
  const onError = React.useCallback((message: string) => setActionError(message), []);
  return (
    <div className="mlnb-models mlnb-prompts">
      <div className="mlnb-prompts-search">
        <input
          className="mlnb-prompt-search"
          aria-label="search prompts by name"
          placeholder="search prompts (Enter)"
          value={search}
          onChange={event => setSearch(event.target.value)}
          onKeyDown={event => event.key === 'Enter' && setApplied(search)}
        />
        <button
          className="mlnb-prompts-refresh"
          title="reload the prompts"
          aria-label="reload the prompts"
          onClick={() => setReloads(r => r + 1)}
        >
          ↻
        </button>
      </div>
      {error && (
        <div className="mlnb-error" role="alert">
          {error}{' '}
          <button className="mlnb-chip-x" aria-label="dismiss the error" onClick={dismiss}>
            ×
          </button>
        </div>
      )}
      {prompts.data && prompts.data.length === 0 && <div className="mlnb-muted">No prompts yet.</div>}
      {(prompts.data ?? []).map(prompt => (
        <PromptEntry
          key={prompt.name}
          refreshKey={props.refreshKey + reloads}
          name={prompt.name}
          aliases={prompt.aliases}
          latest={prompt.latest_version}
          onError={onError}
          readOnly={readOnly}
        />
      ))}
    </div>
  );
}
