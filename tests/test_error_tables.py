"""The server's status table and the command line's exit table cover the whole error tree.

The library's exceptions carry meaning only; presentation lives in one table each at the
edge (anonballot.server.errors, anonballot.cli.common).
"""

from __future__ import annotations

import pytest

from anonballot import errors
from anonballot.cli.common import ApiError, ServerFailed, TryAgain, exit_status
from anonballot.errors import AnonBallotError
from anonballot.server.errors import http_status


def _tree(cls: type[AnonBallotError]) -> list[type[AnonBallotError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_tree(sub))
    return found


LIBRARY = [getattr(errors, name) for name in errors.__all__]


@pytest.mark.parametrize("cls", LIBRARY, ids=lambda c: c.__name__)
def test_library_errors_carry_no_presentation(cls: type[AnonBallotError]) -> None:
    assert not hasattr(cls, "http_status")
    assert not hasattr(cls, "exit_status")


@pytest.mark.parametrize(
    ("cls", "status"),
    [
        (errors.InputError, 400),
        (errors.EncodingError, 400),
        (errors.InvalidToken, 400),
        (errors.NotFound, 404),
        (errors.Conflict, 409),
        (errors.StateError, 409),
    ],
)
def test_http_status_by_nearest_class(cls: type[AnonBallotError], status: int) -> None:
    assert http_status(cls("x")) == status


def test_every_error_is_a_client_error_on_the_server() -> None:
    """Every error is the client's (4xx) but a fault of the server's own computation,
    503 like a full disk: nothing was done, the same request succeeds later."""
    for cls in _tree(AnonBallotError):
        if cls in (ApiError, ServerFailed, TryAgain):
            continue  # the command line's own errors never reach the server
        if cls is errors.SigningFault:
            assert http_status(cls.__new__(cls)) == 503
            continue
        assert 400 <= http_status(cls.__new__(cls)) < 500, cls


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.InputError("x"), 2),
        (errors.RecordError("x"), 2),
        (errors.NotFound("x"), 2),
        (errors.InvalidSignature("x"), 1),
        (errors.OpenError("x"), 1),
        (ApiError(404, "not_found", "x"), 2),
        (ServerFailed(503, "unavailable", "x"), 1),
    ],
)
def test_exit_status_by_nearest_class(error: AnonBallotError, status: int) -> None:
    assert exit_status(error) == status
