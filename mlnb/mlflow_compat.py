"""Run MLflow code unchanged against mlnb: ``import mlflow...`` resolves to mlnb's modules.

``import mlnb as mlflow`` renames one module; a script that also says ``import mlflow.sklearn``
or ``from mlflow.models import infer_signature`` would, where MLflow is installed, load the real
MLflow for those lines and log half its work there. :func:`use_as_mlflow` installs an import hook
(a meta-path finder, first on ``sys.meta_path``) that answers every ``mlflow`` and ``mlflow.*``
import of this process from :data:`MODULES`:

* a name in the table gets the mlnb module (the very same module object: ``mlflow.sklearn is
  mlnb.sklearn``);
* any other ``mlflow.*`` name fails with ``ModuleNotFoundError`` naming it; the real MLflow is
  never loaded, even when it is installed.

The ways in: ``mlnb.use_as_mlflow()`` (a notebook or a script's first lines), ``%mlnb mlflow`` (a
notebook), and for a script file ``mlnb exec script.py [args]`` or
``python -m mlnb.mlflow_compat script.py [args]``, which install the hook and run the script as
``__main__``.

This module imports only the standard library and :mod:`mlnb.errors`: the mlnb modules in the
table are imported by name when an ``import mlflow...`` first asks for them, as ``mlnb``'s own lazy
attributes are, so it sits in the bottom layer where the notebook magic and the CLI can reach it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import runpy
import sys
import traceback
from collections.abc import Sequence
from types import ModuleType

MODULES: dict[str, str] = {
    "mlflow": "mlnb",
    "mlflow.artifacts": "mlnb.artifacts",
    "mlflow.client": "mlnb.tracking.client",
    "mlflow.data": "mlnb.data",
    "mlflow.entities": "mlnb.entities",
    "mlflow.exceptions": "mlnb.exceptions",
    "mlflow.models": "mlnb.models",
    "mlflow.models.signature": "mlnb.models.signature",
    "mlflow.pyfunc": "mlnb.pyfunc",
    "mlflow.sklearn": "mlnb.sklearn",
    "mlflow.tracking": "mlnb.tracking",
    "mlflow.tracking.client": "mlnb.tracking.client",
    "mlflow.types": "mlnb.models",  # Schema, ColSpec, TensorSpec
    "mlflow.types.schema": "mlnb.models.signature",
    # Flavors and areas that other parts of mlnb add: the name resolves as soon as its mlnb
    # module exists, and until then fails with a message saying mlnb lacks it.
    "mlflow.genai": "mlnb.genai",
    "mlflow.genai.judges": "mlnb.genai.judges",
    "mlflow.genai.scorers": "mlnb.genai.scorers",
    "mlflow.keras": "mlnb.keras",
    "mlflow.lightgbm": "mlnb.lightgbm",
    "mlflow.optuna": "mlnb.optuna",
    "mlflow.pytorch": "mlnb.pytorch",
    "mlflow.tracing": "mlnb.tracing",
    "mlflow.xgboost": "mlnb.xgboost",
}
"""``mlflow`` module name -> the mlnb module that stands in for it."""


def _unsupported(fullname: str, why: str = "") -> ModuleNotFoundError:
    available = ", ".join(sorted(name for name in MODULES if _exists(MODULES[name])))
    return ModuleNotFoundError(
        f"No module named {fullname!r}: mlnb stands in for MLflow in this process "
        f"(mlnb.use_as_mlflow()) and does not implement {fullname}{why}. The real MLflow is not "
        f"loaded in its place. Modules mlnb provides: {available}.",
        name=fullname,
    )


def _exists(module: str) -> bool:
    if module in sys.modules:
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


class _AliasLoader(importlib.abc.Loader):
    """Hands the import system an already imported mlnb module under an ``mlflow`` name."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.spec = module.__spec__

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return self.module

    def exec_module(self, module: ModuleType) -> None:
        # The import system stamped the mlflow name's spec on the module; it is mlnb's module
        # and keeps its own (importlib.reload and pickling look at it).
        module.__spec__ = self.spec


