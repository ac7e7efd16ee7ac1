"""The model registry API: registered models, versions, stages, aliases and their history.

:class:`RegistryClientMixin` holds MLflow's ``MlflowClient`` registry methods; it is mixed into
:class:`mlnb.tracking.client.MlnbClient`, so ``MlnbClient().transition_model_version_stage(...)``
works as in MLflow. The module-level functions (``register_model``) use the current store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlnb.store import Store


class RegistryClientMixin:
    """Registry methods of :class:`~mlnb.tracking.client.MlnbClient` (they use ``self.store``)."""

    store: Store
