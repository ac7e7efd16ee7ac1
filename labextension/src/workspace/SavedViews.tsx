/**
 * Saved views of the workspace: the experiment's views listed, opened, saved (as new, or over
 * the one open), deleted, and a link that opens the view in JupyterLab (`?mlnb-view=<id>`).
 */
import * as React from 'react';

import { errorMessage } from '../api';
import { IViewState } from './viewState';
import {
  createView,
  deleteView,
  getView,
  ISavedView,
  ISavedViewInfo,
  listViews,
  updateView,
  viewLink
} from './wsApi';

export function SavedViews(props: {
  experimentId: string;
  state: IViewState;
  currentId: string | null;
  readOnly: string | null;
  onOpen: (view: ISavedView) => void;
  onCurrent: (viewId: string | null) => void;
}): JSX.Element {
  const { experimentId, currentId } = props;
  const [listed, setListed] = React.useState<{ experimentId: string; views: ISavedViewInfo[] }>({
    experimentId: '',
    views: []
  });
  const views = listed.experimentId === experimentId ? listed.views : [];
  const [naming, setNaming] = React.useState(false);
  const [name, setName] = React.useState('');
  const [status, setStatus] = React.useState<string | null>(null);
  const [shownLink, setLink] = React.useState<{ viewId: string; url: string } | null>(null);
  const link = shownLink && shownLink.viewId === currentId ? shownLink.url : null;
  const [version, setVersion] = React.useState(0);

  React.useEffect(() => {
    if (!experimentId) {
      return;
    }
    let alive = true;
    listViews(experimentId)
      .then(found => alive && setListed({ experimentId, views: found }))
      .catch(e => alive && setStatus(errorMessage(e)));
    return () => {
      alive = false;
    };
  }, [experimentId, version]);

  const act = async (work: () => Promise<string>): Promise<void> => {
    try {
      setStatus(await work());
      setVersion(v => v + 1);
    } catch (e) {
      setStatus(errorMessage(e));
    }
  };
  const current = views.find(v => v.view_id === currentId);
  const writeTitle = props.readOnly ?? undefined;

  return (
    <div className="mlnb-ws-views" role="group" aria-label="saved views">
      <label>
        View{' '}
        <select
          aria-label="saved view"
          value={currentId ?? ''}
          onChange={e => {
            const id = e.target.value;
            if (!id) {
              props.onCurrent(null);
              return;
            }
            void act(async () => {
              const view = await getView(id);
              props.onOpen(view);
              return `Opened view “${view.name}”.`;
            });
          }}
        >
          <option value="">(unsaved)</option>
          {views.map(v => (
            <option key={v.view_id} value={v.view_id}>
              {v.name}
            </option>
          ))}
        </select>
      </label>
      {naming ? (
        <form
          className="mlnb-ws-save-form"
          onSubmit={e => {
            e.preventDefault();
            const chosen = name.trim();
            if (!chosen) {
              setStatus('Give the view a name.');
              return;
            }
            void act(async () => {
              const view = await createView(experimentId, chosen, props.state);
              props.onCurrent(view.view_id);
              setNaming(false);
              setName('');
              return `Saved view “${view.name}”.`;
            });
          }}
        >
          <input
            aria-label="view name"
            placeholder="view name"
            autoFocus
            maxLength={200}
            value={name}
            onChange={e => setName(e.target.value)}
            onKeyDown={e => e.key === 'Escape' && setNaming(false)}
          />
          <button type="submit">Save</button>
          <button type="button" onClick={() => setNaming(false)}>
            Cancel
          </button>
        </form>
      ) : (
        <button
          disabled={!experimentId || !!props.readOnly}
          title={writeTitle}
          onClick={() => setNaming(true)}
        >
          Save view as…
        </button>
      )}
      {current && (
        <>
          <button
            disabled={!!props.readOnly}
            title={writeTitle ?? `save the current state over “${current.name}”`}
            onClick={() =>
              void act(async () => {
                await updateView(current.view_id, props.state);
                return `Updated view “${current.name}”.`;
              })
            }
          >
            Update view
          </button>
          <button
            disabled={!!props.readOnly}
            title={writeTitle}
            onClick={() =>
              void act(async () => {
                await deleteView(current.view_id);
                props.onCurrent(null);
                return `Deleted view “${current.name}”.`;
              })
            }
          >
            Delete view
          </button>
          <button
            onClick={() => {
              const url = viewLink(current.view_id);
              setLink({ viewId: current.view_id, url });
              void navigator.clipboard?.writeText(url).catch(() => undefined);
            }}
          >
            Link
          </button>
        </>
      )}
      {link && (
        <input
          className="mlnb-ws-link"
          aria-label="link to this view"
          readOnly
          value={link}
          onFocus={e => e.target.select()}
        />
      )}
      {status && (
        <span className="mlnb-ws-status" role="status">
          {status}
        </span>
      )}
    </div>
  );
}
