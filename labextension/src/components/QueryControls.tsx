/**
 * The run list's query controls: experiment and view selectors, and the filter box (in the
 * search grammar; its errors are shown inline under it).
 */
import * as React from 'react';

import { ExperimentsModel } from '../model';
import { RunView } from '../tokens';

function ExperimentSelect(props: { model: ExperimentsModel }): JSX.Element {
  const { model } = props;
  return (
    <select
      className="mlnb-experiment-select"
      aria-label="experiment"
      value={model.query.experimentId}
      onChange={event => model.setQuery({ experimentId: event.target.value })}
    >
      <option value="">All experiments</option>
      {model.experiments.map(e => (
        <option key={e.experiment_id} value={e.experiment_id}>
          {e.name}
        </option>
      ))}
    </select>
  );
}

function ViewSelect(props: { model: ExperimentsModel }): JSX.Element {
  const { model } = props;
  return (
    <select
      className="mlnb-view-select"
      aria-label="run view"
      value={model.query.view}
      onChange={event => model.setQuery({ view: event.target.value as RunView })}
    >
      <option value="active">Active runs</option>
      <option value="deleted">Deleted runs</option>
      <option value="all">All runs</option>
    </select>
  );
}

function FilterBox(props: { model: ExperimentsModel }): JSX.Element {
  const { model } = props;
  const { filterError } = model.runs;
  return (
    <>
      <input
        className={`mlnb-filter${filterError ? ' mlnb-invalid' : ''}`}
        placeholder="Filter: metrics.acc > 0.9 and params.lr = '0.1'"
        aria-label="filter runs"
        spellCheck={false}
        value={model.query.filterText}
        onChange={event => model.setFilterText(event.target.value)}
        onKeyDown={event => event.key === 'Enter' && model.applyFilter()}
      />
      {filterError && <pre className="mlnb-filter-error">{filterError}</pre>}
    </>
  );
}

/** The selectors and the filter box, bound to the model's query. */
export function QueryControls(props: { model: ExperimentsModel }): JSX.Element {
  return (
    <>
      <div className="mlnb-controls">
        <ExperimentSelect model={props.model} />
        <ViewSelect model={props.model} />
      </div>
      <FilterBox model={props.model} />
    </>
  );
}
