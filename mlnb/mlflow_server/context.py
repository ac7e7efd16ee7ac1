"""What a request's handler works with: the store and the caller's name."""

from __future__ import annotations

from dataclasses import dataclass

from mlnb.store import Store


@dataclass(frozen=True)
class Context:
    """A request's store and user.

    :param store: the store the server serves.
    :param user: the authenticated user's name, for the registry's history.
    """

    store: Store
    user: str = ""
