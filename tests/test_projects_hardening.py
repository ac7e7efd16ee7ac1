"""Issue 11, items 3, 5, 6 and 14: generated code takes values as literals only, credential files
stay out of an export, a run is never blocked by its own outputs, and offline never fetches."""

from __future__ import annotations

import ast
import json
import math
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import mlnb
from mlnb.cli import main as cli
from mlnb.projects import codegen, export_notebook, run_project
from mlnb.projects.data import secret_env
from mlnb.projects.export import project_name
from mlnb.projects.scan import ExportRefusedError


def write_notebook(path: Path, *cells: tuple[str, list[str]]) -> Path:
    """A notebook of code cells ``(source, tags)`` at ``path``."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    for source, tags in cells:
        cell = nbformat.v4.new_code_cell(source)
        if tags:
            cell.metadata["tags"] = tags
        notebook.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))
    return path


def all_runs() -> list[mlnb.entities.Run]:
    found = mlnb.search_runs(search_all_experiments=True, output_format="list")
    assert isinstance(found, list)
    return found


# --- 3. every value in generated code is a literal -----------------------------------------------

HOSTILE = ['"""', "'''", "\\", "a\\'b", "\n", "\r", "\r\n", "\x00", "\x01\x1b[2J", "\x0b\x0c\x1c",
           "\u2028\u2029\x85", "é漢字🙂", "\udcff", '"""+__import__("os").system("id")+"""',
           "\\N{", "%(prog)s %", "{}", "\t#"]


@pytest.mark.parametrize("text", HOSTILE)
def test_codegen_renders_any_text_as_a_literal_docstring_and_comment(text: str) -> None:
    assert ast.literal_eval(codegen.literal(text)) == text
    assert ast.literal_eval(codegen.docstring(text)) == text
    assert ast.literal_eval(codegen.docstring(text + '"')) == text + '"'  # a quote before the end
    # A comment stays one comment: the statement after it is the only one in the module.
    tree = ast.parse(f"x = 1  # {codegen.comment(text)}\ny = 2\n")
    assert [type(node).__name__ for node in tree.body] == ["Assign", "Assign"]


def test_codegen_literals_of_numbers_and_containers_read_back() -> None:
    for value in [float("inf"), -float("inf"), 1e300, -0.0, 3, True, None,
                  ["a'", ("b", 1.5), {"k\n": float("-inf")}]]:
        assert repr(ast.literal_eval(codegen.literal(value))) == repr(value)
    assert math.isnan(eval(codegen.literal(float("nan"))))  # the one value without a literal
    with pytest.raises(TypeError):
        codegen.literal(object())  # type: ignore[arg-type]


INJECT = '__import__("pathlib").Path("PWNED").touch()'


def test_hostile_names_cannot_inject_code_into_main_py(tracking: Path, tmp_path: Path) -> None:
    # A notebook whose file name closes the docstring, with a parameters cell of hostile values
    # and help texts, an infinite default, and a %%track cell with hostile names and tags.
    name = f'evil"""+{INJECT}+"""\\ \x01 \'\'\' é.ipynb'
    run_name = f"r\"\"\"+{INJECT.replace('PWNED', 'PWNED2')}+\"\"\"' \\ é"
    notebook = write_notebook(
        tmp_path / "nb" / name,
        ('msg = """x\\"\\"\\"; \\\\ \'\'\' %(prog)s 50%"""  # help with """ and 50% and \\\n'
         "limit = 1e999  # an infinite default\n", ["parameters"]),
        ("%%track " + shlex.join([run_name, "--tags", "k=v\"\"\"'\\", "--experiment", 'e"""x']) + "\n"
         "result = len(msg) if limit > 0 else 0\nprint('MSG', repr(msg))", []))
    out = export_notebook(notebook, tmp_path / "project", write=None)
    script = (out / "main.py").read_text(encoding="utf-8")
    tree = ast.parse(script)
    assert ast.get_docstring(tree, clean=False).startswith(
        f"{project_name(Path(name).stem)}: the notebook {name} as a script")
    shown = subprocess.run([sys.executable, "main.py", "--help"], cwd=out, capture_output=True,
                           text=True, check=False)
    assert shown.returncode == 0, shown.stderr
    assert "50%" in shown.stdout and "--limit" in shown.stdout
    result = run_project(out, write=None)
    assert result.status == "FINISHED"
    assert not (out / "PWNED").exists() and not (out / "PWNED2").exists()
    (child,) = [r for r in all_runs() if r.info.run_id != result.run_id]
    assert child.info.run_name == run_name
    assert child.data.tags["k"] == "v\"\"\"'\\"
    assert mlnb.get_run(result.run_id).data.params == {
        "msg": "x\"\"\"; \\ ''' %(prog)s 50%", "limit": "inf"}


