"""REST handlers for the prompt registry and GenAI evaluations: prompts, their versions and
aliases; an experiment's evaluation runs; a comparison of evaluation runs; promoting the winner.

They call :mod:`mlnb.genai` with the server's store, so the REST API and the Python API apply
the same rules (prompt names, aliases, which run wins).
"""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from mlnb.entities import ViewType
from mlnb.genai.compare import compare
from mlnb.genai.compare_data import DEFAULT_MAX_INPUTS, comparison_data
from mlnb.genai.evaluation import MODEL_TAG, PROMPT_TAG, RUN_TYPE, RUN_TYPE_TAG
from mlnb.genai.prompts import (
    LINKED_PROMPTS_TAG,
    Prompt,
    PromptVersion,
    delete_prompt_alias,
    get_prompt,
    load_prompt,
    search_prompt_versions,
    search_prompts,
    set_prompt_alias,
)
from mlnb.server.base import MAX_INT_ARG, MlnbHandler

MAX_PROMPTS = 1000
MAX_RUN_IDS = 20
"""At most this many runs in one comparison."""


def prompt_json(prompt: Prompt) -> dict[str, Any]:
    """A prompt's metadata as JSON data.

    :param prompt: the prompt.
    """
    return {"name": prompt.name, "description": prompt.description, "tags": prompt.tags,
            "aliases": {a: str(v) for a, v in prompt.aliases.items()},
            "creation_timestamp": prompt.creation_timestamp,
            "latest_version": prompt.latest_version}


def version_json(version: PromptVersion) -> dict[str, Any]:
    """A prompt version as JSON data: the template (text, or chat messages), its type, commit
    message, tags, aliases, model configuration and response format (each a dict or null).

    :param version: the prompt version.
    """
    return {"name": version.name, "version": version.version, "template": version.template,
            "prompt_type": version.prompt_type, "commit_message": version.commit_message,
            "tags": version.tags, "aliases": version.aliases,
            "creation_timestamp": version.creation_timestamp, "user_id": version.user_id,
            "model_config": version.model_config, "response_format": version.response_format}


def version_arg(raw: Any) -> int:
    """A prompt version number from a path or a JSON body (400 for anything else).

    :param raw: the version as sent: digits, or a JSON integer.
    """
    text = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw
    if not isinstance(text, str) or not text.isascii() or not text.isdigit() or len(text) > 18:
        raise web.HTTPError(400, f"A prompt version is a number, not {str(raw)[:40]!r}.")
    number = int(text)
    if not 1 <= number <= MAX_INT_ARG:
        raise web.HTTPError(400, f"A prompt version is a number from 1, not {number}.")
    return number


