"""The model registry's SQL: registered models, versions, stages, aliases and their history.

Mixed into :class:`mlnb.store.Store` beside :class:`mlnb.store.runs.RunQueries`. The tables are
created by the ``0002_registry`` migration in :mod:`mlnb.store.schema`.
"""

from __future__ import annotations

from mlnb.store.connection import Connection


class RegistryQueries:
    """The registry tables' SQL. Mixed into :class:`mlnb.store.Store`."""

    cx: Connection
