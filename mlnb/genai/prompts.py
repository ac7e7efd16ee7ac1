"""The prompt registry: versioned prompt templates kept in the model registry as MLflow keeps them.

A prompt is a registered model tagged ``mlflow.prompt.is_prompt = "true"``; each of its versions
is a model version tagged the same, whose tag ``mlflow.prompt.text`` holds the template (a chat
template as JSON), ``_mlflow_prompt_type`` says ``text`` or ``chat``, the commit message is the
description and the source is ``prompt-template``. So ``prompts:/name/3``, ``prompts:/name@alias``
and ``prompts:/name@latest`` mean what they mean in MLflow, and the registry's model listings
leave prompts out (:func:`mlnb.store.registry.prompt_scope`).

Templates use ``{{ variable }}`` (MLflow's pattern); :meth:`PromptVersion.format` fills them in
one pass, so a value that itself contains ``{{x}}`` is never filled again. A template with
``{% ... %}`` statements is a Jinja2 template and is rendered by Jinja2, sandboxed by default
(:mod:`mlnb.genai.prompt_jinja`). A version may also carry a model configuration and a response
format, in MLflow's tags (:mod:`mlnb.genai.prompt_config`).
"""

from __future__ import annotations

import contextvars
import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from mlnb.capture.environment import current_user
from mlnb.entities import ModelVersion, RegisteredModel
from mlnb.errors import InvalidParameterError, NotFoundError
from mlnb.genai.prompt_config import (
    MODEL_CONFIG_TAG,
    RESPONSE_FORMAT_TAG,
    PromptModelConfig,
    model_config_json,
    response_format_json,
)
from mlnb.genai.prompt_jinja import is_jinja2_template, render
from mlnb.registry.uri import check_prompt_name, parse_prompt_uri, resolve_prompt
from mlnb.store import Store
from mlnb.store.registry import PROMPT_TAG, PROMPT_TEXT_TAG
from mlnb.tracking.client import current_store

__all__ = ["Prompt", "PromptModelConfig", "PromptVersion", "delete_prompt", "delete_prompt_alias",
           "delete_prompt_model_config", "delete_prompt_tag", "delete_prompt_version",
           "get_prompt", "load_prompt", "register_prompt", "search_prompt_versions",
           "search_prompts", "set_prompt_alias", "set_prompt_model_config", "set_prompt_tag"]

VARIABLE = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*(?:\.[a-zA-Z_][a-zA-Z0-9_]*)*)\s*\}\}")
"""MLflow's ``{{ variable }}`` pattern (``PROMPT_TEMPLATE_VARIABLE_PATTERN``)."""
PROMPT_TYPE_TAG = "_mlflow_prompt_type"
LINKED_PROMPTS_TAG = "mlflow.linkedPrompts"
"""MLflow's run tag listing the prompt versions a run used (JSON ``[{name, version}]``)."""
_RESERVED = (PROMPT_TAG, PROMPT_TEXT_TAG, PROMPT_TYPE_TAG, RESPONSE_FORMAT_TAG, MODEL_CONFIG_TAG)

Template = str | list[dict[str, Any]]


# --- a version and its template ---------------------------------------------------------------


