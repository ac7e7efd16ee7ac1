"""What the registry accepts: model names, version numbers, aliases, stages, sources and
descriptions, each checked (or made canonical) before any SQL runs.

Model names are checked against URL and shell syntax: MLflow's CVE-2024-3099 used URL-encoded
names, and CVE-2026-0596 passed a model URI to ``bash -c``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from mlnb.entities import ModelVersionStage
from mlnb.errors import InvalidParameterError
from mlnb.store import validation
from mlnb.store.artifacts import safe_relpath

MAX_MODEL_NAME_LENGTH = 250
MAX_DESCRIPTION_LENGTH = 100_000
MAX_VERSION = 2**63 - 1
_SOURCE = re.compile(r"^runs:/([0-9a-f]{32})/(.+)$")
_ALIAS = re.compile(r"^[A-Za-z0-9_\-]{1,255}$")
_URL_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
# '/' and '@' separate the parts of a models:/ URI; the rest are shell or URL syntax that a name
# never needs (CVE-2026-0596 passed a model URI to bash -c; CVE-2024-3099 used URL-encoded names).
_FORBIDDEN = ("/", "@", "#", "?", ";", "`", "$(", "\\")


def canonical_model_name(name: Any) -> str:
    """A registered model's name in its one canonical form (NFC, no surrounding blanks).

    Refuses names that could be confused with another or misread in a ``models:/`` URI:
    control and invisible characters, URL escapes such as ``%20``, ``/``, ``@``, ``#``, ``?``,
    ``;``, backticks, ``$(`` and backslashes.

    :param name: the name as given.
    """
    if not isinstance(name, str):
        raise InvalidParameterError(f"A model name must be text, not {type(name).__name__}.")
    text = unicodedata.normalize("NFC", name).strip()
    if not text:
        raise InvalidParameterError("A model name must not be empty; give it a name such as 'churn'.")
    if len(text) > MAX_MODEL_NAME_LENGTH:
        raise InvalidParameterError(
            f"Model name is {len(text)} characters long; the limit is {MAX_MODEL_NAME_LENGTH}."
        )
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text):
        raise InvalidParameterError(
            f"Model name {text!r} contains control or invisible characters; remove them."
        )
    if _URL_ESCAPE.search(text):
        raise InvalidParameterError(
            f"Model name {text!r} contains a URL escape ('%' and two hex digits); write the "
            "character itself, or leave it out."
        )
    bad = [token for token in _FORBIDDEN if token in text]
    if bad:
        raise InvalidParameterError(
            f"Model name {text!r} contains {', '.join(repr(b) for b in bad)}, which model names "
            "may not contain (they have a meaning in models:/ URIs or in a shell)."
        )
    return text


def name_key(name: str) -> str:
    """What two names must not share: same letters ignoring case and compatibility forms.

    :param name: a canonical name.
    """
    return unicodedata.normalize("NFKC", name).casefold()


def version_number(version: Any) -> int:
    """A version as an int: ``3``, ``"3"``; anything else is an error naming the value.

    :param version: the version as given.
    """
    problem = f"Model version must be a positive integer, not {version!r}."
    if isinstance(version, bool):
        raise InvalidParameterError(problem)
    if isinstance(version, int):
        number = version
    elif isinstance(version, str) and re.fullmatch(r"[0-9]+", version.strip()):
        # ASCII digits only: str.isdigit() also takes "²", which int() then refuses
        number = int(version.strip())
    else:
        raise InvalidParameterError(problem)
    if number < 1:
        raise InvalidParameterError(problem)
    if number > MAX_VERSION:  # both engines keep versions as 64-bit integers
        raise InvalidParameterError(f"Model version {version!r} is too large: no model has that "
                                    f"many versions (the largest is {MAX_VERSION}).")
    return number


def check_alias(alias: Any) -> str:
    """An alias: letters, digits, ``_`` and ``-``; not ``latest`` nor ``v<number>``.

    :param alias: the alias as given.
    """
    if not isinstance(alias, str) or not _ALIAS.match(alias):
        raise InvalidParameterError(
            f"Alias {alias!r} is not valid: use 1-255 letters, digits, '_' or '-' (e.g. 'champion')."
        )
    if alias.lower() == "latest" or re.fullmatch(r"[vV]\d+", alias):
        raise InvalidParameterError(
            f"Alias {alias!r} is reserved (it reads as a version); choose another, e.g. 'champion'."
        )
    return alias


def canonical_stage(stage: Any) -> str:
    """The canonical spelling of a stage given in any letter case.

    :param stage: the stage as given.
    :raises InvalidParameterError: for anything that is not a stage.
    """
    found = ModelVersionStage.canonical(stage) if isinstance(stage, str) else None
    if found is None:
        raise InvalidParameterError(
            f"{stage!r} is not a model stage; use one of {', '.join(ModelVersionStage.ALL)} "
            "(any case)."
        )
    return found


def check_source(source: Any) -> tuple[str, str]:
    """A version's source must be ``runs:/<run_id>/<path>``; returns (run_id, path).

    :param source: the source as given.
    """
    match = _SOURCE.match(source) if isinstance(source, str) else None
    if match is None:
        raise InvalidParameterError(
            f"Model version source {source!r} is refused: a source must be a runs:/<run_id>/<path> "
            "URI of a model logged in this store (a local path outside the store is never accepted)."
        )
    return match.group(1), safe_relpath(match.group(2))


def check_description(text: Any) -> str:
    """A description: text of at most 100,000 characters (None becomes "").

    :param text: the description as given.
    """
    if text is None:
        return ""
    if not isinstance(text, str):
        raise InvalidParameterError(f"A description must be text, not {type(text).__name__}.")
    if len(text) > MAX_DESCRIPTION_LENGTH:
        raise InvalidParameterError(
            f"Description is {len(text)} characters long; the limit is {MAX_DESCRIPTION_LENGTH}."
        )
    return text


def tag_rows(tags: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Checked ``(key, value)`` rows of a registry tag dict.

    :param tags: the tags, or None.
    """
    return [(validation.check_key(k, "Tag"), validation.tag_value(k, v))
            for k, v in (tags or {}).items()]
