"""The facade's search errors, apart so that every parsing module can raise them."""

from __future__ import annotations


class SearchError(ValueError):
    """A search the store cannot answer exactly; the message says what to change."""


class UnknownResourceType(SearchError):
    """The resource type is not one the store holds."""
