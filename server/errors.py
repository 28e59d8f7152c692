"""The server's errors and the one table that gives every error its HTTP status.

The library's exceptions carry meaning only (``code``, ``detail``); which status an answer
has is decided here, by the most specific class of :data:`HTTP_STATUS` that the error is an
instance of. Every error answer is ``{"error": code, "detail": sentence}`` (docs/server.md).
"""

from __future__ import annotations

from anonballot.errors import (
    AnonBallotError,
    Conflict,
    InputError,
    NotFound,
    StateError,
    VerificationError,
)

__all__ = ["HTTP_STATUS", "AuthError", "MethodNotAllowed", "TooLarge", "http_status"]


class AuthError(AnonBallotError):
    """The admin API was called without the right admin token."""

    code = "unauthorized"


class TooLarge(InputError):
    """A request body is over the server's limit."""

    code = "too_large"


class MethodNotAllowed(AnonBallotError):
    """The path exists but not with this method."""

    code = "method_not_allowed"


HTTP_STATUS: dict[type[AnonBallotError], int] = {
    AnonBallotError: 400,
    InputError: 400,
    VerificationError: 400,
    NotFound: 404,
    Conflict: 409,
    StateError: 409,
    AuthError: 401,
    TooLarge: 413,
    MethodNotAllowed: 405,
}
"""Status of an error by class; a subclass takes the status of its nearest listed base."""


def http_status(exc: AnonBallotError) -> int:
    """The HTTP status of an error answer for ``exc``."""
    for cls in type(exc).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 400
