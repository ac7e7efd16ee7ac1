"""The prompt registry: versions stored as MLflow stores prompts, URIs, aliases, format, search."""

from __future__ import annotations

import json

import pytest
from test_models_data import classifier

import mlnb
from mlnb.errors import InvalidParameterError, NotFoundError
from mlnb.genai import (
    delete_prompt,
    delete_prompt_alias,
    delete_prompt_tag,
    delete_prompt_version,
    get_prompt,
    load_prompt,
    register_prompt,
    search_prompts,
    set_prompt_alias,
    set_prompt_tag,
)
from mlnb.mlflow_server import handle
from mlnb.mlflow_server.context import Context
from mlnb.mlflow_server.protocol import ApiRequest
from mlnb.tracking.client import current_store

pytestmark = pytest.mark.both_backends


def test_versions_are_stored_as_mlflow_stores_prompts(tracking):
    v1 = register_prompt("qa", "Answer {{question}} briefly.", commit_message="first",
                         tags={"team": "search"})
    v2 = register_prompt("qa", [{"role": "system", "content": "Be {{ style }}."},
                                {"role": "user", "content": "{{question}}"}])
    assert (v1.version, v2.version) == (1, 2)
    assert v1.uri == "prompts:/qa/1" and v1.commit_message == "first"
    assert v1.tags == {"team": "search"}
    client = mlnb.MlnbClient()
    model = client.get_registered_model("qa")
    assert model.tags == {"mlflow.prompt.is_prompt": "true"}
    mv = client.get_model_version("qa", 1)
    assert mv.tags["mlflow.prompt.text"] == "Answer {{question}} briefly."
    assert mv.tags["_mlflow_prompt_type"] == "text"
    assert mv.tags["mlflow.prompt.is_prompt"] == "true"
    assert mv.description == "first" and mv.source == "prompt-template" and mv.run_id is None
    chat = client.get_model_version("qa", 2)
    assert chat.tags["_mlflow_prompt_type"] == "chat"
    assert json.loads(chat.tags["mlflow.prompt.text"])[1] == {"role": "user", "content": "{{question}}"}


def test_load_by_uri_alias_latest_and_name(tracking):
    for text in ("one {{x}}", "two {{x}}", "three {{x}}"):
        register_prompt("p.v-1_a", text)
    set_prompt_alias("p.v-1_a", "production", 2)
    assert load_prompt("prompts:/p.v-1_a/1").template == "one {{x}}"
    prod = load_prompt("prompts:/p.v-1_a@production")
    assert prod is not None and prod.template == "two {{x}}" and prod.aliases == ["production"]
    assert load_prompt("prompts:/p.v-1_a@latest").version == 3  # type: ignore[union-attr]
    assert load_prompt("p.v-1_a").version == 3  # type: ignore[union-attr]
    assert load_prompt("p.v-1_a", version=1).template == "one {{x}}"  # type: ignore[union-attr]
    set_prompt_alias("p.v-1_a", "production", 3)  # moving the alias
    assert load_prompt("prompts:/p.v-1_a@production").version == 3  # type: ignore[union-attr]
    delete_prompt_alias("p.v-1_a", "production")
    with pytest.raises(NotFoundError, match="no alias 'production'"):
        load_prompt("prompts:/p.v-1_a@production")
    assert load_prompt("prompts:/missing/1", allow_missing=True) is None
    with pytest.raises(NotFoundError, match="No prompt named 'missing'"):
        load_prompt("missing")


@pytest.mark.parametrize("bad", ["prompts:/qa", "prompts:/qa/x", "prompts:/q a/1", "prompts:/qa@v1",
                                 "prompts:/qa/1; rm -rf /"])
def test_malformed_prompt_uris_are_refused(tracking, bad):
    register_prompt("qa", "hi")
    with pytest.raises(InvalidParameterError):
        load_prompt(bad)


def test_names_follow_mlflow_rule_and_templates_are_checked(tracking):
    for name in ("has space", "a/b", "", "é"):
        with pytest.raises(InvalidParameterError, match="letters, digits"):
            register_prompt(name, "x")
    with pytest.raises(InvalidParameterError, match="Chat message 1"):
        register_prompt("c", [{"role": "user", "content": "a"}, {"role": "user"}])
    with pytest.raises(InvalidParameterError, match="must not be empty"):
        register_prompt("c", "  ")
    with pytest.raises(InvalidParameterError, match="MLflow's own prompt tags"):
        register_prompt("c", "x", tags={"mlflow.prompt.text": "y"})
    assert search_prompts() == []  # nothing half-written


def test_format_names_every_missing_and_unknown_variable(tracking):
    p = register_prompt("f", "Hi {{ name }}, {{title}} of {{org.unit}}")
    assert p.variables == {"name", "title", "org.unit"}
    assert p.format(name="Ann", title="Dr", **{"org.unit": "R&D"}) == "Hi Ann, Dr of R&D"
    with pytest.raises(InvalidParameterError) as caught:
        p.format(name="Ann", nmae="typo", extra=1)
    message = str(caught.value)
    assert "missing variable(s) org.unit, title" in message
    assert "unknown variable(s) extra, nmae" in message
    partial = p.format(allow_partial=True, name="Ann")
    assert partial.template == "Hi Ann, {{title}} of {{org.unit}}"
    assert partial.format(title="Dr", **{"org.unit": "X"}) == "Hi Ann, Dr of X"
    # A value holding a template variable is not filled again (one pass).
    assert p.format(name="{{title}}", title="Dr", **{"org.unit": "u"}) == "Hi {{title}}, Dr of u"


