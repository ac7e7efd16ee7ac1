"""The model registry's SQL: registered models, versions, stages, aliases and their history.

Mixed into :class:`mlnb.store.Store` beside :class:`mlnb.store.runs.RunQueries`. The tables are
created by the ``0002_registry`` migration in :mod:`mlnb.store.schema`.

Every change that reads before it writes (next version number, archiving the other Production
versions, name uniqueness) runs inside one ``BEGIN IMMEDIATE`` transaction, so two processes
promoting versions at the same moment are serialised and never leave two in Production.
Every stage or alias change is recorded in ``model_registry_events`` (when, from, to, who).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlnb.entities import ModelVersion, ModelVersionStage, RegisteredModel
from mlnb.errors import AlreadyExistsError, InvalidParameterError, NotFoundError
from mlnb.store import records, validation
from mlnb.store.dialect import StoreConnection
from mlnb.store.logged_models import MODEL_ID
from mlnb.store.registry_checks import (
    canonical_model_name,
    canonical_stage,
    check_description,
    check_source,
    name_key,
    tag_rows,
    version_number,
)
from mlnb.store.search import (
    BoolOp,
    Comparison,
    EntitySchema,
    KeyValueSource,
    Node,
    compile_filter,
    compile_order_by,
    parse_filter,
    parse_order_by,
)
from mlnb.store.sql import now_ms, page_offset

MAX_REGISTRY_RESULTS = 10_000

PROMPT_TAG = "mlflow.prompt.is_prompt"
"""MLflow's tag (``"true"``) on a registered model, and on each of its versions, that is a prompt."""
PROMPT_TEXT_TAG = "mlflow.prompt.text"
"""MLflow's version tag holding a prompt version's template."""
PROMPT_SOURCE = "prompt-template"
"""The ``source`` MLflow gives every prompt version (a prompt has no files)."""
MAX_PROMPT_TEXT_LENGTH = 100_000
"""MLflow's limit for a registry tag value, which is where a prompt's template lives."""

MODEL_SCHEMA = EntitySchema(
    name="a registered model",
    attributes={
        "name": ("m.name", "str"),
        "description": ("m.description", "str"),
        "creation_timestamp": ("m.creation_time", "num"),
        "last_updated_timestamp": ("m.last_updated_time", "num"),
    },
    sources={"tags": KeyValueSource("registered_model_tags", (("name", "m.name"),), False)},
)

VERSION_SCHEMA = EntitySchema(
    name="a model version",
    attributes={
        "name": ("v.name", "str"),
        "version_number": ("v.version", "num"),
        "version": ("v.version", "num"),
        "run_id": ("v.run_id", "str"),
        # What a version shows: models:/<model_id> for a logged model (MLflow 3), else its folder.
        "source": ("CASE WHEN v.model_id IS NULL THEN v.source ELSE 'models:/' || v.model_id END",
                   "str"),
        "model_id": ("v.model_id", "str"),
        "current_stage": ("v.current_stage", "str"),
        "status": ("v.status", "str"),
        "user_id": ("v.user_id", "str"),
        "description": ("v.description", "str"),
        "creation_timestamp": ("v.creation_time", "num"),
        "last_updated_timestamp": ("v.last_updated_time", "num"),
    },
    sources={
        "tags": KeyValueSource(
            "model_version_tags", (("name", "v.name"), ("version", "v.version")), False
        ),
    },
)


def _limit(max_results: int) -> int:
    return validation.result_limit(max_results, MAX_REGISTRY_RESULTS)


# Completed with the searched row's model-name column and ")"; bound: the prompt tag's key.
_PROMPT_NAMES = ("EXISTS (SELECT 1 FROM registered_model_tags pt WHERE pt.key = ? "
                 "AND lower(pt.value) = 'true' AND pt.name = ")


