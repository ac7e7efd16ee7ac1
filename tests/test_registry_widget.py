"""The registry panel reads and writes through the client; its changes reach the store."""

from __future__ import annotations

import pytest
from test_models_data import classifier

import mlnb
from mlnb.widgets.registry_panel import RegistryPanel, show_registry

NAME = "<img src=x onerror=alert(1)>"


@pytest.fixture
def two_versions(tracking):
    model, _ = classifier()
    for acc in (0.7, 0.9):
        with mlnb.start_run():
            mlnb.log_metric("acc", acc)
            mlnb.sklearn.log_model(model, "model", registered_model_name=NAME)
    return mlnb.MlnbClient()


def test_panel_lists_versions_with_stage_and_metrics(two_versions):
    panel = show_registry(NAME)
    assert isinstance(panel, RegistryPanel)
    assert set(panel.rows) == {"1", "2"}
    assert panel.rows["2"].metrics_label.value == "acc=0.9"
    assert panel.rows["1"].stage_label.value == "None"
    assert "&lt;img src=x onerror=alert(1)&gt;" in panel.title.value
    assert "<img" not in panel.title.value


def test_production_needs_confirmation_then_reaches_the_store(two_versions):
    client = two_versions
    panel = show_registry(NAME)
    client.transition_model_version_stage(NAME, 1, "Production")
    panel.refresh()
    row = panel.rows["2"]
    row.stage.value = "Production"
    row.apply.click()
    assert panel.confirm.layout.display == "flex"
    assert client.get_model_version(NAME, 2).current_stage == "None"  # not yet
    panel.confirm_button.click()
    assert client.get_model_version(NAME, 2).current_stage == "Production"
    assert client.get_model_version(NAME, 1).current_stage == "Archived"
    assert panel.rows["2"].stage_label.value == "Production"  # refreshed
    assert panel.confirm.layout.display == "none"


def test_cancel_leaves_the_store_unchanged(two_versions):
    panel = show_registry(NAME)
    panel.rows["1"].stage.value = "Production"
    panel.rows["1"].apply.click()
    panel.cancel_button.click()
    assert two_versions.get_model_version(NAME, 1).current_stage == "None"


def test_staging_alias_and_description_edits(two_versions):
    client = two_versions
    panel = show_registry(NAME)
    panel.rows["1"].stage.value = "Staging"
    panel.rows["1"].apply.click()
    assert client.get_model_version(NAME, 1).current_stage == "Staging"
    panel.rows["2"].alias.value = "champion"
    panel.rows["2"].set_alias.click()
    assert client.get_model_version_by_alias(NAME, "champion").version == "2"
    assert panel.rows["2"].aliases_label.value == "@champion"
    panel.rows["1"].description.value = "baseline"
    panel.rows["1"].save_description.click()
    assert client.get_model_version(NAME, 1).description == "baseline"
    panel.model_description.value = "churn model"
    panel.save_model_description.click()
    assert client.get_registered_model(NAME).description == "churn model"


def test_errors_show_inline(two_versions):
    panel = show_registry(NAME)
    panel.rows["1"].alias.value = "not valid!"
    panel.rows["1"].set_alias.click()
    assert "not valid" in panel.error.value
    panel.rows["1"].alias.value = "champion"
    panel.rows["1"].set_alias.click()
    assert panel.error.value == ""


def test_user_text_in_the_panel_is_never_typeset_as_math(tracking):
    from test_widgets_xss import assert_no_math

    name = "$x^2$ model"  # any $...$ pair is typeset by MathJax
    model, _ = classifier()
    with mlnb.start_run():
        mlnb.sklearn.log_model(model, "model", registered_model_name=name)
    panel = show_registry(name)
    panel.rows["1"].stage.value = "Production"
    panel.rows["1"].apply.click()  # the confirmation quotes the model's name
    assert "$" in panel.confirm_text.value
    assert_no_math(panel)
