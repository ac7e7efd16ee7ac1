"""mlnb.show_sweep: any parent run with children (Optuna, search CV, a hand-made loop) as history
with the best-so-far line, parallel coordinates, parameter importance, slices and a best-trial
card that registers the best trial's model; every user string stays text."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_widgets_xss import PAYLOADS, _check, assert_no_math

import mlnb
from mlnb.errors import InvalidParameterError
from mlnb.widgets import charts, sweep
from mlnb.widgets.escape import escape_html

optuna = pytest.importorskip("optuna")


def _figures(view: object) -> dict[str, dict]:
    view.draw_all()  # type: ignore[attr-defined]
    found = {}
    for title, out in zip(("history", "parallel", "importance", "slices"), view.outputs,  # type: ignore[attr-defined]
                          strict=True):
        found[title] = out.outputs[0]["data"][charts.PLOTLY_MIME]
    return found


def optuna_sweep(n_trials: int = 30, log_model: bool = False) -> tuple[object, object]:
    from sklearn.linear_model import LogisticRegression

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=1),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=5))
    tracked = mlnb.optuna.track(study)

    def objective(trial: object) -> float:
        x = trial.suggest_float("x", -4, 4)  # type: ignore[attr-defined]
        y = trial.suggest_int("y", 0, 3)  # type: ignore[attr-defined]
        kind = trial.suggest_categorical("kind", ["lin", "sq"])  # type: ignore[attr-defined]
        value = (x - 1) ** 2 + 0.01 * y + (kind == "sq")
        trial.report(value + 1, 0)  # type: ignore[attr-defined]
        if trial.should_prune():  # type: ignore[attr-defined]
            raise optuna.TrialPruned()
        if log_model:
            model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
            mlnb.sklearn.log_model(model, "model", run_id=tracked.trial_run(trial).run_id)
        return value

    tracked.optimize(objective, n_trials=n_trials)
    return study, tracked


def test_optuna_sweep_charts_best_card_and_optunas_importance(tracking: Path) -> None:
    study, tracked = optuna_sweep()
    view = mlnb.show_sweep(tracked)
    assert view.sweep.metric == "value" and view.sweep.direction == "minimize"
    assert view.best is not None and view.best.number == study.best_trial.number
    assert f"trial {study.best_trial.number}" in view.card_html()

    # Importance: Optuna's own evaluator on the rebuilt study gives what it gives on the study.
    expected = optuna.importance.get_param_importances(study)
    assert view.importance_method == "Optuna's default evaluator"
    assert view.importances.keys() == expected.keys()
    for key, value in expected.items():
        assert view.importances[key] == pytest.approx(value)

    figures = _figures(view)
    history = {t["name"]: t for t in figures["history"]["data"]}
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert history["complete"]["x"] == [t.number for t in complete]
    best, running = [], None
    for t in complete:
        running = t.value if running is None else min(running, t.value)
        best.append(running)
    assert history["best so far"]["y"] == pytest.approx(best)
    pruned = [t.number for t in study.trials if t.state.name == "PRUNED"]
    assert pruned and history["pruned"]["x"] == pruned
    parcoords = figures["parallel"]["data"][0]
    assert [d["label"] for d in parcoords["dimensions"]] == ["kind", "x", "y", "value"]
    assert len(parcoords["line"]["color"]) == len(complete)
    assert len(figures["slices"]["data"]) == 3


def test_register_the_best_trials_model(tracking: Path) -> None:
    _, tracked = optuna_sweep(n_trials=6, log_model=True)
    view = mlnb.show_sweep(tracked.parent_run_id)
    assert view.model_path == "model" and not view.register_button.disabled
    view.register()
    assert view.error.value == "Type a name for the registered model first."
    view.model_name.value = "best-model"
    view.register_button.click()
    assert view.error.value == ""
    assert view.status.value == f"Registered 'best-model' version 1 from trial {view.best.number}."
    version = mlnb.MlnbClient().get_model_version("best-model", "1")
    assert version.run_id == view.best.run.info.run_id


def test_no_model_no_register(tracking: Path) -> None:
    _, tracked = optuna_sweep(n_trials=3)
    view = mlnb.show_sweep(tracked)
    assert view.model_path is None and view.register_button.disabled
    assert "This trial logged no model" in view.card_html()


def test_a_hand_made_loop_with_model_free_importance(tracking: Path) -> None:
    with mlnb.start_run(run_name="loop") as parent:
        for lr in (0.1, 0.2, 0.3, 0.4):
            for depth in (1, 2):
                with mlnb.start_run(nested=True):
                    mlnb.log_params({"lr": lr, "depth": depth})
                    mlnb.log_metric("val_loss", 10 * lr + 0.001 * depth)
    view = mlnb.show_sweep(parent.run_id)
    assert view.sweep.metric == "val_loss"
    assert view.sweep.direction == "minimize" and view.sweep.direction_guessed
    assert "guessed from its name" in view.header_html()
    assert view.importance_method.startswith("correlation ratio")
    assert list(view.importances) == ["lr", "depth"]  # lr explains nearly all of the variance
    assert view.importances["lr"] > 0.99 and sum(view.importances.values()) == pytest.approx(1)
    assert view.best is not None and view.best.params == {"lr": "0.1", "depth": "1"}
    assert len(_figures(view)) == 4


def test_correlation_ratio_by_hand() -> None:
    from mlnb.entities import Run, RunData, RunInfo

    values = [1.0, 3.0, 2.0, 6.0]
    groups = ["a", "a", "b", "b"]
    runs = [Run(RunInfo(f"r{i}", "0", f"r{i}", "FINISHED", 0, 1, ""),
                RunData(metrics={"m": v}, params={"g": g, "noise": str(i % 2)}))
            for i, (v, g) in enumerate(zip(values, groups, strict=True))]
    trials = [sweep.Trial(i, r, "COMPLETE", r.data.metrics["m"]) for i, r in enumerate(runs)]
    data = sweep.Sweep(runs[0], trials, "m", "minimize", params=["g", "noise"])
    # mean 3; total SS = 4+0+1+9 = 14; g: groups a (mean 2) and b (mean 4): 2*1 + 2*1 = 4;
    # noise: {1,2} (mean 1.5) and {3,6} (mean 4.5): 2*2.25*2 = 9. Normalised: 4/13, 9/13.
    assert sweep.correlation_ratios(data) == pytest.approx({"noise": 9 / 13, "g": 4 / 13})


def test_a_search_cv_parent(tracking: Path) -> None:
    from sklearn.datasets import load_iris
    from sklearn.model_selection import GridSearchCV
    from sklearn.tree import DecisionTreeClassifier

    mlnb.sklearn.autolog(log_models=False, max_tuning_runs=None)  # a child per candidate
    try:
        X, y = load_iris(return_X_y=True)
        with mlnb.start_run() as parent:
            GridSearchCV(DecisionTreeClassifier(random_state=0),
                         {"max_depth": [1, 2, 3], "min_samples_leaf": [1, 5]}, cv=3).fit(X, y)
    finally:
        mlnb.sklearn.autolog(disable=True)
    view = mlnb.show_sweep(parent.run_id)
    assert view.sweep.metric == "mean_test_score" and view.sweep.direction == "maximize"
    assert not view.sweep.direction_guessed
    assert len(view.sweep.trials) == 6
    assert view.best is not None and view.best.params["max_depth"] != "1"


def test_bad_input_says_what_to_do(tracking: Path) -> None:
    with mlnb.start_run(run_name="alone") as alone:
        pass
    with pytest.raises(InvalidParameterError, match=r"'alone' .* has no child runs"):
        mlnb.show_sweep(alone.run_id)
    with mlnb.start_run(run_name="two") as parent:
        with mlnb.start_run(nested=True):
            mlnb.log_metrics({"a": 1.0, "b": 2.0})
    with pytest.raises(InvalidParameterError, match=r"several metrics \(a, b\); name the objective"):
        mlnb.show_sweep(parent.run_id)
    view = mlnb.show_sweep(parent.run_id, metric="b", direction="maximize")
    assert view.sweep.metric == "b"
    with pytest.raises(InvalidParameterError, match="direction must be 'minimize' or 'maximize'"):
        mlnb.show_sweep(parent.run_id, metric="b", direction="up")


def test_user_strings_stay_text(tracking: Path) -> None:
    with mlnb.start_run(run_name=PAYLOADS[0]) as parent:
        for i, payload in enumerate(PAYLOADS):
            with mlnb.start_run(run_name=payload, nested=True):
                mlnb.log_params({"n": str(i), "kind": payload})  # keys cannot hold markup
                mlnb.log_metric("score", float(i))
    view = mlnb.show_sweep(parent.run_id)
    view.draw_all()
    htmls, figures = _check(view)
    assert_no_math(view)
    assert len(figures) == 4
    joined = "".join(htmls)
    best = PAYLOADS[-1]  # the highest score: its name and params are in the card
    assert escape_html(PAYLOADS[0]) in joined and escape_html(best) in joined
    texts = [s for f in figures for s in charts.figure_text_fields(f)]
    assert "&#36;\\href{javascript:alert(1)}{x}&#36;" in texts  # a category, escaped