def prompt_scope(node: Node | None) -> tuple[Node | None, str]:
    """A registry filter split as MLflow's store splits it: models and prompts share the tables,
    and a search returns one kind. It returns prompts only when a top-level term asks
    ``tags.`mlflow.prompt.is_prompt` = 'true'`` (or ``!= 'false'``); otherwise it returns models
    only, and a top-level term on that tag (MLflow's clients send ``!= 'true'``) is dropped, since
    models have no such tag and would fail it.

    :param node: the parsed filter, or None.
    :returns: the filter to compile, and the SQL that keeps one kind, to be completed with the
        row's model-name column and ``)``; it binds :data:`PROMPT_TAG` once.
    """
    if node is None:
        terms: list[Node] = []
    elif isinstance(node, BoolOp) and node.op == "AND":
        terms = list(node.children)
    else:
        terms = [node]
    on_tag = [t for t in terms if isinstance(t, Comparison) and t.field.entity == "tags"
              and t.field.key == PROMPT_TAG]
    if any(_asks_for_prompts(t) for t in on_tag if isinstance(t, Comparison)):
        return node, _PROMPT_NAMES
    rest = [t for t in terms if t not in on_tag]
    kept: Node | None = (None if not rest else rest[0] if len(rest) == 1
                         else BoolOp("AND", tuple(rest)))
    return kept, "NOT " + _PROMPT_NAMES


def _asks_for_prompts(term: Comparison) -> bool:
    value = str(term.value).lower()
    return (term.op == "=" and value == "true") or (term.op == "!=" and value == "false")


_VERSION_COLUMNS = ("v.name, v.version, v.creation_time, v.last_updated_time, v.description, "
                    "v.user_id, v.current_stage, v.source, v.run_id, v.status, v.model_id")


