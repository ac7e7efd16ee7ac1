"""MLflow 3's prompt API beyond templates: response formats, model configurations (stored in
MLflow's tags, checked as MLflow checks them) and Jinja2 templates (sandboxed), each compared
with what the installed MLflow does for the same calls."""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any

import pytest

import mlnb
from mlnb.errors import InvalidParameterError
from mlnb.genai import PromptModelConfig, load_prompt, register_prompt
from mlnb.genai.prompts import PromptVersion


def _mlflow() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mlflow.entities.model_registry import prompt_version

    return prompt_version


def _theirs(template: Any, **kwargs: Any) -> Any:
    return _mlflow().PromptVersion("p", 1, template, **kwargs)


def _ours(template: Any) -> PromptVersion:
    text = template if isinstance(template, str) else json.dumps(template)
    return PromptVersion(name="p", version=1, template_text=text,
                         prompt_type="text" if isinstance(template, str) else "chat")


# --- model config and response format ----------------------------------------------------------


@pytest.mark.both_backends
def test_register_keeps_model_config_and_response_format_in_mlflow_tags(tracking):
    from pydantic import BaseModel

    class Answer(BaseModel):
        answer: str
        confidence: float

    v1 = register_prompt("qa", "Q: {{q}}", tags={"team": "s"}, response_format=Answer,
                         model_config=PromptModelConfig(model_name="gpt-4o", temperature=1,
                                                        stop_sequences=["END"]))
    v2 = register_prompt("qa", "Q2: {{q}}", response_format={"type": "object"},
                         model_config={"provider": "openai", "max_tokens": "256", "seed": 7})
    v3 = register_prompt("qa", "Q3: {{q}}")
    mv = mlnb.MlnbClient().get_model_version("qa", 1)
    assert json.loads(mv.tags["_mlflow_prompt_response_format"]) == Answer.model_json_schema()
    assert mv.tags["_mlflow_prompt_model_config"] == (
        '{"model_name": "gpt-4o", "temperature": 1.0, "stop_sequences": ["END"]}')
    assert v1.tags == {"team": "s"}
    assert v1.model_config == {"model_name": "gpt-4o", "temperature": 1.0,
                               "stop_sequences": ["END"]}
    assert v1.response_format == Answer.model_json_schema()
    loaded = load_prompt("prompts:/qa/2")
    assert loaded is not None
    assert loaded.model_config == {"provider": "openai", "max_tokens": 256, "seed": 7}
    assert loaded.response_format == {"type": "object"}
    assert loaded.tags == {}
    assert (v3.model_config, v3.response_format) == (None, None)
    assert v2.format(q="x") == "Q2: x"


@pytest.mark.parametrize("config,field,allowed", [
    ({"temperature": -0.1}, "temperature", "0 or more"),
    ({"top_p": 1.5}, "top_p", "from 0 to 1"),
    ({"max_tokens": 0}, "max_tokens", "greater than 0"),
    ({"max_tokens": 5.5}, "max_tokens", "whole number"),
    ({"top_k": "many"}, "top_k", "whole number"),
    ({"temperature": float("nan")}, "temperature", "finite"),
    ({"stop_sequences": "END"}, "stop_sequences", "list of text"),
    ({"provider": 3}, "provider", "text"),
    ({"frequency_penalty": True}, "frequency_penalty", "a number"),
])
def test_bad_model_config_values_name_the_field(tracking, config, field, allowed):
    with pytest.raises(InvalidParameterError) as caught:
        register_prompt("bad", "x", model_config=config)
    assert field in str(caught.value) and allowed in str(caught.value)
    with pytest.raises(InvalidParameterError, match=field):
        PromptModelConfig(**config)
    assert load_prompt("bad", allow_missing=True) is None  # nothing registered


def test_bad_response_format_and_reserved_tags(tracking):
    with pytest.raises(InvalidParameterError, match="pydantic model class or a dict"):
        register_prompt("rf", "x", response_format="json")
    with pytest.raises(InvalidParameterError, match="JSON"):
        register_prompt("rf", "x", response_format={"bad": {1, 2}})
    with pytest.raises(InvalidParameterError, match="dict or a PromptModelConfig"):
        register_prompt("rf", "x", model_config=["gpt"])  # type: ignore[arg-type]
    for key in ("_mlflow_prompt_model_config", "_mlflow_prompt_response_format"):
        with pytest.raises(InvalidParameterError, match="MLflow's own prompt tags"):
            register_prompt("rf", "x", tags={key: "{}"})
    v = register_prompt("rf", "x", response_format={}, model_config={})
    assert (v.response_format, v.model_config) == (None, None)  # as MLflow: empty stores nothing


