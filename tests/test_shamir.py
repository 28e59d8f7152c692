"""Shamir secret sharing over GF(2^521 - 1) (anonballot.hazmat.shamir)."""

from __future__ import annotations

import itertools
import random

import pytest
from _hypothesis import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from anonballot.errors import InputError
from anonballot.hazmat.shamir import (
    PRIME,
    SHARE_BYTES,
    evaluate,
    interpolate_at,
    lagrange_weights,
    share_from_bytes,
    share_to_bytes,
    split,
)

SETTINGS = settings(deadline=None, max_examples=examples(25))


@st.composite
def sharings(draw: st.DrawFn) -> tuple[int, int, int, int]:
    threshold = draw(st.integers(1, 5))
    count = draw(st.integers(threshold, 7))
    secret = draw(st.integers(0, 2**256 - 1))
    seed = draw(st.integers(0, 2**32))
    return secret, threshold, count, seed


def test_prime_and_size() -> None:
    assert PRIME == 2**521 - 1
    assert SHARE_BYTES == 66 == (PRIME.bit_length() + 7) // 8


@SETTINGS
@given(sharings())
def test_every_threshold_subset_recovers_the_secret(case: tuple[int, int, int, int]) -> None:
    secret, threshold, count, seed = case
    shares = split(secret, threshold, count, randbelow=random.Random(seed).randrange)
    assert len(shares) == count
    assert all(0 <= y < PRIME for y in shares)
    points = list(enumerate(shares, start=1))
    for subset in itertools.combinations(points, threshold):
        assert interpolate_at(subset) == secret
        # the same polynomial: it predicts every other share
        for x, y in points:
            assert interpolate_at(subset, x) == y


@SETTINGS
@given(sharings())
def test_more_than_threshold_points_also_recover(case: tuple[int, int, int, int]) -> None:
    secret, threshold, count, seed = case
    shares = split(secret, threshold, count, randbelow=random.Random(seed).randrange)
    assert interpolate_at(list(enumerate(shares, start=1))) == secret


@SETTINGS
@given(sharings().filter(lambda c: c[1] >= 2))
def test_fewer_than_threshold_points_give_another_value(case: tuple[int, int, int, int]) -> None:
    secret, threshold, count, seed = case
    shares = split(secret, threshold, count, randbelow=random.Random(seed).randrange)
    points = list(enumerate(shares, start=1))
    # With uniform coefficients each value equals the secret with probability 1/p.
    for subset in itertools.combinations(points, threshold - 1):
        assert interpolate_at(subset) != secret


def test_split_uses_randbelow_for_the_coefficients() -> None:
    drawn = iter([7, 11])
    calls: list[int] = []

    def randbelow(n: int) -> int:
        calls.append(n)
        return next(drawn)

    shares = split(5, 3, 4, randbelow=randbelow)
    assert calls == [PRIME, PRIME]
    assert shares == [5 + 7 * x + 11 * x * x for x in range(1, 5)]
    assert shares == [evaluate([5, 7, 11], x) for x in range(1, 5)]


def test_threshold_one_gives_copies_of_the_secret() -> None:
    assert split(42, 1, 3) == [42, 42, 42]


def test_split_wraps_modulo_p() -> None:
    shares = split(PRIME - 1, 2, 2, randbelow=lambda n: n - 1)
    assert shares == [(PRIME - 1) * 2 % PRIME, (PRIME - 1) * 3 % PRIME]
    assert interpolate_at([(1, shares[0]), (2, shares[1])]) == PRIME - 1


def test_split_with_default_randomness_round_trips() -> None:
    secret = random.Random(1).getrandbits(256)
    shares = split(secret, 3, 5)
    assert interpolate_at([(2, shares[1]), (4, shares[3]), (5, shares[4])]) == secret
    assert split(secret, 3, 5) != shares  # fresh coefficients


@pytest.mark.parametrize(
    ("secret", "threshold", "count"),
    [(-1, 1, 1), (PRIME, 1, 1), (1, 0, 1), (1, 3, 2), (1, 1, 0)],
)
def test_split_rejects(secret: int, threshold: int, count: int) -> None:
    with pytest.raises(InputError):
        split(secret, threshold, count)


def test_split_rejects_bad_randbelow() -> None:
    with pytest.raises(InputError):
        split(1, 2, 2, randbelow=lambda n: n)


@pytest.mark.parametrize(
    "points",
    [
        [],
        [(0, 1), (1, 2)],
        [(1, 1), (1, 2)],
        [(1, 1), (PRIME + 1, 2)],
        [(-1, 1)],
        [(PRIME, 1)],
        [(1, PRIME)],
        [(1, -1)],
    ],
)
def test_interpolate_rejects(points: list[tuple[int, int]]) -> None:
    with pytest.raises(InputError):
        interpolate_at(points)


@SETTINGS
@given(
    st.lists(st.integers(1, 1000), min_size=1, max_size=6, unique=True),
    st.integers(0, PRIME - 1),
)
def test_lagrange_weights_sum_to_one(xs: list[int], x: int) -> None:
    # interpolating the constant polynomial 1 gives 1 everywhere
    assert sum(lagrange_weights(xs, x)) % PRIME == 1


def test_lagrange_weights_match_interpolate() -> None:
    rng = random.Random(7)
    coefficients = [rng.randrange(PRIME) for _ in range(3)]
    xs = [2, 5, 6]
    ys = [evaluate(coefficients, x) for x in xs]
    for at in (0, 1, 3, 9):
        weights = lagrange_weights(xs, at)
        assert sum(w * y for w, y in zip(weights, ys, strict=True)) % PRIME == evaluate(
            coefficients, at
        )
        assert interpolate_at(list(zip(xs, ys, strict=True)), at) == evaluate(coefficients, at)


@SETTINGS
@given(st.integers(0, PRIME - 1))
def test_share_bytes_round_trip(value: int) -> None:
    data = share_to_bytes(value)
    assert len(data) == SHARE_BYTES
    assert data == value.to_bytes(66, "big")
    assert share_from_bytes(data) == value


@pytest.mark.parametrize("value", [-1, PRIME, 2**528])
def test_share_to_bytes_rejects(value: int) -> None:
    with pytest.raises(InputError):
        share_to_bytes(value)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        bytes(65),
        bytes(67),
        PRIME.to_bytes(66, "big"),
        (PRIME + 1).to_bytes(66, "big"),
        b"\xff" * 66,
    ],
)
def test_share_from_bytes_rejects(data: bytes) -> None:
    with pytest.raises(InputError):
        share_from_bytes(data)


def test_share_from_bytes_accepts_the_largest_value() -> None:
    assert share_from_bytes((PRIME - 1).to_bytes(66, "big")) == PRIME - 1
