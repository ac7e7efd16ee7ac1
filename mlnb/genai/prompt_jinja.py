"""Jinja2 prompt templates, rendered as MLflow renders them.

A template (or any chat message's content) holding both ``{%`` and ``%}`` is a Jinja2 template
(MLflow's ``_is_jinja2_template``). It is rendered with Jinja2's ``SandboxedEnvironment`` unless
the caller turns the sandbox off; jinja2 is imported only here, when such a template is
formatted. In the sandbox, reaching for an unsafe attribute (``''.__class__``) fails at once
with an :class:`~mlnb.errors.InvalidParameterError` instead of rendering as empty text, and
every Jinja2 failure (syntax, undefined, security) is reported as one, naming the prompt.
"""

from __future__ import annotations

from typing import Any

from mlnb.errors import InvalidParameterError

__all__ = ["is_jinja2_template", "render"]


def is_jinja2_template(template: str | list[dict[str, Any]]) -> bool:
    """Whether a template uses Jinja2 statements (``{% ... %}``), as MLflow decides it.

    :param template: text, or chat messages whose contents are checked.
    """
    if isinstance(template, str):
        return "{%" in template and "%}" in template
    return any("{%" in str(m.get("content", "")) and "%}" in str(m.get("content", ""))
               for m in template)


def _environment(sandbox: bool) -> Any:
    try:
        # jinja2 is optional: imported only when a {% %} template is formatted.
        from jinja2 import Environment, Undefined  # jinja2: optional
        from jinja2.exceptions import SecurityError  # jinja2: optional
        from jinja2.sandbox import SandboxedEnvironment  # jinja2: optional
    except ImportError:
        raise InvalidParameterError(
            "The prompt is a Jinja2 template. To format the prompt, install Jinja2 with "
            "`pip install jinja2`.") from None
    if not sandbox:
        return Environment(undefined=Undefined)

    class StrictSandbox(SandboxedEnvironment):
        """The sandbox, failing on an unsafe attribute rather than rendering it as empty."""

        def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
            raise SecurityError(
                f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe.")

    return StrictSandbox(undefined=Undefined)


def render(name: str, version: int, template: str | list[dict[str, Any]], sandbox: bool,
           values: dict[str, Any]) -> str | list[dict[str, Any]]:
    """A Jinja2 template rendered with ``values``: text, or each chat message's content.

    :param name: the prompt's name (for errors).
    :param version: the prompt's version (for errors).
    :param template: the template text or chat messages.
    :param sandbox: render in Jinja2's sandbox.
    :param values: the template's variables.
    :raises InvalidParameterError: when jinja2 is missing, or rendering fails (a syntax error,
        an undefined value used, or something the sandbox refuses).
    """
    env = _environment(sandbox)
    from jinja2.exceptions import SecurityError, TemplateError  # jinja2: optional, present here

    def one(text: str) -> str:
        try:
            rendered: str = env.from_string(text).render(**values)
        except SecurityError as exc:
            raise InvalidParameterError(
                f"Prompt {name!r} version {version}: the Jinja2 sandbox refused the template: "
                f"{exc} Only plain values, their items and their public attributes may be used; "
                "pass use_jinja_sandbox=False only for templates you trust.") from None
        except TemplateError as exc:
            line = getattr(exc, "lineno", None)
            where = f" (line {line})" if line else ""
            raise InvalidParameterError(
                f"Prompt {name!r} version {version}: the Jinja2 template cannot be rendered"
                f"{where}: {exc.message or type(exc).__name__}.") from None
        return rendered

    if isinstance(template, str):
        return one(template)
    return [{"role": m["role"], "content": one(str(m.get("content", "")))} for m in template]