def test_a_line_break_in_a_track_line_cannot_end_its_comment() -> None:
    from mlnb.projects import convert

    line = "%%track " + shlex.join([f"r\r{INJECT}  #", "--experiment", "e\rx"])
    cell = convert.translate_cell(line + "\nresult = 1\n", 1, [])
    block = convert.track_block(cell, None)
    tree = ast.parse(block)
    assert [type(node).__name__ for node in tree.body] == ["Expr", "With"]  # set_experiment, the run
    assert "PWNED" not in ast.dump(tree.body[1].body[0])


# --- 14. offline never fetches; a fetching requirement line is always shown ----------------------

FETCHING = ["--find-links https://wheels.example/simple", "--extra-index-url=https://extra.example/s",
            "-e git+https://github.com/example/pkg.git#egg=pkg", "pkg @ https://files.example/pkg.whl"]


@pytest.fixture
def params_project(tracking: Path, tmp_path: Path) -> Path:
    notebook = write_notebook(tmp_path / "nb" / "tiny.ipynb",
                              ("alpha = 0.5  # a parameter\n", ["parameters"]),
                              ("print('ALPHA', alpha)\n", []))
    return export_notebook(notebook, tmp_path / "project", write=None)


def test_offline_refuses_fetching_requirement_lines_before_any_process(
        params_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    (params_project / "more.txt").write_text(FETCHING[3] + "\n")
    with (params_project / "requirements.txt").open("a") as handle:
        handle.write("\n".join(FETCHING[:3]) + "\n-r more.txt\n")
    envs = tmp_path / "envs"
    monkeypatch.setenv("MLNB_ENV_ROOT", str(envs))
    assert cli(["run", str(params_project), "--env-manager", "virtualenv", "--offline"]) == 2
    err = capsys.readouterr().err
    assert "--offline: these requirement lines fetch from the network" in err
    for line in FETCHING[:3]:
        assert f": {line}  (" in err
    assert "more.txt line 1: pkg @ https://files.example/pkg.whl" in err
    assert not envs.exists()  # `python -m venv` never ran, so pip never did
    assert all_runs() == []


def test_fetching_requirement_lines_are_shown_before_pip_runs(
        params_project: Path, tmp_path: Path) -> None:
    with (params_project / "requirements.txt").open("a") as handle:
        handle.write(FETCHING[0] + "\n")
    # A Python no machine has: the build stops before its first process, after the lines are shown.
    (params_project / "python_env.yaml").write_text("python: 1.0\n")
    shown: list[str] = []
    with pytest.raises(mlnb.errors.MlnbError, match=r"needs Python 1\.0"):
        run_project(params_project, env_manager="virtualenv", env_root=tmp_path / "envs",
                    write=shown.append)
    assert any("fetches from the network: requirements.txt line" in line and FETCHING[0] in line
               for line in shown), shown
    assert not (tmp_path / "envs").exists()


# --- 6. inputs and outputs: a run is never blocked by its own outputs -----------------------------

WRITER_CELLS = (
    ('data_path = "data/in.csv"  # input\nout_path = "preds.csv"  # written\nalpha = 0.5\n',
     ["parameters"]),
    ("import json\nfrom pathlib import Path\n"
     "rows = Path(data_path).read_text().splitlines()\n"
     "Path(out_path).write_text('\\n'.join(r + ',' + str(alpha) for r in rows))\n"
     "with open('log.txt', 'w') as handle:\n    handle.write(str(len(rows)))\n"
     "seen = int(Path('counts.txt').read_text() or 0)\n"
     "Path('counts.txt').write_text(str(seen + 1))\n"
     "json.dump({'n': len(rows)}, open('summary.json', 'w'))\n", []))


@pytest.fixture
def writer_project(tracking: Path, tmp_path: Path) -> Path:
    """A project whose notebook reads data/in.csv, updates counts.txt and writes three outputs,
    exported after the notebook ran (so its outputs exist in its folder)."""
    folder = tmp_path / "nb"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "in.csv").write_text("a\nb\n")
    for name, text in [("preds.csv", "old"), ("log.txt", "2"), ("counts.txt", "1"),
                       ("summary.json", "{}")]:
        (folder / name).write_text(text)
    notebook = write_notebook(folder / "writer.ipynb", *WRITER_CELLS)
    return export_notebook(notebook, tmp_path / "project", write=None)


