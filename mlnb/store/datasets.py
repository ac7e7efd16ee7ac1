"""MLflow's datasets and run inputs (migration ``0012_datasets``).

A dataset is recorded once per experiment for a ``(name, digest)``: logging the same data again,
from any run of the experiment, links to the row already there (MLflow's rule). A run's input
links the run to a dataset with the tags of that use (``mlflow.data.context``: ``training``,
``eval``...); logging the same dataset to a run again changes nothing, its first tags stay (as in
MLflow). A run's model inputs are the ids of the logged models it used.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlnb.entities import Dataset, DatasetInput
from mlnb.errors import InvalidParameterError
from mlnb.store.dialect import StoreConnection, Writer
from mlnb.store.logged_models import check_model_id
from mlnb.store.sql import chunks, marks

# MLflow's limits (mlflow/utils/validation.py).
MAX_DATASET_NAME_SIZE = 500
MAX_DATASET_DIGEST_SIZE = 36
MAX_DATASET_SOURCE_SIZE = 65535
MAX_DATASET_SCHEMA_SIZE = 1048575
MAX_DATASET_PROFILE_SIZE = 16777215
MAX_INPUT_TAG_KEY_SIZE = 255
MAX_INPUT_TAG_VALUE_SIZE = 500
MAX_DATASETS_PER_BATCH = 1000

CONTEXT_TAG = "mlflow.data.context"
"""The input tag that says what a run used a dataset for (``training``, ``eval``...)."""

_FIELDS = (("name", MAX_DATASET_NAME_SIZE, True), ("digest", MAX_DATASET_DIGEST_SIZE, True),
           ("source_type", MAX_DATASET_SOURCE_SIZE, True), ("source", MAX_DATASET_SOURCE_SIZE, True),
           ("schema", MAX_DATASET_SCHEMA_SIZE, False), ("profile", MAX_DATASET_PROFILE_SIZE, False))


def check_dataset(dataset: Any) -> Dataset:
    """A dataset record whose fields are text within MLflow's limits (name, digest, source type
    and source required; schema and profile optional).

    :param dataset: the record as given.
    :raises InvalidParameterError: naming the field at fault.
    """
    if not isinstance(dataset, Dataset):
        raise InvalidParameterError(
            f"A dataset input needs a dataset record, not {type(dataset).__name__}; build one "
            "with mlnb.data.from_pandas(df) or mlnb.data.from_numpy(array).")
    for name, limit, required in _FIELDS:
        value = getattr(dataset, name)
        if value is None and not required:
            continue
        if not isinstance(value, str) or (required and not value):
            raise InvalidParameterError(
                f"Dataset field '{name}' must be non-empty text, not {str(value)[:40]!r}.")
        if len(value) > limit:
            raise InvalidParameterError(
                f"Dataset field '{name}' is {len(value)} characters long; MLflow's limit is "
                f"{limit}.")
    return dataset


def check_input_tags(tags: Any) -> dict[str, str]:
    """A dataset input's tags: text keys (at most 255 characters) and values (at most 500).

    :param tags: the tags as given.
    :raises InvalidParameterError: naming the tag at fault.
    """
    if not isinstance(tags, dict):
        raise InvalidParameterError(f"Dataset input tags must be a dict, not {type(tags).__name__}.")
    found: dict[str, str] = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not key:
            raise InvalidParameterError(f"Dataset input tag key {key!r} must be non-empty text.")
        if len(key) > MAX_INPUT_TAG_KEY_SIZE:
            raise InvalidParameterError(
                f"Dataset input tag key {key[:40]!r}... is longer than {MAX_INPUT_TAG_KEY_SIZE} "
                "characters.")
        text = value if isinstance(value, str) else str(value)
        if len(text) > MAX_INPUT_TAG_VALUE_SIZE:
            raise InvalidParameterError(
                f"The value of dataset input tag {key!r} is longer than "
                f"{MAX_INPUT_TAG_VALUE_SIZE} characters.")
        found[key] = text
    return found


class DatasetQueries:
    """Dataset and run-input methods of :class:`~mlnb.store.Store`."""

    cx: StoreConnection

    if TYPE_CHECKING:  # from RunQueries, beside this class in Store
        def check_writable(self, run_id: str) -> None: ...

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput] = (),
                   model_ids: Sequence[str] = ()) -> None:
        """Record what a run used: datasets (with the tags of that use) and logged models; all of
        it or nothing.

        :param run_id: the run (active, not deleted).
        :param datasets: the dataset inputs; one ``(name, digest)`` given twice counts once (the
            first), and one the run already has keeps its first tags.
        :param model_ids: ids of logged models (``m-`` and 32 hex digits) the run used.
        :raises InvalidParameterError: for a malformed dataset, tag or model id, or more than
            1,000 datasets at once.
        :raises NotFoundError: when the run does not exist.
        :raises RunStateError: when it is deleted.
        """
        if len(datasets) > MAX_DATASETS_PER_BATCH:
            raise InvalidParameterError(
                f"At most {MAX_DATASETS_PER_BATCH} datasets can be logged at once; got "
                f"{len(datasets)}. Split the call.")
        unique: dict[tuple[str, str], DatasetInput] = {}
        for item in datasets:
            if not isinstance(item, DatasetInput):
                raise InvalidParameterError(
                    f"log_inputs takes DatasetInput records, not {type(item).__name__}.")
            dataset = check_dataset(item.dataset)
            checked = DatasetInput(dataset, check_input_tags(item.tags))
            unique.setdefault((dataset.name, dataset.digest), checked)
        models = list(dict.fromkeys(check_model_id(m) for m in model_ids))
        self.check_writable(run_id)
        with self.cx.write() as tx:
            experiment_id = tx.execute("SELECT experiment_id FROM runs WHERE run_id = ?",
                                       [run_id]).fetchone()[0]
            for item in unique.values():
                dataset_id = record_dataset(tx, int(experiment_id), item.dataset)
                link_input(tx, run_id, dataset_id, item.tags)
            for model_id in models:
                link_model_input(tx, run_id, model_id)

    def dataset_inputs_of_runs(self, run_ids: Sequence[str]) -> dict[str, list[DatasetInput]]:
        """Each run's dataset inputs in the order they were logged (a page of runs in a few
        queries, for MLflow's ``Run.inputs``).

        :param run_ids: the runs.
        """
        found: dict[str, list[DatasetInput]] = {r: [] for r in run_ids}
        for chunk in chunks(list(run_ids)):
            tags: dict[tuple[str, str], dict[str, str]] = {}
            for run_id, dataset_id, key, value in self.cx.query(
                    f"SELECT run_id, dataset_id, key, value FROM run_input_tags "
                    f"WHERE run_id IN ({marks(chunk)}) ORDER BY key", list(chunk)):
                tags.setdefault((str(run_id), str(dataset_id)), {})[str(key)] = str(value)
            for row in self.cx.query(
                    "SELECT i.run_id, d.dataset_id, d.name, d.digest, d.source_type, d.source, "
                    "d.schema, d.profile FROM run_inputs i JOIN datasets d "
                    f"ON d.dataset_id = i.dataset_id WHERE i.run_id IN ({marks(chunk)}) "
                    "ORDER BY i.run_id, i.position", list(chunk)):
                dataset = Dataset(str(row[2]), str(row[3]), str(row[4]), str(row[5]),
                                  None if row[6] is None else str(row[6]),
                                  None if row[7] is None else str(row[7]))
                found[str(row[0])].append(
                    DatasetInput(dataset, tags.get((str(row[0]), str(row[1])), {})))
        return found

    def model_inputs_of_runs(self, run_ids: Sequence[str]) -> dict[str, list[str]]:
        """The ids of the logged models each run used, in the order they were logged.

        :param run_ids: the runs.
        """
        found: dict[str, list[str]] = {r: [] for r in run_ids}
        for chunk in chunks(list(run_ids)):
            for run_id, model_id in self.cx.query(
                    f"SELECT run_id, model_id FROM run_model_inputs WHERE run_id IN "
                    f"({marks(chunk)}) ORDER BY run_id, position", list(chunk)):
                found[str(run_id)].append(str(model_id))
        return found


def record_dataset(tx: Writer, experiment_id: int, dataset: Dataset) -> str:
    """The id of the experiment's dataset with this name and digest, recorded now if new.

    :param tx: the open write transaction.
    :param experiment_id: the experiment.
    :param dataset: the checked dataset record.
    """
    tx.execute(
        "INSERT OR IGNORE INTO datasets (dataset_id, experiment_id, name, digest, source_type, "
        "source, schema, profile) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [uuid.uuid4().hex, experiment_id, dataset.name, dataset.digest, dataset.source_type,
         dataset.source, dataset.schema, dataset.profile])
    return str(tx.execute("SELECT dataset_id FROM datasets WHERE experiment_id = ? AND name = ? "
                          "AND digest = ?",
                          [experiment_id, dataset.name, dataset.digest]).fetchone()[0])


def link_input(tx: Writer, run_id: str, dataset_id: str, tags: dict[str, str]) -> None:
    """Link a run to a dataset with the tags of the use, unless it is linked already.

    :param tx: the open write transaction.
    :param run_id: the run.
    :param dataset_id: the dataset (from :func:`record_dataset`).
    :param tags: the checked tags of the use.
    """
    added = tx.execute(
        "INSERT OR IGNORE INTO run_inputs (run_id, dataset_id, position) VALUES (?, ?, "
        "(SELECT COALESCE(MAX(position), -1) + 1 FROM run_inputs WHERE run_id = ?))",
        [run_id, dataset_id, run_id])
    if added.rowcount == 0:
        return
    tx.executemany("INSERT INTO run_input_tags (run_id, dataset_id, key, value) VALUES (?, ?, ?, ?)",
                   [(run_id, dataset_id, k, v) for k, v in tags.items()])


def link_model_input(tx: Writer, run_id: str, model_id: str) -> None:
    """Record that a run used a logged model, unless it is recorded already.

    :param tx: the open write transaction.
    :param run_id: the run.
    :param model_id: the checked model id.
    """
    tx.execute("INSERT OR IGNORE INTO run_model_inputs (run_id, model_id, position) VALUES "
               "(?, ?, (SELECT COALESCE(MAX(position), -1) + 1 FROM run_model_inputs "
               "WHERE run_id = ?))", [run_id, model_id, run_id])
