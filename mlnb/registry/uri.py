"""The ``models:/`` URI grammar: ``models:/<name>/<version|stage|latest>``,
``models:/<name>@<alias>`` and MLflow 3's ``models:/m-<id>`` (a logged model), and what each
names; and MLflow's ``prompts:/<name>/<version>``, ``prompts:/<name>@<alias>`` and
``prompts:/<name>@latest`` for prompts, which the registry holds as models tagged as prompts.

A URI is only ever parsed into its parts and looked up in the store; it never becomes part of a
shell command (MLflow's CVE-2026-0596 passed a model URI to ``bash -c``), and text that looks like
shell syntax (``$(``, ``;``, backticks) is refused outright.
"""

from __future__ import annotations

import re

from mlnb.entities import LoggedModel, ModelVersion, ModelVersionStage
from mlnb.errors import InvalidParameterError, NotFoundError
from mlnb.store import Store
from mlnb.store.logged_models import MODEL_ID
from mlnb.store.registry import PROMPT_SOURCE
from mlnb.store.registry_checks import canonical_model_name, check_alias, version_number

_SHELLISH = ("$(", ";", "`", "\n", "\r", "\x00")
PROMPT_NAME = re.compile(r"^[a-zA-Z0-9_.-]+$")
"""MLflow's rule for a prompt's name."""


def check_uri_text(uri: object) -> str:
    """The model URI stripped of surrounding blanks, after refusing non-text, over-long or shell-like
    input.

    :param uri: the URI as the user gave it.
    :raises InvalidParameterError: for empty or non-text input, more than 4096 characters, or
        ``$(``, ``;``, backticks, newlines or NUL.
    """
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidParameterError(f"A model URI must be non-empty text, not {uri!r}.")
    if len(uri) > 4096:
        raise InvalidParameterError("A model URI may be at most 4096 characters long.")
    bad = [token for token in _SHELLISH if token in uri]
    if bad:
        raise InvalidParameterError(
            f"Model URI {uri[:200]!r} is invalid: it contains {', '.join(repr(b) for b in bad)}. "
            "Use runs:/<run_id>/<path>, models:/<name>/<version>, models:/<name>@<alias> or a folder."
        )
    return uri.strip()


def parse_registry_uri(uri: str) -> tuple[str, str | None, str | None, str | None]:
    """``models:/`` URI -> (name, version, stage, alias).

    At most one of the last three is set: ``latest`` gives no version, stage nor alias.

    :param uri: ``models:/<name>/<version|stage|latest>`` or ``models:/<name>@<alias>``.
    :raises InvalidParameterError: for any other text.
    """
    text = check_uri_text(uri)
    if not text.startswith("models:/"):
        raise InvalidParameterError(f"{uri!r} is not a models:/ URI.")
    rest = text[len("models:/"):]
    if "@" in rest:
        name, _, alias = rest.partition("@")
        return canonical_model_name(name), None, None, check_alias(alias)
    name, sep, which = rest.rpartition("/")
    if not sep or not name or not which:
        raise InvalidParameterError(
            f"Model URI {uri!r} is incomplete: write models:/<name>/<version or stage> or "
            "models:/<name>@<alias>.")
    name = canonical_model_name(name)
    if which.isdigit():
        return name, str(version_number(which)), None, None
    if which.lower() == "latest":
        return name, None, None, None
    stage = ModelVersionStage.canonical(which)
    if stage is None:
        raise InvalidParameterError(
            f"Model URI {uri!r}: {which!r} is neither a version number, 'latest' nor a stage "
            f"({', '.join(ModelVersionStage.ALL)}).")
    return name, None, stage, None


def logged_model_of(store: Store, uri: str, allow_deleted: bool = False) -> LoggedModel | None:
    """For ``models:/m-<id>`` (MLflow 3's logged-model URI), the logged model; None for any other
    URI (a registered model's name cannot take this form: it has no version).

    :param store: the store the model is in.
    :param uri: a model URI.
    :param allow_deleted: also a deleted model (the files of a version registered before).
    :raises NotFoundError: when the store has no such logged model, or it was deleted.
    """
    text = check_uri_text(uri)
    rest = text[len("models:/"):] if text.startswith("models:/") else ""
    if not MODEL_ID.fullmatch(rest):
        return None
    return store.get_logged_model(rest, allow_deleted=allow_deleted)