@dataclass(frozen=True)
class PromptVersion:
    """One immutable version of a prompt.

    ``template`` is the text, or for a chat prompt a list of ``{"role", "content"}`` messages
    (a fresh copy on every read, so changing it changes nothing stored).
    """

    name: str
    version: int
    template_text: str
    prompt_type: str = "text"
    commit_message: str = ""
    tags_items: tuple[tuple[str, str], ...] = ()
    alias_names: tuple[str, ...] = ()
    creation_timestamp: int = 0
    user_id: str = ""
    response_format_text: str | None = None
    model_config_text: str | None = None

    @property
    def template(self) -> Template:
        """The template: text, or a list of chat messages."""
        if self.prompt_type == "chat":
            messages: list[dict[str, Any]] = json.loads(self.template_text)
            return messages
        return self.template_text

    @property
    def uri(self) -> str:
        """``prompts:/<name>/<version>``."""
        return f"prompts:/{self.name}/{self.version}"

    @property
    def tags(self) -> dict[str, str]:
        """The version's tags (without MLflow's internal prompt tags)."""
        return dict(self.tags_items)

    @property
    def aliases(self) -> list[str]:
        """The aliases that point at this version (when it was loaded)."""
        return list(self.alias_names)

    @property
    def response_format(self) -> dict[str, Any] | None:
        """The expected response's structure (e.g. a JSON schema), or None."""
        if self.response_format_text is None:
            return None
        found: dict[str, Any] = json.loads(self.response_format_text)
        return found

    @property
    def model_config(self) -> dict[str, Any] | None:
        """The model and its settings (``PromptModelConfig.to_dict()``'s shape), or None."""
        if self.model_config_text is None:
            return None
        found: dict[str, Any] = json.loads(self.model_config_text)
        return found

    @property
    def is_text_prompt(self) -> bool:
        """True for a text template, False for a chat template."""
        return self.prompt_type == "text"

    @property
    def variables(self) -> set[str]:
        """The names of the template's ``{{ variables }}`` (for a Jinja2 template too, as MLflow
        gives them: the ``{{ name }}`` expressions, not names used only in ``{% %}``)."""
        return set(VARIABLE.findall(self._texts()))

    def _texts(self) -> str:
        if self.prompt_type == "chat":
            return "\n".join(str(m.get("content", "")) for m in self._messages())
        return self.template_text

    def _messages(self) -> list[dict[str, Any]]:
        messages = self.template
        assert isinstance(messages, list)
        return messages

    def format(self, allow_partial: bool = False, use_jinja_sandbox: bool = True,
               **variables: Any) -> Any:
        """The template with its variables filled in: text, or a list of chat messages.

        A Jinja2 template (one with ``{% ... %}``) is rendered by Jinja2 with ``variables`` as
        its context, as MLflow renders it (an undefined name renders empty).

        :param allow_partial: fill the variables given and return a new :class:`PromptVersion`
            holding the rest, instead of failing on missing ones (not for Jinja2 templates,
            which are rendered whole).
        :param use_jinja_sandbox: render a Jinja2 template in Jinja2's sandbox (the default);
            False renders it unrestricted, for trusted templates only.
        :param variables: a value for each ``{{ variable }}`` (converted with ``str``).
        :raises InvalidParameterError: naming every missing variable (unless ``allow_partial``)
            and every variable the template does not have; for a Jinja2 template, when jinja2
            is not installed or it cannot be rendered (syntax, sandbox).
        """
        if is_jinja2_template(self.template):
            if allow_partial:
                raise InvalidParameterError(
                    f"Prompt {self.name!r} version {self.version} is a Jinja2 template, rendered "
                    "whole: allow_partial does not apply to it. Pass every value it uses.")
            return render(self.name, self.version, self.template, use_jinja_sandbox, variables)
        known = self.variables
        missing = sorted(known - set(variables))
        unknown = sorted(set(variables) - known)
        if unknown or (missing and not allow_partial):
            raise InvalidParameterError(_format_problem(self, missing if not allow_partial else [],
                                                        unknown))
        if self.prompt_type == "chat":
            filled_chat = [dict(m, content=_fill(str(m.get("content", "")), variables))
                           for m in self._messages()]
            if missing:
                return replace(self, template_text=json.dumps(filled_chat))
            return filled_chat
        filled = _fill(self.template_text, variables)
        if missing:
            return replace(self, template_text=filled)
        return filled

    def to_single_brace_format(self) -> Template:
        """The template with ``{{ x }}`` written ``{x}`` (for ``str.format``-style libraries)."""
        def single(text: str) -> str:
            return VARIABLE.sub(lambda m: "{" + m.group(1) + "}", text)

        if self.prompt_type == "chat":
            return [dict(m, content=single(str(m.get("content", "")))) for m in self._messages()]
        return single(self.template_text)

    def __repr__(self) -> str:
        shown = self.template_text if len(self.template_text) <= 60 else self.template_text[:57] + "..."
        return f"PromptVersion(name={self.name!r}, version={self.version}, template={shown!r})"


def _fill(text: str, values: Mapping[str, Any]) -> str:
    # One pass over the template: a value holding "{{x}}" is left as it is, never filled again.
    return VARIABLE.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0),
                        text)


