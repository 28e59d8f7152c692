"""The HTTP status of every library error: one table, read along the exception's classes.

The library's exceptions say what went wrong (``code``, ``detail``); which HTTP status that
is, is the server's decision, made here and nowhere else. An error answers
``{"error": code, "detail": detail}`` with the status of its nearest class in
:data:`HTTP_STATUS` (``AnonBallotError`` itself: 400), so a new subclass in the library gets
its parent's status without a change here.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Mapping
from types import MappingProxyType

from anonballot.errors import (
    AnonBallotError,
    Conflict,
    InputError,
    NotFound,
    SigningFault,
    StateError,
    VerificationError,
)

__all__ = [
    "HTTP_STATUS",
    "AuthError",
    "Restricted",
    "TooLarge",
    "http_status",
    "is_storage_full",
    "one_line",
]


class AuthError(AnonBallotError):
    """The admin token is missing or wrong."""

    code = "unauthorized"


class Restricted(AnonBallotError):
    """A restricted round's confidential part (releases, results, the full record, plans)
    asked for without an access token or the admin token (protocol section 4.2)."""

    code = "restricted"


class TooLarge(InputError):
    """A request body larger than the server takes."""

    code = "too_large"


HTTP_STATUS: Mapping[type[AnonBallotError], int] = MappingProxyType(
    {
        AnonBallotError: 400,
        InputError: 400,  # bad or unusable input
        VerificationError: 400,  # a signature, token or proof that does not verify
        AuthError: 401,
        Restricted: 403,
        NotFound: 404,  # unknown round, ward, invitation code
        Conflict: 409,  # a spent token, a code already served
        StateError: 409,  # the round is not in a state that allows this
        TooLarge: 413,
        SigningFault: 503,  # the server's own fault: nothing issued, try again
    }
)


def http_status(exc: AnonBallotError) -> int:
    """The status of ``exc``'s nearest class in :data:`HTTP_STATUS`."""
    for cls in type(exc).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 400  # unreachable: AnonBallotError is in the table


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message: what a log line says of it."""
    return str(exc).split("\n", 1)[0] or type(exc).__name__


def is_storage_full(exc: BaseException) -> bool:
    """Whether ``exc`` is a full disk: SQLite's ``SQLITE_FULL`` ("database or disk is full"),
    PostgreSQL's ``disk_full``
    or an ``OSError`` of ``ENOSPC`` or ``EDQUOT``. Such a write was rolled back: nothing is
    half done, and the same request succeeds once there is room."""
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)
        return code == sqlite3.SQLITE_FULL or "database or disk is full" in str(exc)
    if getattr(exc, "sqlstate", None) == "53100":  # PostgreSQL's disk_full
        return True
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