@pytest.mark.parametrize("config", [
    {"model_name": "gpt-4o", "temperature": 0.7, "max_tokens": 1000},
    {"seed": 3, "top_p": "0.9", "model_name": "m", "provider": "p", "max_tokens": 5.0},
    {"stop_sequences": ("a", "b"), "frequency_penalty": -1, "presence_penalty": 2,
     "top_k": "40", "extra_params": {"x": 1}, "temperature": 0},
])
def test_model_config_json_is_mlflows_for_the_same_input(tracking, config):
    theirs = _mlflow()
    mlflow_tag = theirs.PromptVersion("p", 1, "t", model_config=config).model_config
    mine = register_prompt("mc", "t", model_config=config)
    stored = mlnb.MlnbClient().get_model_version("mc", mine.version).tags
    assert stored["_mlflow_prompt_model_config"] == json.dumps(
        theirs.PromptModelConfig.from_dict(config).to_dict())
    assert mine.model_config == mlflow_tag
    made = {k: v for k, v in config.items() if k != "extra_params"}
    assert PromptModelConfig.from_dict(made).to_dict() == theirs.PromptModelConfig.from_dict(
        made).to_dict()


# --- Jinja2 -----------------------------------------------------------------------------------

JINJA_TEXT = ("Hello {% if name %}{{ name }}{% else %}Guest{% endif %}!"
              "{% for item in items %} [{{ loop.index }}:{{ item | upper }}]{% endfor %}")
JINJA_CHAT = [{"role": "system", "content": "{% if formal %}Dear {{ who }}{% else %}Hi{% endif %}"},
              {"role": "user", "content": "Ask {{ q }}"}]


@pytest.mark.parametrize("template,values", [
    (JINJA_TEXT, {"name": "Ann", "items": ["a", "b"]}),
    (JINJA_TEXT, {"items": []}),
    (JINJA_CHAT, {"formal": True, "who": "Sir", "q": "why"}),
    (JINJA_CHAT, {"formal": False, "q": "{{ x }}"}),
    ("Hi {{ name }}, {{title}} of {{org.unit}}", {"name": "A", "title": "B", "org.unit": "C"}),
    ("Say {{ x }} and {{x}}", {"x": "{{x}}"}),
    ([{"role": "user", "content": "Be {{ style }}."}], {"style": "terse"}),
])
def test_format_gives_mlflows_strings(template, values):
    theirs = _theirs(template)
    ours = _ours(template)
    assert ours.format(**values) == theirs.format(**values)
    assert ours.variables == theirs.variables


def test_jinja_templates_render_in_the_sandbox_by_default(tracking):
    p = register_prompt("j", JINJA_TEXT)
    assert p.variables == {"name", "loop.index"} == _theirs(JINJA_TEXT).variables  # as MLflow
    assert p.format(name="Ann", items=["x"]) == "Hello Ann! [1:X]"
    assert load_prompt("j").format(items=["y", "z"]) == "Hello Guest! [1:Y] [2:Z]"  # type: ignore
    evil = register_prompt("evil", "{% if 1 %}{{ ''.__class__.__mro__ }}{% endif %}")
    with pytest.raises(InvalidParameterError) as caught:
        evil.format()
    message = str(caught.value)
    assert "'evil' version 1" in message and "sandbox refused" in message
    assert "__class__" in message and "use_jinja_sandbox=False" in message
    assert evil.format(use_jinja_sandbox=False) == str(str.__mro__)
    call = register_prompt("call", "{% set f = ''.format %}{{ f.__globals__ }}")
    with pytest.raises(InvalidParameterError, match="sandbox refused"):
        call.format()