def test_outputs_are_left_out_of_the_lock_and_a_second_run_passes(writer_project: Path) -> None:
    lock = json.loads((writer_project / "data.lock.json").read_text())
    roles = {f["path"]: (f.get("role", "input"), f["copied"]) for f in lock["files"]}
    assert roles == {"data/in.csv": ("input", True), "counts.txt": ("updated", True),
                     "preds.csv": ("output", False), "log.txt": ("output", False),
                     "summary.json": ("output", False)}
    assert not (writer_project / "preds.csv").exists()  # an output is not copied
    from mlnb.projects.mlproject import load_project

    assert load_project(writer_project).entry_point("main").parameters["out_path"].type == "string"
    for _ in range(2):  # the second run reads what the first wrote: it must not be refused
        assert run_project(writer_project, write=None).status == "FINISHED"
    assert (writer_project / "counts.txt").read_text() == "3"
    assert (writer_project / "preds.csv").read_text() == "a,0.5\nb,0.5"
    assert subprocess.run([sys.executable, "main.py"], cwd=writer_project, capture_output=True,
                          check=False).returncode == 0  # by hand, in place, a third time
    (writer_project / "data" / "in.csv").write_text("changed\n")  # an input still is checked
    with pytest.raises(mlnb.errors.MlnbError, match=r"'data/in\.csv' has changed since the export"):
        run_project(writer_project, write=None)


def test_parameters_are_checked_before_the_data(writer_project: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (writer_project / "data" / "in.csv").write_text("changed\n")  # the data check would fail
    assert cli(["run", str(writer_project), "-P", "alhpa=1"]) == 2
    err = capsys.readouterr().err
    assert "Unknown parameter 'alhpa'" in err and "alpha, data_path, out_path" in err
    assert "changed since the export" not in err
    assert cli(["run", str(writer_project), "-P", "alpha=high"]) == 2
    err = capsys.readouterr().err
    assert "Parameter 'alpha' expects a float (e.g. 0.1), got 'high'" in err
    assert all_runs() == []


# A write the code analysis cannot see (a helper in a local module): the file stays a locked input,
# and the project's own runs must still never be blocked by it.
HELPER = ("import pickle\n\n\ndef keep(obj, where):\n"
          "    with open(where, 'wb') as handle:\n        pickle.dump(obj, handle)\n")
HIDDEN_WRITER_CELLS = (
    ('crash = ""  # "raise" or "exit": fail after the write\n', ["parameters"]),
    ("import os, pickle\nimport helpers\n"
     "rows = open('data/in.csv').read().splitlines()\n"
     "with open('model.pkl', 'rb') as handle:\n    model = pickle.load(handle)\n"
     "helpers.keep({'runs': model['runs'] + 1, 'rows': len(rows)}, 'model.pkl')\n"
     "if crash == 'raise':\n    raise RuntimeError('boom')\n"
     "if crash == 'exit':\n    os._exit(3)  # no finally, no atexit: as a killed process\n", []))


@pytest.fixture
def hidden_writer(tracking: Path, tmp_path: Path) -> Path:
    """A project whose notebook reads data/in.csv and rewrites model.pkl through helpers.keep."""
    import pickle

    folder = tmp_path / "nb"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "in.csv").write_text("a\nb\n")
    (folder / "model.pkl").write_bytes(pickle.dumps({"runs": 0, "rows": 0}))
    (folder / "helpers.py").write_text(HELPER)
    notebook = write_notebook(folder / "hidden.ipynb", *HIDDEN_WRITER_CELLS)
    out = export_notebook(notebook, tmp_path / "project", write=None)
    roles = {f["path"]: f["role"] for f in json.loads((out / "data.lock.json").read_text())["files"]}
    assert roles == {"data/in.csv": "input", "model.pkl": "input"}  # the write is not seen
    return out


def runs_recorded(project: Path) -> int:
    import pickle

    return int(pickle.loads((project / "model.pkl").read_bytes())["runs"])


