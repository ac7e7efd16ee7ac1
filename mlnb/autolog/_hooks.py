"""Run an action when a module is imported: autologging for a library the user has not imported
yet, without importing it (``mlnb.autolog()`` must not load Keras, and with it PyTorch, for a
script that never uses it).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

_lock = threading.RLock()
_pending: dict[str, list[Callable[[ModuleType], None]]] = {}


def when_imported(name: str, action: Callable[[ModuleType], None]) -> None:
    """Call ``action(module)`` now if ``name`` is imported, else right after its import.

    :param name: a top-level module name (``"keras"``).
    :param action: what to do with the module (patch it); a failure in it is the action's to
        report: the import itself never fails because of it.
    """
    with _lock:
        module = sys.modules.get(name)
        if module is None:
            _pending.setdefault(name, []).append(action)
            if not any(isinstance(f, _Finder) for f in sys.meta_path):
                sys.meta_path.insert(0, _Finder())
            return
    action(module)


def forget(name: str) -> None:
    """Drop the actions waiting for ``name`` (autologging turned off before its import).

    :param name: the module name.
    """
    with _lock:
        _pending.pop(name, None)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: it lets the other finders find a watched module and wraps that
    module's loader, so the actions run once the module has executed."""

    _busy = threading.local()

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        """The spec the other finders give a watched module, its loader wrapped.

        :param fullname: the module being imported.
        :param path: the parent package's path.
        :param target: the module being reloaded, if any.
        """
        if fullname not in _pending or getattr(self._busy, "on", False):
            return None
        self._busy.on = True
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._busy.on = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _Loader(spec.loader, fullname)
        return spec


class _Loader(importlib.abc.Loader):
    """The real loader, then the waiting actions."""

    def __init__(self, inner: Any, name: str) -> None:
        self.inner = inner
        self.name = name

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        """As the real loader does.

        :param spec: the module's spec.
        """
        create = getattr(self.inner, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: ModuleType) -> None:
        """Execute the module, then run (and forget) the actions waiting for it.

        :param module: the module.
        """
        self.inner.exec_module(module)
        with _lock:
            actions = _pending.pop(self.name, [])
        for action in actions:
            action(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
