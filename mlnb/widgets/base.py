"""What every mlnb view shares: a static HTML fallback in its display bundle."""

from __future__ import annotations

from typing import Any

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

# MathJax skips an element carrying one of these classes (and everything inside it): the first
# is MathJax 3's default (JupyterLab), the second MathJax 2's (the classic notebook).
MATH_IGNORE_CLASSES = ("mathjax_ignore", "tex2jax_ignore")


def no_math(widget: Any) -> Any:
    """Mark a text widget so MathJax never typesets it; returns the widget.

    ipywidgets 8's ``Label`` sets its text as ``textContent`` and then runs MathJax over it, so a
    run named ``$\\href{javascript:...}{x}$`` would render as math holding a live link. Every
    ``Label`` showing user data goes through this. (Descriptions are typeset on an inner element
    these classes do not reach: never put user text in a ``description``.)

    :param widget: the widget to mark.
    """
    for name in MATH_IGNORE_CLASSES:
        widget.add_class(name)
    return widget


def read_only_reason(client: Any) -> str | None:
    """Why the client's store may only be read (a PostgreSQL reader role), or None when it may
    be changed (or the client has no store to ask).

    :param client: an :class:`mlnb.MlnbClient` (or any object with a ``store``).
    """
    store = getattr(client, "store", None)
    reason = getattr(store, "read_only_reason", None)
    return reason() if callable(reason) else None


def disable_writes(reason: str | None, *controls: Any) -> None:
    """Show write controls as unavailable, with ``reason`` as their tooltip (a title: text,
    never HTML), instead of letting them fail when used.

    :param reason: why the store may only be read; None leaves the controls as they are.
    :param controls: the buttons, dropdowns and text boxes that change the store.
    """
    if reason is None:
        return
    for control in controls:
        control.disabled = True
        control.tooltip = reason


class StaticFallback:
    """Mixed into a widget: its display bundle also carries ``text/html``.

    A live JupyterLab draws the widget view; nbconvert, a static viewer or a frontend without
    the widget manager shows the escaped HTML instead of an empty placeholder.
    """

    def static_html(self) -> str:
        """The view as escaped static HTML; each view defines it."""
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        parent = super()._repr_mimebundle_  # type: ignore[misc]
        bundle: dict[str, Any] = dict(parent(**kwargs) or {}) if parent is not None else {}
        bundle["text/html"] = self.static_html()
        return bundle
