"""Exceptions, each named after the condition it reports.

Every mlnb error derives from :class:`MlnbError` (also exported as ``MlflowException`` so that
``except mlflow.exceptions.MlflowException`` keeps working after ``import mlnb as mlflow``).
Each carries an ``error_code`` in MLflow's vocabulary, which the REST layers map to HTTP codes
in one place.
"""

from __future__ import annotations


class MlnbError(Exception):
    """Base class of every error mlnb raises on purpose."""

    error_code = "INTERNAL_ERROR"

    @property
    def message(self) -> str:
        """The error's message (MLflow's ``MlflowException.message``)."""
        return str(self.args[0]) if self.args else self.__class__.__name__


class InvalidParameterError(MlnbError, ValueError):
    """A user-supplied value (key, name, filter, path, limit) is not acceptable."""

    error_code = "INVALID_PARAMETER_VALUE"


class InvalidValueTypeError(InvalidParameterError, TypeError):
    """A value of the wrong type (a string as a metric): caught by ``except TypeError`` and by
    ``except MlflowException`` alike, as Python and MLflow code each expect."""


class NotFoundError(MlnbError, LookupError):
    """An experiment, run, artifact or model that was asked for does not exist."""

    error_code = "RESOURCE_DOES_NOT_EXIST"


class AlreadyExistsError(MlnbError):
    """Creating something whose name is taken."""

    error_code = "RESOURCE_ALREADY_EXISTS"


class ParamConflictError(InvalidParameterError):
    """A param was logged again in the same run with a different value."""


class FilterSyntaxError(InvalidParameterError):
    """A search filter or order-by clause that does not parse; names the token and position.

    :param message: what is wrong.
    :param text: the filter or clause, shown under the message.
    :param position: the offending character's index in ``text``, marked with ``^``.
    """

    def __init__(self, message: str, text: str = "", position: int | None = None) -> None:
        if position is not None and text:
            pointer = " " * position + "^"
            message = f"{message}\n  {text}\n  {pointer}"
        super().__init__(message)
        self.text = text
        self.position = position


class UnsafePathError(InvalidParameterError):
    """An artifact or file path that would escape the folder it must stay in."""


class RunStateError(MlnbError):
    """An operation that the run's current state does not allow (e.g. logging to a deleted run)."""

    error_code = "INVALID_STATE"


class StoreError(MlnbError):
    """The store cannot be opened or written (corrupt file, read-only folder, disk full)."""

    error_code = "STORE_ERROR"


class ArtifactIntegrityError(StoreError):
    """An artifact read from object storage whose bytes do not match the size and sha256 the
    store recorded when it was written: it was changed there since, and is not used."""


class ReadOnlyStoreError(StoreError):
    """The store may be read but not changed by this user: a PostgreSQL role granted only
    reading (``mlnb db grant --reader``), or an SQLite file this user cannot write."""

    error_code = "PERMISSION_DENIED"
    read_only = True


class SchemaTooNewError(StoreError):
    """The store was written by a newer mlnb than this one."""


class ForeignStoreError(StoreError):
    """The database file named as the store holds another program's tables (an MLflow tracking
    database, say): mlnb neither reads nor changes it."""


class UnsafeStoreError(StoreError):
    """A store found by walking up from the current folder that another user controls (owned by
    someone else, or writable by group or others): mlnb refuses it, as git refuses a repository
    of dubious ownership."""

    error_code = "PERMISSION_DENIED"


class StorePrivacyWarning(UserWarning):
    """A store named explicitly (``set_tracking_uri``, ``MLNB_TRACKING_URI``, ``--store``) that
    is not private to this user: it is used, but others can read or change what is logged."""


class MalformedRowWarning(UserWarning):
    """A row of the store that mlnb skipped because a value in it has the wrong type or range
    (written by hand or by another tool): one bad row never makes a whole listing fail."""


class UntrustedModelError(MlnbError):
    """A model file would run code on load and its origin or hash cannot be vouched for."""

    error_code = "PERMISSION_DENIED"


class ConflictError(MlnbError):
    """Two writers raced for something only one can have (e.g. the Production stage)."""

    error_code = "ABORTED"


class GateFailedError(MlnbError):
    """A model version may not move to a stage or alias: it fails its model's registry gate (or
    has no evaluation attached). ``force=True`` overrides.

    :param message: the whole explanation (each failed threshold with its measured value).
    :param failures: each reason alone, e.g. ``accuracy >= 0.9 (measured 0.85)``.
    """

    error_code = "INVALID_STATE"

    def __init__(self, message: str, failures: list[str]) -> None:
        super().__init__(message)
        self.failures = failures


# MLflow's name, so `except mlflow.exceptions.MlflowException` keeps working after the import swap.
MlflowException = MlnbError

__all__ = [
    "AlreadyExistsError",
    "ArtifactIntegrityError",
    "ConflictError",
    "FilterSyntaxError",
    "GateFailedError",
    "InvalidParameterError",
    "InvalidValueTypeError",
    "MlflowException",
    "MlnbError",
    "NotFoundError",
    "ParamConflictError",
    "ReadOnlyStoreError",
    "RunStateError",
    "SchemaTooNewError",
    "StoreError",
    "UnsafePathError",
    "UntrustedModelError",
]