def run_script(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "main.py", *args], cwd=project, capture_output=True,
                          text=True, check=False)


def test_a_file_the_run_rewrote_unseen_is_accepted_by_the_next_runs(
        hidden_writer: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["run", str(hidden_writer)]) == 0
    assert "2 data file(s) verified by sha256\n" in capsys.readouterr().out
    assert cli(["run", str(hidden_writer)]) == 0  # reads what the first run wrote
    assert ("2 data file(s) verified by sha256; written by the project's last run: model.pkl"
            in capsys.readouterr().out)
    shown = run_script(hidden_writer)  # by hand, without mlnb's runner
    assert shown.returncode == 0, shown.stderr
    assert cli(["run", str(hidden_writer)]) == 0  # and after it
    assert runs_recorded(hidden_writer) == 4
    state = json.loads((hidden_writer / ".mlnb-run-state.json").read_text())
    assert set(state["files"]) == {"model.pkl"}  # only the file a run changed
    assert "/.mlnb-run-state.json\n" in (hidden_writer / ".gitignore").read_text()


def test_a_file_the_run_rewrote_then_changed_by_hand_is_refused(hidden_writer: Path) -> None:
    import pickle

    assert run_project(hidden_writer, write=None).status == "FINISHED"
    (hidden_writer / "model.pkl").write_bytes(pickle.dumps({"runs": 41, "rows": 0}))
    pattern = r"Data file 'model\.pkl' has changed since the export: .*as the project's last run left it"
    with pytest.raises(mlnb.errors.MlnbError, match=pattern):
        run_project(hidden_writer, write=None)
    shown = run_script(hidden_writer)
    assert shown.returncode == 2 and re.search(pattern, shown.stderr), shown.stderr
    assert runs_recorded(hidden_writer) == 41  # neither ran


def test_an_input_changed_by_hand_is_still_refused_after_runs(hidden_writer: Path) -> None:
    for _ in range(2):
        assert run_project(hidden_writer, write=None).status == "FINISHED"
    (hidden_writer / "data" / "in.csv").write_text("changed\n")
    with pytest.raises(mlnb.errors.MlnbError) as refused:
        run_project(hidden_writer, write=None)
    message = str(refused.value)
    assert message.startswith("Data file 'data/in.csv' has changed since the export: its sha256 is ")
    assert "last run" not in message  # this run never wrote it
    assert runs_recorded(hidden_writer) == 2


@pytest.mark.parametrize("crash", ["raise", "exit"])
def test_a_run_that_fails_after_its_write_does_not_block_the_next(hidden_writer: Path,
                                                                  crash: str) -> None:
    # raise: main.py's own record (in a finally); exit: the process ends without one, and
    # mlnb run's record (around the child process) is what the next run relies on.
    with pytest.raises(mlnb.errors.MlnbError, match="failed"):
        run_project(hidden_writer, {"crash": crash}, write=None)
    assert runs_recorded(hidden_writer) == 1
    shown = run_script(hidden_writer)
    assert shown.returncode == 0, shown.stderr
    if crash == "raise":  # by hand too (a process ended by os._exit or a kill records nothing)
        shown = run_script(hidden_writer, "--crash", crash)
        assert shown.returncode == 1 and "RuntimeError: boom" in shown.stderr, shown.stderr
    assert run_project(hidden_writer, write=None).status == "FINISHED"
    assert runs_recorded(hidden_writer) == (4 if crash == "raise" else 3)


# --- 5. credential files are refused, or left out and supplied at run time ------------------------

PRIVATE_KEY = ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
               "-----END OPENSSH PRIVATE KEY-----\n")
CREDENTIALS = {  # name -> content: each is a credential file by its name, its content, or both
    "service-account.json": json.dumps({"type": "service_account", "project_id": "p",
                                        "private_key": "k", "client_email": "x@p.iam"}),
    ".env": "DEBUG=1\n",
    "keys/deploy_key": PRIVATE_KEY,
    "conf/aws.ini": "[default]\naws_access_key_id = AKIAZ7Q3EXAMPLE4XYZW\n",
    "conf/settings.yaml": "name: demo\napi_token: q8Zr2Lk9Vx4Tn7Wp3Ys6Bd1Hf5Jm0Cg\n",
    "conf/app.cfg": "session = Zq8r2Lk9Vx4Tn7Wp3Ys6Bd1Hf5Jm0CgA7\n",
}