def logged_model_source(store: Store, uri: str) -> str | None:
    """For ``models:/m-<id>``, where its files are: the ``runs:/`` folder of a model logged in a
    run, or the URI itself for a model without a run (its own folder, read through the store by
    its id). None for any other URI.

    :param store: the store the model is in.
    :param uri: a model URI.
    :raises NotFoundError: when the store has no such logged model.
    """
    model = logged_model_of(store, uri)
    if model is None:
        return None
    if model.source_run_id is not None and model.artifact_path is not None:
        return model.artifact_location
    return model.model_uri


def resolve_registry_uri(store: Store, uri: str) -> ModelVersion:
    """The registered version a ``models:/`` URI names (the newest one for a stage or ``latest``).

    :param store: the store whose registry to look in.
    :param uri: a ``models:/`` URI.
    :raises NotFoundError: when no version matches.
    """
    name, version, stage, alias = parse_registry_uri(uri)
    if alias is not None:
        found = store.get_model_version_by_alias(name, alias)
    elif version is not None:
        found = store.get_model_version(name, version)
    else:
        latest = store.get_latest_versions(name, [stage] if stage else None)
        if not latest:
            where = f" in stage {stage}" if stage else ""
            raise NotFoundError(f"Registered model {name!r} has no version{where}.")
        found = max(latest, key=lambda mv: int(mv.version))
    if found.source == PROMPT_SOURCE and store.is_prompt(found.name):
        raise InvalidParameterError(
            f"{uri!r} names a prompt, not a model: load it with "
            f"mlnb.genai.load_prompt('prompts:/{found.name}/{found.version}').")
    return found


def check_prompt_name(name: object) -> str:
    """A prompt's name, checked against MLflow's rule (letters, digits, ``_``, ``.``, ``-``).

    :param name: the name as given.
    :raises InvalidParameterError: for anything else.
    """
    if not isinstance(name, str) or not PROMPT_NAME.match(name):
        raise InvalidParameterError(
            f"Prompt name {name!r} is invalid: use letters, digits, '_', '.' and '-' only "
            "(e.g. 'summarize-v2').")
    return name


def parse_prompt_uri(uri: str) -> tuple[str, str | None, str | None]:
    """``prompts:/`` URI -> (name, version, alias); neither for ``@latest`` (the newest version).

    :param uri: ``prompts:/<name>/<version>``, ``prompts:/<name>@<alias>`` or
        ``prompts:/<name>@latest``.
    :raises InvalidParameterError: for any other text.
    """
    text = check_uri_text(uri)
    if not text.startswith("prompts:/"):
        raise InvalidParameterError(f"{uri!r} is not a prompts:/ URI.")
    rest = text[len("prompts:/"):]
    if "@" in rest:
        name, _, alias = rest.partition("@")
        if alias.lower() == "latest":
            return check_prompt_name(name), None, None
        return check_prompt_name(name), None, check_alias(alias)
    name, sep, which = rest.partition("/")
    if not sep or not which.isdigit():
        raise InvalidParameterError(
            f"Prompt URI {uri!r} is incomplete: write prompts:/<name>/<version>, "
            "prompts:/<name>@<alias> or prompts:/<name>@latest.")
    return check_prompt_name(name), str(version_number(which)), None


def resolve_prompt(store: Store, name: str, version: str | None, alias: str | None
                   ) -> ModelVersion:
    """The registry version holding a prompt's version (the newest when neither is given).

    :param store: the store whose registry to look in.
    :param name: the prompt's name.
    :param version: a version number, or None.
    :param alias: an alias, or None.
    :raises NotFoundError: when there is no such prompt or version.
    :raises InvalidParameterError: when the name is a model's, not a prompt's.
    """
    try:
        stored = store.get_registered_model(name).name
    except NotFoundError:
        raise NotFoundError(f"No prompt named {name!r}; register it with "
                            "mlnb.genai.register_prompt(name, template).") from None
    if not store.is_prompt(stored):
        raise InvalidParameterError(
            f"{stored!r} is a registered model, not a prompt: load it with "
            f"mlnb.pyfunc.load_model('models:/{stored}/<version>').")
    if alias is not None:
        return store.get_model_version_by_alias(stored, alias)
    if version is not None:
        return store.get_model_version(stored, version)
    newest = store.newest_version(stored)
    if newest is None:
        raise NotFoundError(f"Prompt {stored!r} has no version.")
    return newest
