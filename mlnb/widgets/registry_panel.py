"""The registry panel: registered models, their versions, stages, aliases and descriptions.

``show_registry(name=None)`` returns a :class:`RegistryPanel` (an ipywidgets ``VBox``). It reads
and writes only through :class:`mlnb.MlnbClient`'s registry methods, refreshes after every change
and shows errors inline. Moving a version to Production asks for confirmation first. User strings
are shown with Label/Text widgets (text, never HTML); the one HTML title is escaped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from mlnb.entities import ModelVersion, ModelVersionStage
from mlnb.errors import MlnbError
from mlnb.tracking.client import current_client
from mlnb.widgets.base import disable_writes, no_math, read_only_reason
from mlnb.widgets.escape import escape_html

KEY_METRICS = 3


class VersionRow(widgets.HBox):
    """One version: number, stage, aliases, key metrics, and its controls.

    :param panel: the panel whose actions the controls call.
    :param mv: the version shown.
    :param metrics: the key metrics, as text.
    """

    def __init__(self, panel: RegistryPanel, mv: ModelVersion, metrics: str) -> None:
        self.version = mv.version
        self.stage_label = widgets.Label(mv.current_stage, layout=widgets.Layout(width="90px"))
        self.aliases_label = no_math(widgets.Label(" ".join(f"@{a}" for a in mv.aliases),
                                                   layout=widgets.Layout(width="130px")))
        self.metrics_label = no_math(widgets.Label(metrics, layout=widgets.Layout(width="220px")))
        self.stage = widgets.Dropdown(options=list(ModelVersionStage.ALL), value=mv.current_stage,
                                      layout=widgets.Layout(width="120px"))
        self.apply = widgets.Button(description="Set stage", layout=widgets.Layout(width="90px"))
        self.alias = widgets.Text(placeholder="alias", layout=widgets.Layout(width="110px"))
        self.set_alias = widgets.Button(description="Set alias", layout=widgets.Layout(width="85px"))
        self.delete_alias = widgets.Button(description="Remove alias",
                                           layout=widgets.Layout(width="105px"))
        self.description = widgets.Text(value=mv.description, placeholder="description",
                                        layout=widgets.Layout(width="200px"))
        self.save_description = widgets.Button(description="Save", layout=widgets.Layout(width="60px"))
        self.apply.on_click(lambda _b: panel.request_stage(mv.version, self.stage.value))
        self.set_alias.on_click(lambda _b: panel.act(
            lambda c: c.set_registered_model_alias(mv.name, self.alias.value.strip(), mv.version)))
        self.delete_alias.on_click(lambda _b: panel.act(
            lambda c: c.delete_registered_model_alias(mv.name, self.alias.value.strip())))
        self.save_description.on_click(lambda _b: panel.act(
            lambda c: c.update_model_version(mv.name, mv.version, self.description.value)))
        disable_writes(panel.read_only, self.stage, self.apply, self.alias, self.set_alias,
                       self.delete_alias, self.description, self.save_description)
        super().__init__([
            widgets.Label(f"v{mv.version}", layout=widgets.Layout(width="45px")), self.stage_label,
            self.aliases_label, self.metrics_label, self.stage, self.apply, self.alias,
            self.set_alias, self.delete_alias, self.description, self.save_description,
        ])


class RegistryPanel(widgets.VBox):
    """Pick a registered model; see and change its versions' stages, aliases and descriptions.

    :param name: the model shown first; default the first registered model.
    :param client: the client to read and write through; default the current store's.
    """

    def __init__(self, name: str | None = None, client: Any = None) -> None:
        self.client = client if client is not None else current_client()
        # A reader role's panel shows the changes as unavailable (why, as a tooltip) up front.
        self.read_only = read_only_reason(self.client)
        self.rows: dict[str, VersionRow] = {}
        self.title = widgets.HTML()
        self.model = widgets.Dropdown(description="Model", options=[])
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.error = no_math(widgets.Label(style={"text_color": "#b00020"}))  # quotes names
        self.status = no_math(widgets.Label())
        self.model_description = widgets.Textarea(placeholder="model description",
                                                  layout=widgets.Layout(width="60%"))
        self.save_model_description = widgets.Button(description="Save description")
        self.versions = widgets.VBox()
        self.pending: tuple[str, str] | None = None
        self.confirm_text = no_math(widgets.Label())
        self.archive_existing = widgets.Checkbox(value=True, description="archive the current Production")
        self.confirm_button = widgets.Button(description="Confirm", button_style="danger")
        self.cancel_button = widgets.Button(description="Cancel")
        self.confirm = widgets.VBox([self.confirm_text, widgets.HBox(
            [self.archive_existing, self.confirm_button, self.cancel_button])])
        self.confirm.layout.display = "none"
        disable_writes(self.read_only, self.model_description, self.save_model_description)
        self.model.observe(lambda _change: self.refresh(), names="value")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.save_model_description.on_click(lambda _b: self.act(
            lambda c: c.update_registered_model(self.model.value, self.model_description.value)))
        self.confirm_button.on_click(lambda _b: self.confirm_stage())
        self.cancel_button.on_click(lambda _b: self.cancel_stage())
        super().__init__([
            self.title, widgets.HBox([self.model, self.refresh_button]), self.error, self.status,
            widgets.HBox([self.model_description, self.save_model_description]), self.confirm,
            self.versions,
        ])
        self._load_names(name)
        self.refresh()
        if self.read_only is not None:
            self.status.value = f"Read-only: {self.read_only}"

    def _load_names(self, wanted: str | None) -> None:
        try:
            names = [m.name for m in self.client.search_registered_models(max_results=10_000)]
        except MlnbError as exc:
            self.error.value = exc.message
            names = []
        current = wanted if wanted in names else (self.model.value if self.model.value in names else None)
        if wanted is not None and wanted not in names:
            self.error.value = f"No registered model named {wanted!r}."
        with self.hold_trait_notifications():
            self.model.options = names
            self.model.value = current or (names[0] if names else None)

    def refresh(self) -> None:
        """Reload the selected model and its versions from the store."""
        name = self.model.value
        if name is None:
            self.title.value = "<b>No registered models yet.</b> Register one with mlnb.register_model."
            self.versions.children = ()
            self.rows = {}
            return
        try:
            model = self.client.get_registered_model(name)
            versions = self.client.search_model_versions(f"name = '{_quote(name)}'")
        except MlnbError as exc:
            self.error.value = exc.message
            return
        self.title.value = f"<b>{escape_html(model.name)}</b> ({len(versions)} versions)"
        self.model_description.value = model.description
        self.rows = {mv.version: VersionRow(self, mv, self._metrics(mv)) for mv in versions}
        self.versions.children = tuple(self.rows.values())

    def _metrics(self, mv: ModelVersion) -> str:
        if not mv.run_id:
            return ""
        try:
            metrics = self.client.get_run(mv.run_id).data.metrics
        except MlnbError:
            return "(run missing)"
        return ", ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items())[:KEY_METRICS])

    def act(self, change: Callable[[Any], Any], done: str = "Saved.") -> bool:
        """Run one registry change; show its error inline, or refresh after it.

        :param change: called with the client.
        :param done: the status text shown on success.
        :returns: whether the change succeeded.
        """
        self.error.value = ""
        try:
            change(self.client)
        except MlnbError as exc:
            self.error.value = exc.message
            self.status.value = ""
            return False
        self.status.value = done
        self.refresh()
        return True

    def request_stage(self, version: str, stage: str) -> None:
        """Change a version's stage; Production waits for :meth:`confirm_stage`.

        :param version: the version number.
        :param stage: the new stage.
        """
        if stage == ModelVersionStage.PRODUCTION:
            self.pending = (version, stage)
            self.confirm_text.value = (f"Move version {version} of {self.model.value} to Production? "
                                       "Serving and code that load the Production stage will use it.")
            self.confirm.layout.display = "flex"
            return
        self._transition(version, stage, archive=False)

    def confirm_stage(self) -> None:
        """Apply the pending move to Production (archiving the others if that box is ticked)."""
        if self.pending is None:
            return
        version, stage = self.pending
        self.cancel_stage()
        self._transition(version, stage, archive=self.archive_existing.value)

    def cancel_stage(self) -> None:
        """Drop the pending move to Production and hide the confirmation."""
        self.pending = None
        self.confirm.layout.display = "none"

    def _transition(self, version: str, stage: str, archive: bool) -> None:
        name = self.model.value
        self.act(lambda c: c.transition_model_version_stage(
            name, version, stage, archive_existing_versions=archive),
            done=f"Version {version} is now in {stage}.")


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def show_registry(name: str | None = None) -> RegistryPanel:
    """The registry panel, a widget to change stages, aliases and descriptions of registered models.

    :param name: the model shown first; default the first registered model.
    """
    return RegistryPanel(name)