def credential_notebook(folder: Path) -> Path:
    for name, content in CREDENTIALS.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(content)
    (folder / "data.csv").write_text("a,b\n1,2\n")  # an ordinary data file
    reads = "\n".join(f"texts.append(open({name!r}).read())" for name in CREDENTIALS)
    return write_notebook(folder / "creds.ipynb", (
        "import json\ntexts = [open('data.csv').read()]\n" + reads + "\n"
        "print('PROJECT', json.loads(texts[1])['project_id'], len(texts))\n", []))


def test_credential_files_refuse_the_export_naming_each(tracking: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    notebook = credential_notebook(tmp_path / "nb")
    assert cli(["export", str(notebook), "--out", str(tmp_path / "project")]) == 2
    err = capsys.readouterr().err
    assert "the notebook reads credential files" in err
    for name, why in [("service-account.json", "service-account key file (by its name)"),
                      (".env", "an environment file"), ("keys/deploy_key", "a private key block"),
                      ("conf/aws.ini", "an AWS access key id"),
                      ("conf/settings.yaml", "a secret-looking value for 'api_token'"),
                      ("conf/app.cfg", "a high-entropy token for 'session'")]:
        assert f"\n  {name}: " in err and why in err, name
    assert "data.csv" not in err
    assert "--reference-secrets" in err and "MLNB_SECRET_SERVICE_ACCOUNT_JSON" in err
    assert "b3BlbnNzaC1rZXktdjEAAAAA" not in err  # never the secret itself
    assert not (tmp_path / "project").exists()


def test_referenced_credential_files_are_left_out_and_supplied_at_run_time(
        tracking: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = credential_notebook(tmp_path / "nb")
    out = export_notebook(notebook, tmp_path / "project", write=None, reference_secrets=True)
    for name, content in CREDENTIALS.items():
        assert not (out / name).exists()
        for path in out.rglob("*"):
            if path.is_file() and path.suffix != ".whl":
                assert content.strip().splitlines()[-1].encode() not in path.read_bytes(), (name, path)
    assert (out / "data.csv").is_file()
    assert "/service-account.json\n" in (out / ".gitignore").read_text()
    assert r"set MLNB\_SECRET\_KEYS\_DEPLOY\_KEY to the path" in (out / "README.md").read_text()
    # Without the secrets: a clear error before any run, naming the variable to set.
    with pytest.raises(mlnb.errors.MlnbError, match=r"credential file '.env'.*MLNB_SECRET_ENV is not set"):
        run_project(out, write=None)
    assert all_runs() == []
    # With them (kept elsewhere, as a user would): the project runs, and leaves no link behind.
    for name in CREDENTIALS:
        monkeypatch.setenv(secret_env(name), str(tmp_path / "nb" / name))
    assert secret_env("keys/deploy_key") == "MLNB_SECRET_KEYS_DEPLOY_KEY"
    shown: list[str] = []
    assert run_project(out, write=shown.append).status == "FINISHED"
    assert any("PROJECT p 7" in line for line in shown), shown
    assert not (out / "service-account.json").exists() and not (out / "keys").exists()
    # By hand too (python main.py), with a file put into the project for one of them.
    (out / ".env").write_text("DEBUG=1\n")
    monkeypatch.delenv("MLNB_SECRET_ENV")
    ran = subprocess.run([sys.executable, "main.py"], cwd=out, capture_output=True, text=True,
                         check=False)
    assert ran.returncode == 0 and "PROJECT p 7" in ran.stdout, ran.stdout + ran.stderr


def test_a_credential_file_among_local_modules_is_caught_by_the_final_scan(tracking: Path,
                                                                           tmp_path: Path) -> None:
    folder = tmp_path / "nb"
    (folder / "helpers").mkdir(parents=True)
    (folder / "helpers" / "__init__.py").write_text("VALUE = 1\n")
    (folder / "helpers" / "id_ed25519").write_text(PRIVATE_KEY)
    notebook = write_notebook(folder / "uses.ipynb", ("import helpers\nprint(helpers.VALUE)\n", []))
    with pytest.raises(ExportRefusedError, match=r"helpers/id_ed25519: an SSH private key"):
        export_notebook(notebook, tmp_path / "project", write=None)
    assert not (tmp_path / "project").exists()