class MlflowFinder(importlib.abc.MetaPathFinder):
    """The meta-path finder answering ``mlflow`` imports from :data:`MODULES`."""

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        """The spec of an ``mlflow`` name (None for every other name, left to the next finder).

        :param fullname: the dotted module name being imported.
        :param path: the parent package's ``__path__`` (unused: the table decides).
        :param target: unused.
        :raises ModuleNotFoundError: for an ``mlflow`` name mlnb does not provide.
        """
        if fullname != "mlflow" and not fullname.startswith("mlflow."):
            return None
        target_name = MODULES.get(fullname)
        if target_name is None:
            raise _unsupported(fullname)
        try:
            module = importlib.import_module(target_name)
        except ModuleNotFoundError as exc:
            if exc.name == target_name:  # mlnb lacks the stand-in itself, not one of its needs
                raise _unsupported(fullname, " yet") from None
            raise
        return importlib.util.spec_from_loader(
            fullname, _AliasLoader(module), is_package=hasattr(module, "__path__"))


_finder = MlflowFinder()


def is_active() -> bool:
    """Whether ``import mlflow`` resolves to mlnb in this process."""
    return _finder in sys.meta_path


def use_as_mlflow() -> None:
    """Make ``import mlflow`` and its submodules resolve to mlnb for the rest of this process.

    Call it before the code that imports MLflow (in a notebook: before the cell with
    ``import mlflow``). Calling it again does nothing. The names that resolve are those of
    :data:`MODULES`; any other ``mlflow.*`` import fails with an error naming it.

    :raises ImportError: when the real MLflow is already imported in this process: the code that
        imported it would keep logging there. Restart the process (kernel) and call this first.
    """
    if is_active():
        return
    loaded = sorted(name for name, module in list(sys.modules.items())
                    if (name == "mlflow" or name.startswith("mlflow.")) and not _is_mlnb(module))
    if loaded:
        shown = ", ".join(loaded[:5]) + (", ..." if len(loaded) > 5 else "")
        raise ImportError(
            f"The real MLflow is already imported in this process ({shown}); code that imported "
            "it would keep logging to MLflow. Restart the process (in Jupyter: the kernel) and "
            "call mlnb.use_as_mlflow() (or %mlnb mlflow) before anything imports mlflow."
        )
    sys.meta_path.insert(0, _finder)


def stop_using_as_mlflow() -> None:
    """Remove the import hook and the ``mlflow`` names it bound (for tests and for undoing
    :func:`use_as_mlflow` in a session; modules that already hold ``mlflow`` keep it)."""
    while _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    for name in [n for n in sys.modules if n == "mlflow" or n.startswith("mlflow.")]:
        if _is_mlnb(sys.modules[name]):
            del sys.modules[name]


def _is_mlnb(module: object) -> bool:
    name = getattr(module, "__name__", "") or ""
    return name == "mlnb" or name.startswith("mlnb.")


def run_script(path: str, args: Sequence[str] = ()) -> None:
    """Run a Python script as ``__main__`` with ``import mlflow`` resolving to mlnb.

    ``sys.argv`` is ``[path, *args]`` and the script's folder is first on ``sys.path``, as
    ``python path args`` would have them. The script's exceptions and ``SystemExit``
    propagate.

    :param path: the script file.
    :param args: its command-line arguments.
    :raises FileNotFoundError: when ``path`` is not a file.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No script {path!r} to run.")
    use_as_mlflow()
    sys.argv = [path, *args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    runpy.run_path(path, run_name="__main__")


def run_script_as_main(path: str, args: Sequence[str] = ()) -> int:
    """Run a script as :func:`run_script` does and return its exit status, as ``python path`` would:
    its ``sys.exit`` code, or 1 after an uncaught exception, whose traceback is printed from the
    script's own frames on (not the runner's).

    :param path: the script file.
    :param args: its command-line arguments.
    """
    try:
        run_script(path, args)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        tb = exc.__traceback__
        script = os.path.abspath(path)
        while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) != script:
            tb = tb.tb_next
        traceback.print_exception(type(exc), exc, tb or exc.__traceback__)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mlnb.mlflow_compat script.py [args]``: run an MLflow script against mlnb.

    :param argv: the arguments; default ``sys.argv[1:]``.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print("usage: python -m mlnb.mlflow_compat SCRIPT [ARGS...]\n\n"
              "Run an MLflow script unchanged: its `import mlflow...` resolve to mlnb.",
              file=sys.stderr)
        return 0 if args else 2
    if not os.path.isfile(args[0]):
        print(f"mlnb: error: no script {args[0]!r} to run.", file=sys.stderr)
        return 2
    return run_script_as_main(args[0], args[1:])


if __name__ == "__main__":
    # Run as `python -m`, this file is __main__; the hook must be the one of mlnb.mlflow_compat,
    # the module mlnb.use_as_mlflow() (called again by the script, say) finds installed.
    from mlnb.mlflow_compat import main as _main

    sys.exit(_main())