def _format_problem(prompt: PromptVersion, missing: list[str], unknown: list[str]) -> str:
    parts = []
    if missing:
        parts.append(f"missing variable(s) {', '.join(missing)}")
    if unknown:
        parts.append(f"unknown variable(s) {', '.join(unknown)} (not in the template)")
    has = ", ".join(sorted(prompt.variables)) or "none"
    hint = " To fill some variables now and the rest later, pass allow_partial=True." if missing else ""
    return (f"Cannot format prompt {prompt.name!r} version {prompt.version}: {'; '.join(parts)}. "
            f"The template's variables: {has}.{hint}")


def check_template(template: Any) -> tuple[str, str]:
    """``(stored text, type)`` of a template: text, or chat messages stored as JSON.

    :param template: a string, or a list of ``{"role": str, "content": str}`` dicts.
    :raises InvalidParameterError: for anything else, naming the first bad message.
    """
    if isinstance(template, str):
        if not template.strip():
            raise InvalidParameterError("A prompt template must not be empty.")
        return template, "text"
    if not isinstance(template, list) or not template:
        raise InvalidParameterError(
            "A prompt template must be text or a non-empty list of chat messages "
            f"({{'role': ..., 'content': ...}}), not {type(template).__name__}.")
    for i, message in enumerate(template):
        if (not isinstance(message, dict) or not isinstance(message.get("role"), str)
                or not isinstance(message.get("content"), str)):
            raise InvalidParameterError(
                f"Chat message {i} of the template must be a dict with text 'role' and 'content' "
                f"(e.g. {{'role': 'user', 'content': 'Hi {{{{name}}}}'}}), not {message!r:.200}.")
    return json.dumps(template), "chat"


def from_model_version(mv: ModelVersion) -> PromptVersion:
    """The prompt version a registry version holds.

    :param mv: a version of a prompt.
    :raises InvalidParameterError: when the version holds no prompt text.
    """
    if PROMPT_TEXT_TAG not in mv.tags:
        raise InvalidParameterError(f"{mv.name!r} version {mv.version} holds no prompt template.")
    kind = mv.tags.get(PROMPT_TYPE_TAG, "text")
    return PromptVersion(
        name=mv.name, version=int(mv.version), template_text=mv.tags[PROMPT_TEXT_TAG],
        prompt_type="chat" if kind == "chat" else "text", commit_message=mv.description or "",
        tags_items=tuple(sorted((k, v) for k, v in mv.tags.items() if k not in _RESERVED)),
        alias_names=tuple(mv.aliases), creation_timestamp=mv.creation_timestamp,
        user_id=mv.user_id, response_format_text=mv.tags.get(RESPONSE_FORMAT_TAG),
        model_config_text=mv.tags.get(MODEL_CONFIG_TAG))


# --- which prompt versions a piece of work loaded --------------------------------------------

_LOADED: contextvars.ContextVar[list[PromptVersion] | None] = contextvars.ContextVar(
    "mlnb_genai_loaded_prompts", default=None)


@contextmanager
def recording_loads() -> Iterator[list[PromptVersion]]:
    """Collect every prompt version :func:`load_prompt` returns inside the block (in this context:
    ``evaluate`` uses it to record the prompts its ``predict_fn`` used)."""
    loaded: list[PromptVersion] = []
    token = _LOADED.set(loaded)
    try:
        yield loaded
    finally:
        _LOADED.reset(token)


# --- the registry functions --------------------------------------------------------------------


def _store(store: Store | None = None) -> Store:
    return store if store is not None else current_store()


def register_prompt(name: str, template: Template, commit_message: str | None = None,
                    tags: dict[str, Any] | None = None, response_format: Any = None,
                    model_config: PromptModelConfig | dict[str, Any] | None = None
                    ) -> PromptVersion:
    """Register a new immutable version of a prompt (creating the prompt on its first version).

    :param name: the prompt's name: letters, digits, ``_``, ``.`` and ``-``.
    :param template: text with ``{{ variables }}``, or a list of chat messages
        ``{"role": ..., "content": ...}`` whose contents have them.
    :param commit_message: what changed in this version.
    :param tags: tags of this version.
    :param response_format: the structure expected of a response: a pydantic model class
        (stored as its JSON schema) or a dict; read back as ``response_format``.
    :param model_config: the model and its settings: a :class:`PromptModelConfig` or a dict
        (unknown keys kept as extra settings); read back as ``model_config``.
    :raises InvalidParameterError: for a bad name, template, response format or model setting
        (naming the field and what it allows), a reserved tag, or a name that belongs to a
        registered model.
    """
    check_prompt_name(name)
    text, kind = check_template(template)
    reserved = sorted(set(tags or {}) & set(_RESERVED))
    if reserved:
        raise InvalidParameterError(f"Tag(s) {reserved} are MLflow's own prompt tags; use others.")
    own: dict[str, Any] = {PROMPT_TYPE_TAG: kind}
    if response_format is not None and response_format != {}:  # as MLflow: {} stores nothing
        own[RESPONSE_FORMAT_TAG] = response_format_json(response_format)
    if model_config is not None and model_config != {}:
        own[MODEL_CONFIG_TAG] = model_config_json(model_config)
    mv = _store().create_prompt_version(name, text, {**own, **(tags or {})},
                                        commit_message, current_user())
    return from_model_version(mv)


