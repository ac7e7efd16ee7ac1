"""The exported project's README.md: how to run it, its parameters, data and provenance.

Every user-controlled string (run names, params, experiment names) is written as literal text:
HTML-escaped and with Markdown's punctuation backslash-escaped, so nothing renders as markup.
"""

from __future__ import annotations

import html
import re
from typing import Any

from mlnb.projects.data import LOCK_NAME, OUTPUT, RUN_STATE_NAME, SECRET, UPDATED, DataFile, secret_env
from mlnb.projects.parameters import ParameterSpec

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+!|$~<>-])")


def md(value: Any) -> str:
    """A value as literal Markdown text (one line).

    :param value: any value.
    """
    text = " ".join(str(value).split())
    return _MARKDOWN.sub(r"\\\1", html.escape(text, quote=False))


def code(value: Any) -> str:
    """A value inside a Markdown code span (where backslash escapes would show literally).

    :param value: any value.
    """
    return " ".join(str(value).split()).replace("`", "'")


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(md(cell) for cell in row) + " |" for row in rows]
    return lines


def readme_text(name: str, notebook: str, specs: list[ParameterSpec], files: list[DataFile],
                provenance: dict[str, Any], notes: list[str], translated: list[str]) -> str:
    """The project's ``README.md``: how to run it, its parameters, data files, provenance and notes.

    :param name: the project's name.
    :param notebook: the notebook's file name.
    :param specs: the parameters.
    :param files: the data files.
    :param provenance: the provenance record.
    :param notes: what the export left out or changed.
    :param translated: IPython lines that were translated.
    """
    example = " ".join(f"-P {s.name}={s.default}" for s in specs[:2])
    lines = [
        f"# {md(name)}",
        "",
        f"Exported by {md(provenance['exported_by'])} from the notebook `{code(notebook)}` as an "
        "[MLflow project](https://mlflow.org/docs/latest/projects.html): `MLproject`, "
        "`python_env.yaml`, `requirements.txt` (exact versions) and `main.py`, the notebook as a script.",
        "",
        "## Run it",
        "",
        "```bash",
        "mlnb run .                               # in the current environment, tracked",
        f"mlnb run . {example}".rstrip() + "       # other parameter values" if specs else "",
        "mlnb run . --env-manager virtualenv      # in a fresh virtualenv from requirements.txt",
        "mlnb run . --verify                      # re-run and compare metrics with the source run",
        "```",
        "",
        "Without mlnb's runner: `pip install --find-links .mlnb-wheel -r requirements.txt`, then "
        "`python main.py --help`.",
        "mlnb is not on PyPI, so this project carries a wheel of it in `.mlnb-wheel/`.",
        "",
        "## Parameters",
        "",
    ]
    lines += _table(["name", "type", "default", "help"],
                    [[s.name, "bool (true/false, yes/no, 1/0)" if s.is_bool else s.type, s.default, s.help]
                     for s in specs]) if specs else ["(none)"]
    lines += ["", "## Data files", ""]
    lines += _table(["path", "size (bytes)", "sha256", "in the project"],
                    [[f.path, f.size, f.sha256 or "-", _where(f)] for f in files]
                    ) if files else ["(none found)"]
    if files:
        lines += ["", f"`mlnb run` checks every input file against `{LOCK_NAME}` before it runs "
                  "(not the files the notebook writes). An input that a run of this project "
                  f"rewrote is accepted as that run left it (recorded in `{RUN_STATE_NAME}`)."]
    lines += ["", "## Provenance", "", *_provenance_lines(provenance)]
    if notes or translated:
        lines += ["", "## Notes from the export", ""]
        lines += [f"- {md(note)}" for note in [*notes, *translated]]
    return "\n".join(line for line in lines) + "\n"


def _where(file: DataFile) -> str:
    if file.role == SECRET:
        return (f"left out (a credential file): set {secret_env(file.path)} to the path of your "
                "copy, or put it here")
    if file.role == OUTPUT:
        return "written by the notebook: not copied, not checked"
    if file.role == UPDATED:
        return "copied; the notebook rewrites it: not checked"
    return "copied" if file.copied else "NOT copied: put it here"


def _provenance_lines(provenance: dict[str, Any]) -> list[str]:
    git = provenance.get("git") or {}
    lines = [f"- notebook: `{code(provenance['notebook'])}`",
             f"- git commit: {md(git.get('commit') or 'not in a git repository')}"
             + (f" (branch {md(git['branch'])})" if git.get("branch") else ""),
             f"- exported at: {md(provenance['exported_at'])}"]
    run = provenance.get("run")
    if not run:
        return [*lines, "- source run: none chosen (export with `--run RUN_ID` to record one)"]
    lines += [f"- source run: {md(run['run_name'])} (`{code(run['run_id'])}`), experiment "
              f"{md(run['experiment'])}, status {md(run['status'])}", "", "Metrics it reported:", ""]
    metrics = [[run["run_name"], key, value] for key, value in sorted(run["metrics"].items())]
    metrics += [[child["run_name"], key, value] for child in run.get("children", [])
                for key, value in sorted(child["metrics"].items())]
    return lines + (_table(["run", "metric", "value"], metrics) if metrics else ["(none)"])
