"""What a prompt version says about how to call a model: its model configuration and the shape
of the response it expects, kept in MLflow's version tags (``_mlflow_prompt_model_config`` and
``_mlflow_prompt_response_format``, each JSON) so MLflow reads them as its own.

:class:`PromptModelConfig` checks the values as MLflow's ``PromptModelConfig`` does (temperature
from 0, ``max_tokens`` and ``top_k`` from 1, ``top_p`` from 0 to 1, ``stop_sequences`` a list of
text); keys it does not know go to ``extra_params``, stored at the top level of the JSON. The
JSON is what MLflow writes for the same input (its fields in MLflow's order, ``None`` left out).
pydantic is needed only when a response format is given as a pydantic class.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from typing import Any

from mlnb.errors import InvalidParameterError

__all__ = [
    "MODEL_CONFIG_TAG",
    "RESPONSE_FORMAT_TAG",
    "PromptModelConfig",
    "model_config_json",
    "response_format_json",
]

MODEL_CONFIG_TAG = "_mlflow_prompt_model_config"
"""MLflow's ``PROMPT_MODEL_CONFIG_TAG_KEY``."""
RESPONSE_FORMAT_TAG = "_mlflow_prompt_response_format"
"""MLflow's ``RESPONSE_FORMAT_TAG_KEY``."""


def _number(name: str, value: Any, *, integer: bool) -> float | int:
    """``value`` as a finite number (an integer when ``integer``), as pydantic's lax mode takes
    it: a number or its text; never a bool."""
    kind = "a whole number" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidParameterError(
            f"model_config {name} must be {kind}, not {type(value).__name__} {value!r:.60}.")
    number: float | int = value  # type: ignore[assignment]
    if isinstance(value, str):
        try:
            number = int(value.strip()) if integer else float(value.strip())
        except ValueError:
            raise InvalidParameterError(
                f"model_config {name} must be {kind}, not the text {value!r:.60}.") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise InvalidParameterError(f"model_config {name} must be a finite number, not {number}.")
    if integer:
        if isinstance(number, float):
            if not number.is_integer():
                raise InvalidParameterError(
                    f"model_config {name} must be a whole number, not {number}.")
            number = int(number)
        return int(number)
    return float(number)


def _check_range(name: str, value: float | int, low: float, *, strict: bool = False,
                 high: float | None = None) -> None:
    below = value <= low if strict else value < low
    if below or (high is not None and value > high):
        allowed = (f"greater than {low}" if strict else
                   f"from {low} to {high}" if high is not None else f"{low} or more")
        raise InvalidParameterError(f"model_config {name} must be {allowed}, not {value}.")


@dataclass
class PromptModelConfig:
    """The model and inference settings a prompt version is meant for (MLflow's
    ``PromptModelConfig``); values are checked and converted when it is made.

    :param provider: the model's provider, e.g. ``"openai"``.
    :param model_name: the model, e.g. ``"gpt-4o"``.
    :param temperature: sampling temperature, 0 or more.
    :param max_tokens: the most tokens to generate, 1 or more.
    :param top_p: nucleus sampling mass, from 0 to 1.
    :param top_k: sample from the k likeliest tokens, 1 or more.
    :param frequency_penalty: penalty for frequent tokens.
    :param presence_penalty: penalty for tokens already present.
    :param stop_sequences: texts that stop generation.
    :param extra_params: other provider settings, stored beside the fields above.
    :raises InvalidParameterError: naming the field and what it allows.
    """

    provider: str | None = None
    model_name: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    top_k: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    stop_sequences: list[str] | None = None
    extra_params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("provider", "model_name"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise InvalidParameterError(
                    f"model_config {name} must be text, not {type(value).__name__} {value!r:.60}.")
        if self.temperature is not None:
            self.temperature = float(_number("temperature", self.temperature, integer=False))
            _check_range("temperature", self.temperature, 0)
        if self.top_p is not None:
            self.top_p = float(_number("top_p", self.top_p, integer=False))
            _check_range("top_p", self.top_p, 0, high=1)
        for name in ("max_tokens", "top_k"):
            if getattr(self, name) is not None:
                number = int(_number(name, getattr(self, name), integer=True))
                _check_range(name, number, 0, strict=True)
                setattr(self, name, number)
        for name in ("frequency_penalty", "presence_penalty"):
            if getattr(self, name) is not None:
                setattr(self, name, float(_number(name, getattr(self, name), integer=False)))
        if self.stop_sequences is not None:
            stops: Any = self.stop_sequences
            if isinstance(stops, (str, bytes)) or not isinstance(stops, (list, tuple)) or not all(
                    isinstance(s, str) for s in stops):
                raise InvalidParameterError(
                    "model_config stop_sequences must be a list of text, "
                    f"not {stops!r:.80}.")
            self.stop_sequences = list(stops)
        if not isinstance(self.extra_params, dict):
            raise InvalidParameterError(
                "model_config extra_params must be a dict, "
                f"not {type(self.extra_params).__name__}.")

    def to_dict(self) -> dict[str, Any]:
        """The settings as MLflow stores them: the fields that are set, in order, then
        ``extra_params`` merged in at the top level."""
        out = {f.name: getattr(self, f.name) for f in fields(self)
               if f.name != "extra_params" and getattr(self, f.name) is not None}
        out.update(self.extra_params)
        return out

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> PromptModelConfig:
        """A config from a dict: known keys become fields, the rest ``extra_params``
        (as MLflow's ``PromptModelConfig.from_dict``).

        :param config: e.g. ``{"model_name": "gpt-4o", "temperature": 0.2, "seed": 7}``.
        :raises InvalidParameterError: for a bad value, naming its field.
        """
        known = {f.name for f in fields(cls)} - {"extra_params"}
        bad = [k for k in config if not isinstance(k, str)]
        if bad:
            raise InvalidParameterError(f"model_config keys must be text, not {bad[0]!r:.60}.")
        return cls(**{k: v for k, v in config.items() if k in known},
                   extra_params={k: v for k, v in config.items() if k not in known})


def model_config_json(config: PromptModelConfig | dict[str, Any]) -> str:
    """The ``_mlflow_prompt_model_config`` tag's value for a config (checked).

    :param config: a :class:`PromptModelConfig` or a dict of its fields and extra settings.
    :raises InvalidParameterError: for a bad value or a value JSON cannot hold.
    """
    if isinstance(config, dict):
        config = PromptModelConfig.from_dict(config)
    elif not isinstance(config, PromptModelConfig):
        raise InvalidParameterError(
            "model_config must be a dict or a PromptModelConfig, "
            f"not {type(config).__name__}.")
    return _dumps("model_config", config.to_dict())


def response_format_json(response_format: Any) -> str:
    """The ``_mlflow_prompt_response_format`` tag's value: a pydantic model class's JSON schema
    (``model_json_schema()``), or a dict as it is.

    :param response_format: a pydantic ``BaseModel`` subclass or a dict (e.g. a JSON schema).
    :raises InvalidParameterError: for anything else or a dict JSON cannot hold.
    """
    schema = getattr(response_format, "model_json_schema", None)
    if isinstance(response_format, type) and callable(schema):
        return _dumps("response_format", schema())
    if isinstance(response_format, dict):
        return _dumps("response_format", response_format)
    raise InvalidParameterError(
        "response_format must be a pydantic model class or a dict (e.g. a JSON schema), "
        f"not {type(response_format).__name__}.")


def _dumps(what: str, value: dict[str, Any]) -> str:
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"{what} must hold only JSON values: {exc}.") from None