def test_jinja_errors_are_mlnb_errors(tracking, monkeypatch):
    broken = register_prompt("broken", "{% if %}x{% endif %}")
    with pytest.raises(InvalidParameterError, match=r"'broken' version 1.*cannot be rendered"):
        broken.format()
    deep = register_prompt("deep", "{% if 1 %}{{ user.name }}{% endif %}")
    with pytest.raises(InvalidParameterError, match="'user' is undefined"):
        deep.format()
    with pytest.raises(InvalidParameterError, match="allow_partial"):
        deep.format(allow_partial=True)
    monkeypatch.setitem(sys.modules, "jinja2", None)
    monkeypatch.setitem(sys.modules, "jinja2.sandbox", None)
    monkeypatch.setitem(sys.modules, "jinja2.exceptions", None)
    with pytest.raises(InvalidParameterError, match="pip install jinja2"):
        deep.format(user={"name": "x"})
    plain = register_prompt("plain", "Hi {{ who }}")
    assert plain.format(who="Ann") == "Hi Ann"  # no Jinja2 needed without {% %}


# --- the MLflow REST API: a prompt version is created as a prompt ------------------------------


def test_rest_prompt_versions_take_only_mlflows_placeholder_source(tracking):
    from mlnb.mlflow_server import handle
    from mlnb.mlflow_server.context import Context
    from mlnb.mlflow_server.protocol import ApiRequest
    from mlnb.tracking.client import current_store

    ctx = Context(current_store())
    config = '{"model_name": "gpt-4o"}'

    def create(**fields: Any) -> Any:
        tags = [{"key": "mlflow.prompt.is_prompt", "value": "true"},
                {"key": "_mlflow_prompt_model_config", "value": config},
                *fields.pop("tags", [{"key": "mlflow.prompt.text", "value": "Hi {{x}}"}])]
        body = json.dumps({"name": "rp", "tags": tags, **fields}).encode()
        return handle(ctx, ApiRequest("POST", "/api/2.0/mlflow/model-versions/create", body=body,
                                      content_type="application/json"))

    made = create(source="dummy-source", description="via REST")
    assert made.status == 200 and made.payload["model_version"]["source"] == "prompt-template"
    loaded = load_prompt("prompts:/rp/1")
    assert loaded is not None and loaded.model_config == {"model_name": "gpt-4o"}
    assert loaded.format(x="Ann") == "Hi Ann" and loaded.commit_message == "via REST"
    for fields, said in (({"source": "/etc/passwd"}, "Invalid prompt source"),
                         ({"source": "dummy-source", "run_id": "abc"}, "no run or logged model"),
                         ({"source": "dummy-source", "tags": []}, "mlflow.prompt.text")):
        answer = create(**fields)
        assert answer.status == 400 and said in answer.payload["message"], answer.payload
    mlnb.MlnbClient().create_registered_model("plain-model")
    body = json.dumps({"name": "plain-model", "source": "dummy-source", "tags": [
        {"key": "mlflow.prompt.is_prompt", "value": "true"},
        {"key": "mlflow.prompt.text", "value": "x"}]}).encode()
    answer = handle(ctx, ApiRequest("POST", "/api/2.0/mlflow/model-versions/create", body=body,
                                    content_type="application/json"))
    assert answer.status == 400 and "registered model, not a prompt" in answer.payload["message"]


def test_model_config_can_be_set_and_deleted_after_registration(tracking):
    from mlnb.errors import NotFoundError
    from mlnb.genai import delete_prompt_model_config, set_prompt_model_config

    register_prompt("later", "Hi {{x}}", tags={"team": "a"})
    set_prompt_model_config("later", 1, {"model_name": "gpt-4o", "temperature": "0.5", "k": 1})
    loaded = load_prompt("later")
    assert loaded is not None
    assert loaded.model_config == {"model_name": "gpt-4o", "temperature": 0.5, "k": 1}
    assert loaded.tags == {"team": "a"} and loaded.template == "Hi {{x}}"
    set_prompt_model_config("later", 1, PromptModelConfig(top_k=3))
    assert load_prompt("later").model_config == {"top_k": 3}  # type: ignore[union-attr]
    with pytest.raises(InvalidParameterError, match="top_p"):
        set_prompt_model_config("later", 1, {"top_p": 2})
    delete_prompt_model_config("later", 1)
    assert load_prompt("later").model_config is None  # type: ignore[union-attr]
    with pytest.raises(NotFoundError, match="no tag"):
        delete_prompt_model_config("later", 1)
    with pytest.raises(NotFoundError):
        set_prompt_model_config("later", 9, {"model_name": "m"})
    mlnb.MlnbClient().create_registered_model("a-model")
    with pytest.raises(InvalidParameterError, match="not a prompt"):
        set_prompt_model_config("a-model", 1, {"model_name": "m"})
