"""Strict parsing helpers shared by the manifest's parts (protocol section 4.2).

Every deviation raises :class:`~anonballot.errors.ManifestError`, so that a reader of a
manifest or of an organizer's configuration file gets one kind of error whatever part is
wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ParamSpec, TypeVar

from .encoding import JSONValue, b64u_decode
from .errors import EncodingError, ManifestError

Label = dict[str, str]
"""A label (protocol section 2.3): language tag to text, ``vi`` required."""

T = TypeVar("T")
P = ParamSpec("P")


def obj(
    value: object, keys: set[str], what: str, optional: set[str] | None = None
) -> dict[str, JSONValue]:
    if not isinstance(value, dict):
        raise ManifestError(f"{what}: expected an object")
    have = set(value)
    missing = keys - have
    extra = have - keys - (optional or set())
    if missing:
        raise ManifestError(f"{what}: missing {', '.join(sorted(missing))}")
    if extra:
        raise ManifestError(f"{what}: unexpected {', '.join(sorted(extra))}")
    return value


def list_of(value: object, what: str, *, min_len: int = 0) -> list[JSONValue]:
    if not isinstance(value, list):
        raise ManifestError(f"{what}: expected a list")
    if len(value) < min_len:
        raise ManifestError(f"{what}: expected at least {min_len} entries")
    return value


def integer(value: object, what: str, *, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ManifestError(f"{what}: expected an integer")
    if value < low or (high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise ManifestError(f"{what}: expected {bound}, found {value}")
    return value


def unique(ids: Sequence[str], what: str) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ManifestError(f"{what}: identifier {i!r} appears twice")
        seen.add(i)


def b64(value: object, what: str, length: int | None = None) -> bytes:
    try:
        return b64u_decode(value, length=length, what=what)
    except EncodingError as exc:
        raise ManifestError(exc.detail) from exc


def wrap(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    try:
        return fn(*args, **kwargs)
    except EncodingError as exc:
        raise ManifestError(exc.detail) from exc
