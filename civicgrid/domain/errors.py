"""Base class of every error raised by the domain package.

Callers at the boundaries (API, streams) catch `DomainError` once and translate it
(HTTP 4xx, dead letter); the subclasses say what exactly was wrong.
"""

from __future__ import annotations


class DomainError(ValueError):
    """A value or request that breaks one of the rules in docs/domain.md."""
