"""Notebook -> script translation, parameter inference, comparison and non-determinism hints."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from mlnb.errors import InvalidParameterError
from mlnb.projects import convert, parameters
from mlnb.projects.reproduce import RunMetrics, compare_trees, nondeterminism_hints


def test_track_cell_becomes_a_nested_run_block_with_its_body_indented() -> None:
    source = ('%%track train --params C --tags team=ml\nC = 0.5\ntext = """line one\nline two"""\n'
              "acc = 0.9")
    cell = convert.translate_cell(source, 3, [])
    block = convert.track_block(cell, ([], ["acc"]))
    assert "with mlnb.start_run(run_name='train', nested=True, tags={'team': 'ml'}):" in block
    assert "    C = 0.5" in block
    assert '\nline two"""' in block  # a string's content is never re-indented
    assert "log_cell_values(globals(), params=['C'], metrics=['acc'])" in block
    tree = ast.parse("import mlnb\n_mlnb_project = None\n" + block)
    with_node = next(n for n in tree.body if isinstance(n, ast.With))
    text = next(n for n in ast.walk(with_node) if isinstance(n, ast.Constant)
                and isinstance(n.value, str) and "line" in n.value)
    assert text.value == "line one\nline two"


@pytest.mark.parametrize(("line", "expected"), [
    ("%load_ext mlnb", "# [mlnb] dropped"),
    ("%mlnb autolog", "mlnb.autolog()"),
    ("%mlnb autolog --off", "mlnb.autolog(disable=True)"),
    ("%mlnb runs metrics.acc > 0.9", "# [mlnb] dropped (notebook only): %mlnb runs"),
    ("%matplotlib inline", "# [mlnb] dropped (IPython magic): %matplotlib inline"),
    ("!pip install scikit-learn", "# [mlnb] dropped (shell or magic, IPython only)"),
    ("%pip install pandas", "# [mlnb] dropped (IPython magic)"),
    ("files = !ls", "# [mlnb] dropped (shell or magic, IPython only)"),
    ("model.fit?", "# [mlnb] dropped (IPython help)"),
    ("%time model.fit(X, y)", "model.fit(X, y)"),
    ("%timeit -n 3 -r 1 f(x)", "f(x)"),
    ("    %time f()", "    f()"),
    ("x = 1 % 2", "x = 1 % 2"),
])
def test_ipython_lines_are_translated_or_commented(line: str, expected: str) -> None:
    assert convert.translate_line(line).startswith(expected)


def test_other_cell_magics_are_commented_out_whole_and_time_keeps_its_code() -> None:
    bash = convert.translate_cell("%%bash\necho hi\nrm -rf x", 1, [])
    assert bash.body.splitlines() == ["# %%bash", "# echo hi", "# rm -rf x"]
    timed = convert.translate_cell("%%time\ny = 2", 2, [])
    assert timed.magic == "time" and timed.body == "y = 2"


def test_start_run_calls_in_code_become_nested_in_the_project_run() -> None:
    cell = convert.translate_cell('with mlnb.start_run(run_name="é-run"):\n    pass\n'
                                  "mlnb.start_run()\nmlnb.start_run(nested=False)", 1, [])
    assert 'mlnb.start_run(run_name="é-run", nested=True)' in cell.body
    assert "mlnb.start_run(nested=True)" in cell.body
    assert "mlnb.start_run(nested=False)" in cell.body


def test_a_cell_that_is_not_python_is_a_clear_error() -> None:
    with pytest.raises(InvalidParameterError, match=r"Cell 7 is not valid Python.*skip-export"):
        convert.translate_cell("def broken(:\n    pass", 7, [])


