"""Hazardous materials: Shamir secret sharing over GF(p), p = 2^521 - 1 (protocol section 6).

A secret ``s`` (``0 <= s < p``) is the constant term of a random polynomial ``f`` of degree
``threshold - 1``; share ``i`` (1-based) is ``f(i)``. Any ``threshold`` shares give ``f``
back by Lagrange interpolation; fewer reveal nothing about ``s``.

This module is raw arithmetic. It does not check that shares are consistent, that a secret
fits a key size, or that the randomness is good: :mod:`anonballot.sealing` does. Call that
instead.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence

from ..errors import InputError

__all__ = [
    "PRIME",
    "SHARE_BYTES",
    "evaluate",
    "interpolate_at",
    "lagrange_weights",
    "share_from_bytes",
    "share_to_bytes",
    "split",
]

PRIME = 2**521 - 1
"""The Mersenne prime 2^521 - 1; every share and coefficient is below it."""

SHARE_BYTES = 66
"""The size of a share in bytes (big-endian, ``ceil(521 / 8)``)."""


def evaluate(coefficients: Sequence[int], x: int) -> int:
    """``f(x) mod p`` for ``f = coefficients[0] + coefficients[1] * x + ...`` (Horner)."""
    acc = 0
    for c in reversed(coefficients):
        acc = (acc * x + c) % PRIME
    return acc


def split(
    secret: int,
    threshold: int,
    count: int,
    *,
    randbelow: Callable[[int], int] = secrets.randbelow,
) -> list[int]:
    """Split ``secret`` into ``count`` shares, any ``threshold`` of which recover it.

    Returns ``[f(1), ..., f(count)]`` where ``f(0) = secret`` and the other
    ``threshold - 1`` coefficients are ``randbelow(PRIME)`` each, drawn in order of degree.
    """
    if not 0 <= secret < PRIME:
        raise InputError("a Shamir secret must be in [0, 2^521 - 1)")
    if not 1 <= threshold <= count:
        raise InputError(f"need 1 <= threshold <= count, got threshold {threshold}, count {count}")
    if count >= PRIME:
        raise InputError("too many shares")
    coefficients = [secret]
    for _ in range(threshold - 1):
        c = randbelow(PRIME)
        if not 0 <= c < PRIME:
            raise InputError("randbelow returned a value outside [0, p)")
        coefficients.append(c)
    return [evaluate(coefficients, x) for x in range(1, count + 1)]


def lagrange_weights(xs: Sequence[int], x: int = 0) -> list[int]:
    """The Lagrange basis values ``L_j(x)`` for the nodes ``xs``, so ``f(x) = sum y_j L_j(x)``.

    Compute them once for a fixed set of nodes and reuse them for many interpolations.
    Every node must be in ``[1, p)`` and the nodes must be distinct.
    """
    if not xs:
        raise InputError("interpolation needs at least one point")
    for xj in xs:
        if not 0 < xj < PRIME:
            raise InputError(f"interpolation node {xj} is not in [1, p)")
    if len(set(xs)) != len(xs):
        raise InputError("interpolation nodes must be distinct")
    x %= PRIME
    weights = []
    for j, xj in enumerate(xs):
        num = 1
        den = 1
        for m, xm in enumerate(xs):
            if m != j:
                num = num * (x - xm) % PRIME
                den = den * (xj - xm) % PRIME
        weights.append(num * pow(den, -1, PRIME) % PRIME)
    return weights


def interpolate_at(points: Sequence[tuple[int, int]], x: int = 0) -> int:
    """``f(x)`` for the polynomial of least degree through ``points`` (Lagrange over GF(p)).

    Every ``x`` coordinate must be in ``[1, p)`` (a share is never ``f(0)``) and distinct;
    every ``y`` must be in ``[0, p)``.
    """
    for _, y in points:
        if not 0 <= y < PRIME:
            raise InputError("a share value must be in [0, p)")
    weights = lagrange_weights([xj for xj, _ in points], x)
    return sum(y * w for (_, y), w in zip(points, weights, strict=True)) % PRIME


def share_to_bytes(value: int) -> bytes:
    """The 66-byte big-endian form of a share value in ``[0, p)``."""
    if not 0 <= value < PRIME:
        raise InputError("a share value must be in [0, p)")
    return value.to_bytes(SHARE_BYTES, "big")


def share_from_bytes(data: bytes) -> int:
    """Parse a 66-byte big-endian share; reject other sizes and values ``>= p``."""
    if len(data) != SHARE_BYTES:
        raise InputError(f"a share is {SHARE_BYTES} bytes, found {len(data)}")
    value = int.from_bytes(data, "big")
    if value >= PRIME:
        raise InputError("a share value must be below 2^521 - 1")
    return value
