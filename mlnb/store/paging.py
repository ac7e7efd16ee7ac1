"""Page tokens of the client API: a page of results and the token of the next one.

MLflow's search methods return a list with a ``token``; mlnb's token is the row offset of the
next page, as text. One parser serves the tracking and the registry searches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlnb.errors import InvalidParameterError


class PagedList(list[Any]):
    """A page of results and the token for the next one (``None`` on the last page).

    :param items: the results of this page.
    :param token: the ``page_token`` that fetches the next page, or None.
    """

    def __init__(self, items: Sequence[Any], token: str | None) -> None:
        super().__init__(items)
        self.token = token


def token_offset(page_token: str | None) -> int:
    """The row offset a page token stands for (0 for no token).

    :param page_token: a ``token`` from an earlier page, or None for the first page.
    :raises InvalidParameterError: for text this client never returned.
    """
    if not page_token:
        return 0
    if not str(page_token).isdigit():
        raise InvalidParameterError(f"page_token {page_token!r} is not one this client returned.")
    return int(page_token)


def page(items: Sequence[Any], offset: int, max_results: int) -> PagedList:
    """The page of ``items`` found at ``offset``, with the next page's token when it is full.

    :param items: what the query returned (at most ``max_results``).
    :param offset: the offset the query started at.
    :param max_results: the page size asked for.
    """
    full = len(items) == max_results
    return PagedList(items, str(offset + len(items)) if full else None)