def load_prompt(name_or_uri: str, version: int | str | None = None,
                allow_missing: bool = False, *, store: Store | None = None) -> PromptVersion | None:
    """A prompt version by URI (``prompts:/name/3``, ``prompts:/name@alias``,
    ``prompts:/name@latest``) or by name (the newest version, or ``version``).

    :param name_or_uri: a ``prompts:/`` URI or a prompt's name.
    :param version: with a name: the version number (default the newest).
    :param allow_missing: return None instead of raising when there is no such prompt or version.
    :param store: the store to read (default the current one).
    :raises NotFoundError: when there is none (and not ``allow_missing``).
    :raises InvalidParameterError: for a malformed URI or name, or a URI with ``version``.
    """
    if not isinstance(name_or_uri, str):
        raise InvalidParameterError(
            f"load_prompt takes a prompts:/ URI or a prompt name, not {type(name_or_uri).__name__}.")
    if name_or_uri.startswith("prompts:/"):
        if version is not None:
            raise InvalidParameterError(
                f"{name_or_uri!r} already names a version; pass version= only with a bare name.")
        name, number, alias = parse_prompt_uri(name_or_uri)
    else:
        name, number, alias = check_prompt_name(name_or_uri), None, None
        if version is not None:
            number = str(version)
    try:
        prompt = from_model_version(resolve_prompt(_store(store), name, number, alias))
    except NotFoundError:
        if allow_missing:
            return None
        raise
    loaded = _LOADED.get()
    if loaded is not None:
        loaded.append(prompt)
    return prompt


@dataclass(frozen=True)
class Prompt:
    """A prompt (all its versions): name, description, tags, aliases and the newest version."""

    name: str
    description: str
    tags: dict[str, str]
    aliases: dict[str, int]
    creation_timestamp: int
    latest_version: int | None


def _prompt(model: RegisteredModel, store: Store) -> Prompt:
    newest = store.newest_version(model.name)
    return Prompt(name=model.name, description=model.description,
                  tags={k: v for k, v in model.tags.items() if k != PROMPT_TAG},
                  aliases={a: int(v) for a, v in model.aliases.items()},
                  creation_timestamp=model.creation_timestamp,
                  latest_version=int(newest.version) if newest is not None else None)


def _prompt_name(name: str, store: Store | None = None) -> str:
    """The stored name of an existing prompt (not a model's)."""
    check_prompt_name(name)
    store = _store(store)
    try:
        stored = store.get_registered_model(name).name
    except NotFoundError:
        raise NotFoundError(f"No prompt named {name!r}.") from None
    if not store.is_prompt(stored):
        raise InvalidParameterError(f"{stored!r} is a registered model, not a prompt.")
    return stored


def get_prompt(name: str, *, store: Store | None = None) -> Prompt:
    """A prompt's metadata.

    :param name: the prompt's name.
    :param store: the store to read (default the current one).
    :raises NotFoundError: when there is no such prompt.
    """
    store = _store(store)
    return _prompt(store.get_registered_model(_prompt_name(name, store)), store)


def search_prompt_versions(name: str, *, store: Store | None = None) -> list[PromptVersion]:
    """Every version of a prompt, newest first, each with its aliases.

    :param name: the prompt's name.
    :param store: the store to read (default the current one).
    :raises NotFoundError: when there is no such prompt.
    """
    store = _store(store)
    stored = _prompt_name(name, store)
    quoted = stored.replace("\\", "\\\\").replace("'", "\\'")
    found = store.search_model_versions(f"name = '{quoted}' AND tags.`{PROMPT_TAG}` = 'true'",
                                        order_by=["version_number DESC"])
    return [from_model_version(mv) for mv in found]


