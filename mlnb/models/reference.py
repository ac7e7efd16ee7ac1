"""The reference sample a model was logged with (``log_model(..., reference_data=df)``): what
``mlnb monitor`` compares the model's live inputs with by default."""

from __future__ import annotations

from typing import Any

from mlnb.models.format import REFERENCE_FILE, ModelDescriptor, check_files
from mlnb.models.uri import resolve_model_uri
from mlnb.store.artifacts import resolve_inside, safe_relpath


def load_reference_data(model_uri: str) -> Any:
    """The model's reference sample as a DataFrame, or None when it was logged without one.

    Every file of the model is checked against the sha256 its ``MLmodel`` (and the store)
    records first, so a reference edited after logging is refused, not silently used.

    :param model_uri: ``runs:/``, ``models:/`` or a model folder.
    :raises UntrustedModelError: when the sample (or another file) changed since it was saved.
    """
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    location = resolve_model_uri(model_uri)
    descriptor = ModelDescriptor.load(location.local_dir)
    info = descriptor.reference_data_info
    if info is None:
        return None
    check_files(location, descriptor, trusted=False)
    path = resolve_inside(location.local_dir, safe_relpath(str(info.get("artifact_path") or
                                                               REFERENCE_FILE)))
    return pd.read_parquet(path)