class PromptsHandler(MlnbHandler):
    """``GET prompts?filter=``: the prompts (never models) matching a registry filter, by name."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """``GET prompts``: the prompts."""
        filter_string = self.get_query_argument("filter", "") or None
        store = self.store()
        found = await self.blocking(
            lambda: search_prompts(filter_string, MAX_PROMPTS, store=store))
        self.send_json({"prompts": [prompt_json(p) for p in found]})


class PromptHandler(MlnbHandler):
    """``GET prompts/<name>``: the prompt and every version (newest first), each with its
    template, commit message, tags and aliases."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        """``GET prompts/<name>``."""
        store = self.store()

        def detail() -> dict[str, Any]:
            prompt = get_prompt(name, store=store)
            versions = search_prompt_versions(prompt.name, store=store)
            return {"prompt": prompt_json(prompt), "versions": [version_json(v) for v in versions]}

        self.send_json(await self.blocking(detail))


class PromptVersionHandler(MlnbHandler):
    """``GET prompts/<name>/versions/<version>``: one version of a prompt."""

    @web.authenticated
    @authorized
    async def get(self, name: str, version: str) -> None:
        """``GET prompts/<name>/versions/<version>``."""
        number = version_arg(version)
        store = self.store()
        found = await self.blocking(lambda: load_prompt(name, number, store=store))
        assert found is not None  # allow_missing is False: a missing version raised
        self.send_json({"version": version_json(found)})


class PromptAliasHandler(MlnbHandler):
    """``PUT prompts/<name>/aliases/<alias>`` with ``{"version"}`` points the alias at a version
    (moving it); ``DELETE`` removes it. Both are recorded as the logged-in user."""

    @web.authenticated
    @authorized
    async def put(self, name: str, alias: str) -> None:
        """``PUT prompts/<name>/aliases/<alias>``."""
        body = self.json_body()
        if "version" not in body:
            raise web.HTTPError(400, 'Send {"version": <version number>}.')
        version = version_arg(body["version"])
        await self.require_writable()
        store, user = self.store(), self.user_name()
        await self.blocking(lambda: set_prompt_alias(name, alias, version, store=store,
                                                     user_id=user))
        self.send_json({"name": name, "alias": alias, "version": str(version)})

    @web.authenticated
    @authorized
    async def delete(self, name: str, alias: str) -> None:
        """``DELETE prompts/<name>/aliases/<alias>``."""
        self.require_json()
        await self.require_writable()
        store, user = self.store(), self.user_name()
        await self.blocking(lambda: delete_prompt_alias(name, alias, store=store, user_id=user))
        self.send_json({"name": name, "alias": alias, "deleted": True})


def evaluation_json(run: Any) -> dict[str, Any]:
    """A GenAI evaluation run as the sidebar lists it.

    :param run: the run.
    """
    tags = run.data.tags
    return {"run_id": run.info.run_id, "run_name": run.info.run_name, "status": run.info.status,
            "start_time": run.info.start_time, "prompt": tags.get(PROMPT_TAG, ""),
            "model": tags.get(MODEL_TAG, ""),
            "linked_prompts": _linked(tags.get(LINKED_PROMPTS_TAG)),
            "metrics": dict(run.data.metrics)}


def _linked(raw: str | None) -> list[dict[str, str]]:
    try:
        found = json.loads(raw or "[]")
    except ValueError:
        return []
    return [{"name": str(p.get("name")), "version": str(p.get("version"))}
            for p in found if isinstance(p, dict)] if isinstance(found, list) else []


class GenaiEvaluationsHandler(MlnbHandler):
    """``GET experiments/<id>/genai-evaluations?limit=&offset=``: the experiment's runs logged
    by ``mlnb.genai.evaluate``, newest first, with their prompt, model and metrics."""

    @web.authenticated
    @authorized
    async def get(self, experiment_id: str) -> None:
        """``GET experiments/<id>/genai-evaluations``."""
        limit, offset = self.page()
        client = self.client()

        def query() -> list[dict[str, Any]]:
            client.get_experiment(experiment_id)  # a 404 naming it, not an empty page
            found = client.store.search_runs(
                [experiment_id], f"tags.`{RUN_TYPE_TAG}` = '{RUN_TYPE}'", ViewType.ACTIVE_ONLY,
                limit, ["attributes.start_time DESC"], offset)
            return [evaluation_json(r) for r in found]

        runs = await self.blocking(query)
        self.send_json({"runs": runs, "offset": offset, "limit": limit,
                        "next_offset": offset + len(runs) if len(runs) == limit else None})


def _run_ids(values: Any) -> list[str]:
    if (not isinstance(values, list) or not values
            or not all(isinstance(v, str) and v for v in values)):
        raise web.HTTPError(400, "Name the evaluation runs to compare: run_id=<id> (two or more).")
    if len(values) > MAX_RUN_IDS:
        raise web.HTTPError(400, f"Compare at most {MAX_RUN_IDS} runs at a time.")
    return list(values)


def _lower_is_better(values: Any) -> dict[str, bool]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise web.HTTPError(400, '"lower_is_better" must be a list of scorer names.')
    return {v: False for v in values}


class GenaiCompareHandler(MlnbHandler):
    """``GET genai/compare?run_id=<a>&run_id=<b>[&lower_is_better=<scorer>][&max_inputs=]``: what
    :func:`mlnb.genai.compare` computes over the runs, as JSON data
    (:func:`mlnb.genai.compare_data.comparison_data`)."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """``GET genai/compare``."""
        run_ids = _run_ids(self.get_query_arguments("run_id"))
        better = _lower_is_better(self.get_query_arguments("lower_is_better"))
        max_inputs = self.int_arg("max_inputs", DEFAULT_MAX_INPUTS, 1, 5000)
        client = self.client()

        def data() -> dict[str, Any]:
            comparison = compare(run_ids, greater_is_better=better, client=client)
            return comparison_data(comparison, max_inputs)

        self.send_json(await self.blocking(data))


class GenaiPromoteHandler(MlnbHandler):
    """``POST genai/promote`` with ``{"run_ids": [...], "alias": "production", "scorer": <name>,
    "lower_is_better": [...]}``: compare the runs and point the prompt alias at the prompt version
    of the run that wins on the scorer (the first shared scorer when none is named)."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        """``POST genai/promote``."""
        body = self.json_body()
        run_ids = _run_ids(body.get("run_ids"))
        alias = body.get("alias", "production")
        scorer = body.get("scorer")
        if not isinstance(alias, str) or not alias:
            raise web.HTTPError(400, '"alias" must be an alias name, e.g. "production".')
        if scorer is not None and not isinstance(scorer, str):
            raise web.HTTPError(400, '"scorer" must be a scorer name.')
        better = _lower_is_better(body.get("lower_is_better", []))
        await self.require_writable()
        client, user = self.client(), self.user_name()

        def promote() -> dict[str, Any]:
            comparison = compare(run_ids, greater_is_better=better, client=client)
            winner = comparison.winner(scorer)
            promoted = comparison.promote(alias, scorer, user_id=user)
            return {"name": promoted.name, "version": promoted.version, "alias": alias,
                    "run_id": winner.run_id, "scorer": scorer or comparison.scorers[0]}

        self.send_json(await self.blocking(promote))
