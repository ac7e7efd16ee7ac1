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