def test_chat_format_and_immutability(tracking):
    p = register_prompt("chat", [{"role": "system", "content": "You are {{style}}."},
                                 {"role": "user", "content": "{{q}}"}])
    assert p.format(style="terse", q="2+2?") == [
        {"role": "system", "content": "You are terse."}, {"role": "user", "content": "2+2?"}]
    with pytest.raises(InvalidParameterError, match=r"missing variable\(s\) q"):
        p.format(style="terse")
    template = p.template
    assert isinstance(template, list)
    template[0]["content"] = "changed"
    assert p.template[0]["content"] == "You are {{style}}."  # type: ignore[index]
    with pytest.raises(AttributeError):
        p.version = 9  # type: ignore[misc]
    assert p.to_single_brace_format()[1] == {"role": "user", "content": "{q}"}  # type: ignore[index]


def test_prompts_and_models_never_mix_in_searches(tracking):
    client = mlnb.MlnbClient()
    client.create_registered_model("churn-model")
    register_prompt("qa-prompt", "x {{y}}")
    register_prompt("qa-other", "z")
    assert [m.name for m in client.search_registered_models()] == ["churn-model"]
    assert client.search_model_versions("name = 'qa-prompt'") == []
    # MLflow's clients add this term to list models; models lack the tag, yet are listed.
    mlflow_filter = "tag.`mlflow.prompt.is_prompt` != 'true'"
    assert [m.name for m in client.search_registered_models(mlflow_filter)] == ["churn-model"]
    asks = "tags.`mlflow.prompt.is_prompt` = 'true'"
    assert [m.name for m in client.search_registered_models(asks)] == ["qa-other", "qa-prompt"]
    assert [p.name for p in search_prompts()] == ["qa-other", "qa-prompt"]
    assert [p.name for p in search_prompts("name LIKE '%other' OR name = 'churn-model'")] == ["qa-other"]
    assert [p.name for p in search_prompts(max_results=1)] == ["qa-other"]
    # The MLflow REST API lists what MLflow's server lists.
    ctx = Context(current_store())
    listed = handle(ctx, ApiRequest("GET", "/api/2.0/mlflow/registered-models/search"))
    assert [m["name"] for m in listed.payload["registered_models"]] == ["churn-model"]
    prompts = handle(ctx, ApiRequest("GET", "/api/2.0/mlflow/registered-models/search",
                                     {"filter": [asks]}))
    assert [m["name"] for m in prompts.payload["registered_models"]] == ["qa-other", "qa-prompt"]


def test_a_name_is_either_a_model_or_a_prompt(tracking):
    client = mlnb.MlnbClient()
    client.create_registered_model("taken")
    with pytest.raises(InvalidParameterError, match="is a registered model, not a prompt"):
        register_prompt("taken", "x")
    register_prompt("words", "x")
    with mlnb.start_run():
        uri = mlnb.sklearn.log_model(classifier()[0], "model").model_uri
    with pytest.raises(InvalidParameterError, match="is a prompt, not a model"):
        mlnb.register_model(uri, "words")
    assert [v.version for v in client.search_model_versions(
        "tags.`mlflow.prompt.is_prompt` = 'true'")] == ["1"]
    with pytest.raises(InvalidParameterError, match=r"mlnb\.genai\.load_prompt"):
        mlnb.pyfunc.load_model("models:/words/1")
    with pytest.raises(InvalidParameterError, match="registered model, not a prompt"):
        load_prompt("taken")


def test_tags_delete_and_metadata(tracking):
    register_prompt("t", "a")
    register_prompt("t", "b")
    set_prompt_tag("t", "owner", "ann")
    set_prompt_alias("t", "staging", 1)
    prompt = get_prompt("t")
    assert prompt.tags == {"owner": "ann"} and prompt.latest_version == 2
    assert prompt.aliases == {"staging": 1}
    assert [p.name for p in search_prompts("tags.owner = 'ann'")] == ["t"]
    delete_prompt_tag("t", "owner")
    assert get_prompt("t").tags == {}
    with pytest.raises(InvalidParameterError, match="marks the prompt"):
        delete_prompt_tag("t", "mlflow.prompt.is_prompt")
    delete_prompt_version("t", 1)
    assert get_prompt("t").aliases == {}
    with pytest.raises(NotFoundError):
        load_prompt("prompts:/t/1")
    assert register_prompt("t", "c").version == 3  # numbers are never reused
    delete_prompt("t")
    assert search_prompts() == []
    with pytest.raises(NotFoundError):
        get_prompt("t")


def test_long_templates_up_to_mlflow_limit(tracking):
    long = "w " * 20_000 + "{{x}}"
    assert load_prompt(register_prompt("long", long).uri).template == long  # type: ignore[union-attr]
    with pytest.raises(InvalidParameterError, match="limit is 100,000"):
        register_prompt("long", "x" * 100_001)