def search_prompts(filter_string: str | None = None, max_results: int = 1000, *,
                   store: Store | None = None) -> list[Prompt]:
    """Prompts (never models) matching a filter such as ``"name LIKE 'qa-%'"`` or
    ``"tags.team = 'search'"``, by name.

    :param filter_string: the registry's search grammar over ``name`` and ``tags.*``.
    :param max_results: at most this many.
    :param store: the store to read (default the current one).
    """
    wanted = f"tags.`{PROMPT_TAG}` = 'true'"
    text = f"({filter_string}) AND {wanted}" if filter_string and filter_string.strip() else wanted
    store = _store(store)
    return [_prompt(m, store) for m in store.search_registered_models(text, max_results)]


def set_prompt_alias(name: str, alias: str, version: int | str, *, store: Store | None = None,
                     user_id: str | None = None) -> None:
    """Point ``alias`` at a version of a prompt (moving it from another version).

    :param name: the prompt's name.
    :param alias: the alias, e.g. ``production`` (loadable as ``prompts:/<name>@production``).
    :param version: the version number.
    :param store: the store to change (default the current one).
    :param user_id: who moves it, for the registry history (default the current user).
    """
    store = _store(store)
    store.set_registered_model_alias(_prompt_name(name, store), alias, version,
                                     current_user() if user_id is None else user_id)


def delete_prompt_alias(name: str, alias: str, *, store: Store | None = None,
                        user_id: str | None = None) -> None:
    """Remove an alias of a prompt.

    :param name: the prompt's name.
    :param alias: the alias.
    :param store: the store to change (default the current one).
    :param user_id: who removes it, for the registry history (default the current user).
    :raises NotFoundError: when the prompt has no such alias.
    """
    store = _store(store)
    store.delete_registered_model_alias(_prompt_name(name, store), alias,
                                        current_user() if user_id is None else user_id)


def delete_prompt_version(name: str, version: int | str) -> None:
    """Delete one version of a prompt (its aliases go with it).

    :param name: the prompt's name.
    :param version: the version number.
    """
    _store().delete_model_version(_prompt_name(name), version, current_user())


def delete_prompt(name: str) -> None:
    """Delete a prompt with all its versions, tags and aliases.

    :param name: the prompt's name.
    """
    _store().delete_registered_model(_prompt_name(name), current_user())


def set_prompt_tag(name: str, key: str, value: Any) -> None:
    """Set a tag of a prompt (of all its versions, unlike a version's own tags).

    :param name: the prompt's name.
    :param key: the tag's name.
    :param value: any value, stored as text.
    """
    if key in _RESERVED:
        raise InvalidParameterError(f"Tag {key!r} is MLflow's own prompt tag; use another.")
    _store().set_registered_model_tag(_prompt_name(name), key, value)


def delete_prompt_tag(name: str, key: str) -> None:
    """Delete a tag of a prompt.

    :param name: the prompt's name.
    :param key: the tag's name.
    """
    if key in _RESERVED:
        raise InvalidParameterError(f"Tag {key!r} marks the prompt as a prompt; it stays.")
    _store().delete_registered_model_tag(_prompt_name(name), key)


def set_prompt_model_config(name: str, version: int | str,
                            model_config: PromptModelConfig | dict[str, Any]) -> None:
    """Set or replace the model configuration of a prompt version (unlike its template, it may
    change after the version is registered; MLflow's ``set_prompt_model_config``).

    :param name: the prompt's name.
    :param version: the version number.
    :param model_config: a :class:`PromptModelConfig` or a dict (unknown keys kept as extra
        settings).
    :raises InvalidParameterError: for a bad setting, naming its field.
    :raises NotFoundError: when there is no such prompt or version.
    """
    text = model_config_json(model_config)
    _store().set_model_version_tag(_prompt_name(name), version, MODEL_CONFIG_TAG, text)


def delete_prompt_model_config(name: str, version: int | str) -> None:
    """Remove the model configuration of a prompt version.

    :param name: the prompt's name.
    :param version: the version number.
    :raises NotFoundError: when there is no such prompt or version, or it has no model config.
    """
    _store().delete_model_version_tag(_prompt_name(name), version, MODEL_CONFIG_TAG)
