"""The model registry: registered models, versions, stages, aliases and their history.

``client`` holds MLflow's ``MlflowClient`` registry methods (mixed into ``MlnbClient``);
``sources`` checks what a version may be registered from; ``uri`` is the ``models:/`` grammar.
Below tracking: nothing here knows the current run or the current store.
"""

from mlnb.registry.client import RegistryClientMixin
from mlnb.registry.sources import model_source, require_model_writer
from mlnb.registry.uri import parse_registry_uri, resolve_registry_uri

__all__ = ["RegistryClientMixin", "model_source", "parse_registry_uri", "require_model_writer",
           "resolve_registry_uri"]
