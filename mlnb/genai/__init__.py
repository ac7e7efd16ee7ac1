"""GenAI in the notebook: a prompt registry, ``evaluate`` with scorers, and comparing evaluations.

MLflow's ``mlflow.genai`` names (``import mlnb as mlflow``: ``mlflow.genai.register_prompt``...).
Nothing here loads pandas, numpy or a scorer's library until it is used.
"""

from __future__ import annotations

from mlnb.genai.compare import Comparison, compare, promote_winner
from mlnb.genai.evaluation import EvaluationResult, evaluate
from mlnb.genai.judges import make_judge
from mlnb.genai.prompts import (
    Prompt,
    PromptModelConfig,
    PromptVersion,
    delete_prompt,
    delete_prompt_alias,
    delete_prompt_model_config,
    delete_prompt_tag,
    delete_prompt_version,
    get_prompt,
    load_prompt,
    register_prompt,
    search_prompt_versions,
    search_prompts,
    set_prompt_alias,
    set_prompt_model_config,
    set_prompt_tag,
)
from mlnb.genai.scorers import Feedback, Scorer, scorer

__all__ = [
    "Comparison",
    "EvaluationResult",
    "Feedback",
    "Prompt",
    "PromptModelConfig",
    "PromptVersion",
    "Scorer",
    "compare",
    "delete_prompt",
    "delete_prompt_alias",
    "delete_prompt_model_config",
    "delete_prompt_tag",
    "delete_prompt_version",
    "evaluate",
    "get_prompt",
    "load_prompt",
    "make_judge",
    "promote_winner",
    "register_prompt",
    "scorer",
    "search_prompt_versions",
    "search_prompts",
    "set_prompt_alias",
    "set_prompt_model_config",
    "set_prompt_tag",
]
