"""What every mlnb view shares: a static HTML fallback in its display bundle."""

from __future__ import annotations

from typing import Any

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


class StaticFallback:
    """Mixed into a widget: its display bundle also carries ``text/html``.

    A live JupyterLab draws the widget view; nbconvert, a static viewer or a frontend without
    the widget manager shows the escaped HTML instead of an empty placeholder.
    """

    def static_html(self) -> str:
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        parent = super()._repr_mimebundle_  # type: ignore[misc]
        bundle: dict[str, Any] = dict(parent(**kwargs) or {}) if parent is not None else {}
        bundle["text/html"] = self.static_html()
        return bundle