def test_parameters_cell_types_defaults_and_help(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.csv").write_text("a\n1\n")
    source = ('lr = 0.1  # learning rate\nepochs = 3\nname = "run"\ndata = "data/x.csv"\n'
              "flag = False\nlayers = [1, 2]\n")
    specs, notes = parameters.from_parameters_cell(source, ast.parse(source), 2, tmp_path)
    by_name = {s.name: s for s in specs}
    assert [(s.name, s.type, s.default) for s in specs] == [
        ("lr", "float", 0.1), ("epochs", "int", 3), ("name", "string", "run"),
        ("data", "path", "data/x.csv"), ("flag", "string", False)]
    assert by_name["lr"].help == "learning rate"
    assert by_name["flag"].is_bool and by_name["flag"].mlproject_entry() == {
        "type": "string", "default": "false", "mlnb_type": "bool"}
    assert notes and notes[0].startswith("layers:")


def test_run_params_become_parameters_only_where_the_code_assigns_them(tmp_path: Path) -> None:
    trees = {2: ast.parse("import x\nn_estimators = 25\nmax_depth = 3")}
    specs, notes = parameters.from_run_params(
        {"n_estimators": "40", "max_depth": "3", "criterion": "gini"}, trees, tmp_path)
    assert [(s.name, s.type, s.default, s.cell, s.line) for s in specs] == [
        ("max_depth", "int", 3, 2, 3), ("n_estimators", "int", 40, 2, 2)]
    assert any(n.startswith("criterion:") for n in notes)


def test_validation_names_the_parameter_and_the_expected_type(tmp_path: Path) -> None:
    declared = {"lr": parameters.ParameterSpec("lr", "float", 0.1),
                "epochs": parameters.ParameterSpec("epochs", "int", 3)}
    with pytest.raises(InvalidParameterError, match=r"'epochs' expects an int .* got '1.5'"):
        parameters.validate(declared, {"epochs": "1.5"}, "main", tmp_path, tmp_path)
    with pytest.raises(InvalidParameterError, match=r"Unknown parameter 'lrr'.*epochs, lr"):
        parameters.validate(declared, {"lrr": "1"}, "main", tmp_path, tmp_path)
    assert parameters.validate(declared, {"lr": "1e-2"}, "main", tmp_path, tmp_path) == {
        "lr": "0.01", "epochs": "3"}


def test_comparison_pairs_runs_by_name_and_applies_the_tolerance() -> None:
    original = [RunMetrics("a", "train", {"acc": 0.9, "loss": 0.25, "fit_time": 1.0, "auc": 0.8})]
    reproduced = [RunMetrics("r", "project", {}),
                  RunMetrics("c", "train", {"acc": 0.9 + 1e-12, "loss": 0.26, "fit_time": 2.0})]
    checks = {c.key: c.status for c in compare_trees(original, reproduced)}
    assert checks == {"acc": "match", "loss": "mismatch", "fit_time": "skipped", "auc": "missing"}
    loose = {c.key: c.status for c in compare_trees(original, reproduced, rtol=0.1)}
    assert loose["loss"] == "match"


def test_nondeterminism_hints_name_the_unseeded_source() -> None:
    source = ("import random\nfrom sklearn.ensemble import RandomForestClassifier\n"
              "m = RandomForestClassifier(n_estimators=5)\nx = random.random()\n"
              "split = train_test_split(X, y, random_state=0)\n")
    hints = nondeterminism_hints(source)
    assert any("RandomForestClassifier(...) at main.py line 3 has no random_state" in h for h in hints)
    assert any("line(s) 4 with no seed set" in h for h in hints)
    assert not any("train_test_split" in h for h in hints)
    assert nondeterminism_hints("import random\nrandom.seed(1)\nx = random.random()\n") == []


def test_track_metrics_option_adds_to_the_pattern_as_in_the_magic() -> None:
    cell = convert.translate_cell("%%track --params lr --metrics mymetric\nlr = 0.1\n"
                                  "mymetric = 7.5\nacc = 0.5", 2, [])
    block = convert.track_block(cell, convert.capture_names_of(cell))
    assert "params=['lr'], metrics=['acc', 'mymetric']" in block
