"""The ``MLproject`` file, in MLflow's format: read, write, and turn an entry point into a command.

```yaml
name: train_params
python_env: python_env.yaml
entry_points:
  main:
    parameters:
      lr: {type: float, default: 0.1}
    command: "python main.py --lr {lr}"
```

A command is split with :mod:`shlex` and each ``{name}`` is replaced inside its own argument, so a
parameter's value is never read by a shell.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlnb.errors import InvalidParameterError, NotFoundError
from mlnb.projects.parameters import BOOL_KEY, TYPES, ParameterSpec

MLPROJECT = "MLproject"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class EntryPoint:
    """One entry point of an ``MLproject`` file: its name, command and parameters."""
    name: str
    command: str
    parameters: dict[str, ParameterSpec] = field(default_factory=dict)

    def argv(self, values: dict[str, str]) -> list[str]:
        """The command's arguments with every ``{name}`` replaced by its value.

        :param values: parameter name -> command-line text.
        """
        def substitute(match: re.Match[str]) -> str:
            return values[match.group(1)]

        try:
            return [_PLACEHOLDER.sub(substitute, word) for word in shlex.split(self.command)]
        except KeyError as exc:
            raise InvalidParameterError(
                f"The command of entry point {self.name!r} uses {{{exc.args[0]}}}, which is not "
                "one of its parameters.") from None


@dataclass(frozen=True)
class Project:
    """A loaded ``MLproject``: name, folder, entry points and Python environment file."""
    name: str
    directory: Path
    entry_points: dict[str, EntryPoint]
    python_env: str | None = None

    def entry_point(self, name: str) -> EntryPoint:
        """The entry point with this name.

        :param name: its name.
        :raises NotFoundError: naming the entry points the project has.
        """
        if name not in self.entry_points:
            raise NotFoundError(f"Project {self.name!r} has no entry point {name!r}; it has: "
                                f"{', '.join(sorted(self.entry_points))}.")
        return self.entry_points[name]


def command_for(script: str, specs: list[ParameterSpec]) -> str:
    """The entry point's command: ``python <script> --<name> {<name>} ...``.

    :param script: the script's file name.
    :param specs: the parameters.
    """
    return " ".join(["python", script, *[f"--{s.name} {{{s.name}}}" for s in specs]])


def mlproject_text(name: str, specs: list[ParameterSpec], script: str = "main.py") -> str:
    """The ``MLproject`` file of an exported project (one ``main`` entry point).

    :param name: the project's name.
    :param specs: the parameters.
    :param script: the script's file name.
    """
    import yaml  # PyYAML: loaded on first use, not by import mlnb

    document = {
        "name": name,
        "python_env": "python_env.yaml",
        "entry_points": {
            "main": {
                "parameters": {s.name: s.mlproject_entry() for s in specs},
                "command": command_for(script, specs),
            }
        },
    }
    return str(yaml.safe_dump(document, sort_keys=False, default_flow_style=False))


def load_project(directory: Path) -> Project:
    """Read ``directory/MLproject``; errors name the file and what is wrong.

    :param directory: the project folder.
    """
    import yaml  # PyYAML: loaded on first use, not by import mlnb

    path = directory / MLPROJECT
    if not path.is_file():
        raise NotFoundError(f"No MLproject file in {directory}: is it a project exported with "
                            "`mlnb export`?")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InvalidParameterError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("entry_points"), dict):
        raise InvalidParameterError(f"{path} has no 'entry_points' mapping.")
    entries = {str(name): _entry_point(str(name), spec, path)
               for name, spec in document["entry_points"].items()}
    return Project(str(document.get("name") or directory.name), directory, entries,
                   document.get("python_env"))


def _entry_point(name: str, spec: Any, path: Path) -> EntryPoint:
    if not isinstance(spec, dict) or not isinstance(spec.get("command"), str):
        raise InvalidParameterError(f"Entry point {name!r} in {path} has no command.")
    parameters = {}
    for param, declared in (spec.get("parameters") or {}).items():
        declared = declared if isinstance(declared, dict) else {"type": "string", "default": declared}
        type_ = str(declared.get("type", "string"))
        if type_ not in TYPES:
            raise InvalidParameterError(
                f"Parameter {param!r} of entry point {name!r} has type {type_!r}; MLproject types "
                f"are {', '.join(TYPES)}.")
        # A bool is an MLflow ``string`` that mlnb checks as true/false (see parameters.BOOL_KEY).
        is_bool = type_ == "string" and str(declared.get(BOOL_KEY, "")).lower() == "bool"
        parameters[str(param)] = ParameterSpec(str(param), type_, declared.get("default"),
                                               is_bool=is_bool)
    return EntryPoint(name, spec["command"], parameters)