class RegistryQueries:
    """The registry tables' SQL. Mixed into :class:`mlnb.store.Store`.

    Every registry write is ``serial``: it reads before it writes (the next version number, a
    name taken or free), and on PostgreSQL two such writers at once must not both act on what
    they read (on SQLite every write runs alone anyway). Registry changes are rare; waiting
    costs nothing.
    """

    cx: StoreConnection

    if TYPE_CHECKING:  # from AccessQueries, beside this class in Store

        def attributed(self, user_id: str) -> str: ...

    # --- registered models ------------------------------------------------------------------

    def _model_name(self, name: Any) -> str:
        """The stored name for ``name``, or NotFoundError (suggesting a near spelling)."""
        text = canonical_model_name(name)
        if self.cx.query("SELECT 1 FROM registered_models WHERE name = ?", [text]):
            return text
        near = [n for (n,) in self.cx.query("SELECT name FROM registered_models")
                if name_key(n) == name_key(text)]
        hint = f" Did you mean {near[0]!r}?" if near else ""
        raise NotFoundError(f"No registered model named {text!r}.{hint}")

    def _check_name_free(self, text: str, except_name: str | None = None) -> None:
        key = name_key(text)
        for (existing,) in self.cx.query("SELECT name FROM registered_models"):
            if existing == except_name:
                continue
            if existing == text:
                raise AlreadyExistsError(f"Registered model {text!r} already exists.")
            if name_key(existing) == key:
                raise AlreadyExistsError(
                    f"Registered model {text!r} would be confused with the existing {existing!r} "
                    "(they differ only in letter case or character forms); use that name."
                )

    def create_registered_model(
        self, name: Any, tags: dict[str, Any] | None = None, description: str | None = None,
    ) -> RegisteredModel:
        """Create an empty registered model.

        :param name: the name; no other model may have it in any letter case.
        :param tags: tags of the model.
        :param description: its description.
        """
        text = canonical_model_name(name)
        rows = tag_rows(tags)
        desc = check_description(description)
        with self.cx.write(serial=True) as conn:
            self._check_name_free(text)
            t = now_ms()
            conn.execute(
                "INSERT INTO registered_models (name, creation_time, last_updated_time, description) "
                "VALUES (?, ?, ?, ?)", [text, t, t, desc],
            )
            conn.executemany(
                "INSERT INTO registered_model_tags (name, key, value) VALUES (?, ?, ?)",
                [(text, k, v) for k, v in rows],
            )
        return self.get_registered_model(text)

    def get_registered_model(self, name: Any) -> RegisteredModel:
        """The registered model with this name (any letter case).

        :param name: the name.
        :raises NotFoundError: when there is none.
        """
        text = self._model_name(name)
        row = self.cx.query(
            "SELECT name, creation_time, last_updated_time, description FROM registered_models "
            "WHERE name = ?", [text],
        )[0]
        return self._models_from_rows([row])[0]

    def _models_from_rows(self, rows: Sequence[Sequence[Any]]) -> list[RegisteredModel]:
        models = []
        for name, created, updated, description in rows:
            tags = dict(self.cx.query(
                "SELECT key, value FROM registered_model_tags WHERE name = ?", [name]))
            aliases = {alias: str(version) for alias, version in self.cx.query(
                "SELECT alias, version FROM registered_model_aliases WHERE name = ? ORDER BY alias",
                [name])}
            models.append(RegisteredModel(
                name=name, creation_timestamp=created, last_updated_timestamp=updated,
                description=description, tags=tags, aliases=aliases,
                latest_versions=self._latest(name, None),
            ))
        return models

    def search_registered_models(
        self, filter_string: str | None = None, max_results: int = 100,
        order_by: Sequence[str] | None = None, offset: int = 0,
    ) -> list[RegisteredModel]:
        """Registered models matching a filter such as ``name LIKE 'churn%'``, by name.

        Prompts are registered models too, and are left out as MLflow leaves them out, unless the
        filter asks for them with ``tags.`mlflow.prompt.is_prompt` = 'true'`` (then only prompts).

        :param filter_string: the search grammar over ``name`` and ``tags.*``.
        :param max_results: at most this many.
        :param order_by: order-by clauses.
        :param offset: rows to skip (paging).
        """
        node, scope = prompt_scope(parse_filter(filter_string))
        where = compile_filter(node, MODEL_SCHEMA, filter_string or "", self.cx.dialect)
        order = compile_order_by(parse_order_by(order_by), MODEL_SCHEMA)
        order_sql = (order.sql + ", " if order.sql else "") + "m.name"
        rows = self.cx.query(
            "SELECT m.name, m.creation_time, m.last_updated_time, m.description "
            f"FROM registered_models m {order.joins} WHERE {where.sql} AND {scope}m.name) "
            f"ORDER BY {order_sql} LIMIT ? OFFSET ?",
            [*order.join_params, *where.params, PROMPT_TAG, _limit(max_results),
             page_offset(offset)],
        )
        return self._models_from_rows(rows)

    def update_registered_model(self, name: Any, description: str | None) -> RegisteredModel:
        """Set a model's description (None clears it).

        :param name: the model.
        :param description: the description.
        """
        desc = check_description(description)
        with self.cx.write(serial=True) as conn:
            text = self._model_name(name)
            conn.execute(
                "UPDATE registered_models SET description = ?, last_updated_time = ? WHERE name = ?",
                [desc, now_ms(), text],
            )
        return self.get_registered_model(text)

    def rename_registered_model(self, name: Any, new_name: Any, user_id: str = "") -> RegisteredModel:
        """Rename a model; versions, tags, aliases and history follow.

        :param name: the model.
        :param new_name: a name no other model has in any letter case.
        :param user_id: who renames it, for the history.
        """
        target = canonical_model_name(new_name)
        with self.cx.write(serial=True) as conn:
            text = self._model_name(name)
            self._check_name_free(target, except_name=text)
            # ON UPDATE CASCADE carries versions, tags and aliases along; the history follows too.
            conn.execute(
                "UPDATE registered_models SET name = ?, last_updated_time = ? WHERE name = ?",
                [target, now_ms(), text],
            )
            conn.execute("UPDATE model_registry_events SET name = ? WHERE name = ?", [target, text])
            self._record(target, None, "rename", text, target, user_id)
        return self.get_registered_model(target)

    def delete_registered_model(self, name: Any, user_id: str = "") -> None:
        """Delete a model with its versions, tags and aliases (the history is kept).

        :param name: the model.
        :param user_id: who deletes it, for the history.
        """
        with self.cx.write(serial=True) as conn:
            text = self._model_name(name)
            conn.execute("DELETE FROM registered_models WHERE name = ?", [text])
            self._record(text, None, "delete_model", None, None, user_id)

    def set_registered_model_tag(self, name: Any, key: str, value: Any) -> None:
        """Set one tag of a model.

        :param name: the model.
        :param key: the tag's name.
        :param value: any value, stored as text.
        """
        (key, text_value), = tag_rows({key: value})
        with self.cx.write(serial=True) as conn:
            text = self._model_name(name)
            conn.execute(
                "INSERT INTO registered_model_tags (name, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (name, key) DO UPDATE SET value = excluded.value", [text, key, text_value],
            )

    def delete_registered_model_tag(self, name: Any, key: str) -> None:
        """Delete one tag of a model.

        :param name: the model.
        :param key: the tag's name.
        :raises NotFoundError: when the model has no such tag.
        """
        with self.cx.write(serial=True) as conn:
            text = self._model_name(name)
            cur = conn.execute(
                "DELETE FROM registered_model_tags WHERE name = ? AND key = ?", [text, key])
            if cur.rowcount == 0:
                raise NotFoundError(f"Registered model {text!r} has no tag {key!r}.")

    # --- versions ---------------------------------------------------------------------------

    def create_model_version(
        self, name: Any, source: str, run_id: str | None = None,
        tags: dict[str, Any] | None = None, description: str | None = None, user_id: str = "",
        create_model: bool = False,
    ) -> ModelVersion:
        """Add the next version of a model from a ``runs:/`` source or a logged model's
        ``models:/m-<id>`` (``create_model``: create the registered model first if it does not
        exist). A version whose folder is a logged model's records the model's id: its source
        then reads ``models:/m-<id>``, as MLflow 3 shows it.

        :param name: the model.
        :param source: a ``runs:/<run_id>/<path>`` URI or ``models:/m-<id>`` (already checked by
            the registry layer).
        :param run_id: the source's run, checked to match it.
        :param tags: tags of the version.
        :param description: its description.
        :param user_id: who registers it, for the history.
        :param create_model: create the model if it does not exist.
        """
        storage, source_run, model_id = self._version_storage(source)
        if run_id is not None and run_id != source_run:
            raise InvalidParameterError(
                f"run_id {run_id!r} does not match the run of the source {source!r}.")
        rows = tag_rows(tags)
        desc = check_description(description)
        text = canonical_model_name(name)
        shown = storage if model_id is None else f"models:/{model_id}"
        with self.cx.write(serial=True) as conn:
            if source_run is not None and not self.cx.query(
                    "SELECT 1 FROM runs WHERE run_id = ?", [source_run]):
                raise NotFoundError(f"No run with id {source_run!r} (from source {source!r}).")
            if not self.cx.query("SELECT 1 FROM registered_models WHERE name = ?", [text]):
                if not create_model:
                    self._model_name(text)  # raises NotFoundError with a spelling hint
                self.create_registered_model(text)
            if self.is_prompt(text):
                raise InvalidParameterError(
                    f"{text!r} is a prompt, not a model: a model version cannot be added to it. "
                    "Register the model under another name.")
            number = self._next_version(text)
            t = now_ms()
            conn.execute(
                "INSERT INTO model_versions (name, version, creation_time, last_updated_time, "
                "description, source, run_id, user_id, model_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [text, number, t, t, desc, storage, source_run, user_id, model_id],
            )
            conn.executemany(
                "INSERT INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?)",
                [(text, number, k, v) for k, v in rows],
            )
            self._pin_files(text, number, source_run, storage, model_id)
            conn.execute("UPDATE registered_models SET last_updated_time = ? WHERE name = ?", [t, text])
            self._record(text, number, "create_version", None, shown, user_id)
        return self.get_model_version(text, number)

    def is_prompt(self, name: str) -> bool:
        """Whether the registered model with this exact name is a prompt (MLflow's prompt tag).

        :param name: the stored name.
        """
        return bool(self.cx.query(
            "SELECT 1 FROM registered_model_tags WHERE name = ? AND key = ? AND lower(value) = 'true'",
            [name, PROMPT_TAG]))

    def create_prompt_version(self, name: Any, template_text: str, tags: dict[str, Any],
                              description: str | None = None, user_id: str = "") -> ModelVersion:
        """Add the next version of a prompt, creating the prompt when the name is free, stored as
        MLflow stores it: a version tagged with the prompt tag and ``mlflow.prompt.text``, whose
        source is ``prompt-template`` and which has no run and no files.

        :param name: the prompt's name.
        :param template_text: the template (a chat template as its JSON text).
        :param tags: the version's other tags (its type, the user's tags).
        :param description: the commit message.
        :param user_id: who registers it, for the history.
        :raises InvalidParameterError: when the name is a model's, or the template is too long.
        """
        if len(template_text) > MAX_PROMPT_TEXT_LENGTH:
            raise InvalidParameterError(
                f"The prompt template is {len(template_text)} characters long; the limit is "
                f"{MAX_PROMPT_TEXT_LENGTH:,}.")
        rows = [(PROMPT_TAG, "true"), (PROMPT_TEXT_TAG, template_text),
                *tag_rows({k: v for k, v in tags.items() if k not in (PROMPT_TAG, PROMPT_TEXT_TAG)})]
        desc = check_description(description)
        text = canonical_model_name(name)
        with self.cx.write(serial=True) as conn:
            if not self.cx.query("SELECT 1 FROM registered_models WHERE name = ?", [text]):
                self.create_registered_model(text, {PROMPT_TAG: "true"})
            elif not self.is_prompt(text):
                raise InvalidParameterError(
                    f"{text!r} is a registered model, not a prompt: choose another name for the "
                    "prompt.")
            number = self._next_version(text)
            t = now_ms()
            conn.execute(
                "INSERT INTO model_versions (name, version, creation_time, last_updated_time, "
                "description, source, run_id, user_id) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
                [text, number, t, t, desc, PROMPT_SOURCE, user_id],
            )
            conn.executemany(
                "INSERT INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?)",
                [(text, number, k, v) for k, v in rows],
            )
            conn.execute("UPDATE registered_models SET last_updated_time = ? WHERE name = ?", [t, text])
            self._record(text, number, "create_version", None, PROMPT_SOURCE, user_id)
        return self.get_model_version(text, number)

    def _version_storage(self, source: str) -> tuple[str, str | None, str | None]:
        """``(where the files are, the run, the logged model)`` of a version's source: a
        ``runs:/`` folder (and the logged model logged there, if any), or a logged model's
        ``models:/m-<id>`` (its run's folder, or for a model without a run the URI itself)."""
        rest = source[len("models:/"):] if isinstance(source, str) and source.startswith(
            "models:/") else ""
        if MODEL_ID.fullmatch(rest):
            rows = self.cx.query("SELECT source_run_id, artifact_path, status, lifecycle_stage "
                                 "FROM logged_models WHERE model_id = ?", [rest])
            if not rows:
                raise NotFoundError(f"No logged model with id {rest!r} in this store.")
            run, path, status, stage = rows[0]
            if stage == "deleted":
                raise NotFoundError(f"Logged model {rest!r} was deleted (delete_logged_model).")
            if run is not None and path is not None:
                return f"runs:/{run}/{path}", str(run), rest
            if status != "READY":
                raise InvalidParameterError(
                    f"Logged model {rest} is {status}: only a READY model can be registered "
                    "(finalize it with mlnb.finalize_logged_model(model_id, 'READY')).")
            return source, None, rest
        run_id, path = check_source(source)
        found = self.cx.query(
            "SELECT model_id FROM logged_models WHERE source_run_id = ? AND artifact_path = ? "
            "ORDER BY creation_timestamp DESC, model_id LIMIT 1", [run_id, path])
        return source, run_id, str(found[0][0]) if found else None

    def _pin_files(self, name: str, version: int, run_id: str | None, source: str,
                   model_id: str | None = None) -> None:
        """Pin the sha256 the store recorded for every file of the version's model folder (inside
        the caller's transaction): from now on those files cannot be written, and loading the
        version refuses any that changed."""
        if run_id is None:  # a logged model without a run: its own folder's records
            with self.cx.write(serial=True) as conn:
                conn.execute(
                    "INSERT INTO model_version_files (name, version, path, sha256) "
                    "SELECT ?, ?, path, sha256 FROM logged_model_artifacts WHERE model_id = ?",
                    [name, version, model_id])
            return
        prefix = check_source(source)[1] + "/"
        with self.cx.write(serial=True) as conn:
            conn.execute(
                "INSERT INTO model_version_files (name, version, path, sha256) "
                "SELECT ?, ?, substr(path, ?), sha256 FROM artifacts "
                "WHERE run_id = ? AND substr(path, 1, ?) = ?",
                [name, version, len(prefix) + 1, run_id, len(prefix), prefix],
            )

    def model_version_pins(self, name: Any, version: Any) -> dict[str, str]:
        """``{path inside the model folder: sha256}`` pinned when the version was registered.

        :param name: the registered model.
        :param version: the version number.
        """
        mv = self.get_model_version(name, version)
        rows = self.cx.query(
            "SELECT path, sha256 FROM model_version_files WHERE name = ? AND version = ?",
            [mv.name, int(mv.version)])
        return {str(p): str(h) for p, h in rows}

    def registered_folders(self, run_id: str) -> list[tuple[str, int, str]]:
        """``(name, version, model folder)`` of every registered version whose source is in this
        run (its folder is the path of its ``runs:/`` source).

        :param run_id: the run.
        """
        out = []
        for n, v, src in self.cx.query(
                "SELECT name, version, source FROM model_versions WHERE run_id = ?", [run_id]):
            try:
                out.append((str(n), int(v), check_source(src)[1]))
            except (InvalidParameterError, TypeError, ValueError):
                continue  # a row that names no folder of this run pins nothing here
        return out

    def _next_version(self, name: str) -> int:
        # Numbers are never reused, even after a version is deleted: the history remembers them.
        row = self.cx.query(
            "SELECT max(v) FROM (SELECT max(version) AS v FROM model_versions WHERE name = ? "
            "UNION ALL SELECT max(version) FROM model_registry_events WHERE name = ? "
            "AND kind = 'create_version') AS numbers", [name, name],
        )
        return int(row[0][0] or 0) + 1

    def _versions(self, where: str, params: Sequence[Any], suffix: str = "",
                  joins: str = "") -> list[ModelVersion]:
        rows = self.cx.query(
            f"SELECT {_VERSION_COLUMNS} FROM model_versions v {joins} WHERE {where} {suffix}", params)
        if not rows:
            return []
        names = sorted({r[0] for r in rows})
        marks = ", ".join("?" * len(names))
        tags: dict[tuple[str, int], dict[str, str]] = {}
        for n, v, k, value in self.cx.query(
            f"SELECT name, version, key, value FROM model_version_tags WHERE name IN ({marks})", names
        ):
            tags.setdefault((n, v), {})[k] = value
        aliases: dict[tuple[str, int], list[str]] = {}
        for n, v, alias in self.cx.query(
            f"SELECT name, version, alias FROM registered_model_aliases WHERE name IN ({marks}) "
            "ORDER BY alias", names,
        ):
            aliases.setdefault((n, v), []).append(alias)
        versions = []
        for r in rows:
            try:
                records.version_fields(r)
            except records.MalformedRow as problem:
                records.skip(f"model version {r[0]!r} {r[1]!r}", problem)
                continue
            versions.append(ModelVersion(
                name=r[0], version=str(r[1]), creation_timestamp=r[2], last_updated_timestamp=r[3],
                description=r[4], user_id=r[5], current_stage=r[6],
                source=r[7] if r[10] is None else f"models:/{r[10]}", run_id=r[8],
                status=r[9], tags=tags.get((r[0], r[1]), {}), aliases=aliases.get((r[0], r[1]), []),
                model_id=r[10], storage_location=r[7],
            ))
        return versions

    def get_model_version(self, name: Any, version: Any) -> ModelVersion:
        """One version of a model.

        :param name: the model.
        :param version: the version number.
        :raises NotFoundError: when it does not exist.
        """
        number = version_number(version)
        text = self._model_name(name)
        found = self._versions("v.name = ? AND v.version = ?", [text, number])
        if not found:
            raise NotFoundError(f"Registered model {text!r} has no version {number}.")
        return found[0]

    def newest_version(self, name: str) -> ModelVersion | None:
        """The highest-numbered version of a model, or None when it has none.

        :param name: the stored name.
        """
        found = self._versions("v.name = ?", [name], "ORDER BY v.version DESC LIMIT 1")
        return found[0] if found else None

    def search_model_versions(
        self, filter_string: str | None = None, max_results: int = 10_000,
        order_by: Sequence[str] | None = None, offset: int = 0,
    ) -> list[ModelVersion]:
        """Versions matching a filter such as ``name = 'churn' and current_stage = 'Production'``.

        Prompt versions are left out unless the filter asks for prompts, as in
        :meth:`search_registered_models`.

        :param filter_string: the search grammar over ``name``, ``version_number``, ``run_id``,
            ``current_stage``, ``source`` and ``tags.*``.
        :param max_results: at most this many.
        :param order_by: order-by clauses.
        :param offset: rows to skip (paging).
        """
        node, scope = prompt_scope(parse_filter(filter_string))
        where = compile_filter(node, VERSION_SCHEMA, filter_string or "", self.cx.dialect)
        order = compile_order_by(parse_order_by(order_by), VERSION_SCHEMA)
        order_sql = (order.sql + ", " if order.sql else "") + "v.name, v.version DESC"
        return self._versions(
            f"{where.sql} AND {scope}v.name)",
            [*order.join_params, *where.params, PROMPT_TAG, _limit(max_results),
             page_offset(offset)],
            f"ORDER BY {order_sql} LIMIT ? OFFSET ?", order.joins,
        )

    def update_model_version(self, name: Any, version: Any, description: str | None) -> ModelVersion:
        """Set a version's description (None clears it).

        :param name: the model.
        :param version: the version number.
        :param description: the description.
        """
        desc = check_description(description)
        with self.cx.write(serial=True) as conn:
            mv = self.get_model_version(name, version)
            conn.execute(
                "UPDATE model_versions SET description = ?, last_updated_time = ? "
                "WHERE name = ? AND version = ?", [desc, now_ms(), mv.name, int(mv.version)],
            )
        return self.get_model_version(mv.name, mv.version)

    def delete_model_version(self, name: Any, version: Any, user_id: str = "") -> None:
        """Delete one version; its aliases are removed and the history records both.

        :param name: the model.
        :param version: the version number.
        :param user_id: who deletes it, for the history.
        """
        with self.cx.write(serial=True) as conn:
            mv = self.get_model_version(name, version)
            conn.execute("DELETE FROM model_versions WHERE name = ? AND version = ?",
                         [mv.name, int(mv.version)])
            for alias in mv.aliases:
                self._record(mv.name, int(mv.version), f"alias:{alias}", mv.version, None, user_id)
            self._record(mv.name, int(mv.version), "delete_version", mv.current_stage, None, user_id)

    def set_model_version_tag(self, name: Any, version: Any, key: str, value: Any) -> None:
        """Set one tag of a version.

        :param name: the model.
        :param version: the version number.
        :param key: the tag's name.
        :param value: any value, stored as text.
        """
        (key, text_value), = tag_rows({key: value})
        with self.cx.write(serial=True) as conn:
            mv = self.get_model_version(name, version)
            conn.execute(
                "INSERT INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
                [mv.name, int(mv.version), key, text_value],
            )

    def delete_model_version_tag(self, name: Any, version: Any, key: str) -> None:
        """Delete one tag of a version.

        :param name: the model.
        :param version: the version number.
        :param key: the tag's name.
        """
        with self.cx.write(serial=True) as conn:
            mv = self.get_model_version(name, version)
            cur = conn.execute(
                "DELETE FROM model_version_tags WHERE name = ? AND version = ? AND key = ?",
                [mv.name, int(mv.version), key],
            )
            if cur.rowcount == 0:
                raise NotFoundError(f"Model {mv.name!r} version {mv.version} has no tag {key!r}.")

    def _latest(self, name: str, stages: Sequence[str] | None) -> list[ModelVersion]:
        wanted = list(ModelVersionStage.ALL) if not stages else [canonical_stage(s) for s in stages]
        marks = ", ".join("?" * len(wanted))
        return self._versions(
            f"v.name = ? AND v.current_stage IN ({marks}) AND v.version = (SELECT max(o.version) "
            "FROM model_versions o WHERE o.name = v.name AND o.current_stage = v.current_stage)",
            [name, *wanted], "ORDER BY v.version",
        )

    def _record(self, name: str, version: int | None, kind: str, old: str | None,
                new: str | None, user_id: str) -> None:
        who = self.attributed(user_id)  # with the database role on PostgreSQL
        with self.cx.write() as conn:  # joins the caller's transaction
            conn.execute(
                "INSERT INTO model_registry_events (name, version, kind, from_value, to_value, "
                "time, user_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [name, version, kind, old, new, now_ms(), who],
            )
