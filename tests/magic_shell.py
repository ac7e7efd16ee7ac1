"""A real IPython shell for magic tests that re-raises cell errors (jupysql's TestingShell)."""

from __future__ import annotations

import atexit
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.history import HistoryAccessor
from IPython.core.interactiveshell import InteractiveShell


class TestingShell(InteractiveShell):
    __test__ = False

    """An InteractiveShell whose ``run_cell`` raises the cell's exception instead of printing it."""

    def run_cell(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("store_history", True)
        result = super().run_cell(*args, **kwargs)
        result.raise_error()
        return result


@pytest.fixture
def ip(tracking: Any) -> Iterator[TestingShell]:
    """A fresh shell with ``%load_ext mlnb`` done, tracking into the test's store."""
    HistoryAccessor.enabled = False
    TestingShell.clear_instance()
    shell = TestingShell.instance()
    shell.run_cell("%load_ext mlnb")
    yield shell
    shell.run_cell("%unload_ext mlnb")
    # InteractiveShell registers its atexit_operations (a reset and a full gc.collect()) for
    # the process's exit: left registered, every test's shell and namespace stay alive to the
    # end and each collects a heap of the whole suite at exit, minutes after the last test
    atexit.unregister(shell.atexit_operations)
    TestingShell.clear_instance()
