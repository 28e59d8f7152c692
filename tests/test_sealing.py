"""Sealed ballots (anonballot.sealing): protocol section 6 and the opening rules of 7.3."""

from __future__ import annotations

import pickle
import random
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import pytest
from _hypothesis import examples
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from anonballot.encoding import b64u_encode, jcs, parse_canonical
from anonballot.errors import EncodingError, InputError, OpenError, VerificationError
from anonballot.hazmat import shamir
from anonballot.opening import Opener, open_sealed
from anonballot.sealing import MAX_CT, NONCE_SIZE, SHARE_SIZE, SealedBallot, seal
from anonballot.trustee import HpkePrivateKey, HpkePublicKey, TrusteePublic, TrusteeSecret

SETTINGS = settings(deadline=None, max_examples=examples(25))
ROUND = "r-2025-autumn"
WARD = "ward-7"
SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_128_GCM)
PLAINTEXT = b'{"choice":"b"}'


def make_trustees(n: int, seed: int = 0) -> tuple[list[TrusteePublic], list[TrusteeSecret]]:
    rng = random.Random(seed)
    publics, secrets_ = [], []
    for i in range(1, n + 1):
        private = HpkePrivateKey(rng.randbytes(32))
        tid = f"trustee-{i}"
        publics.append(TrusteePublic(id=tid, hpke_key=private.public_key))
        secrets_.append(TrusteeSecret(index=i, id=tid, private_key=private))
    return publics, secrets_


PUBLICS, SECRETS = make_trustees(4)


def seeded(seed: int) -> random.Random:
    return random.Random(seed)


def reseal_share(
    value: bytes, trustee: TrusteePublic, *, round_id: str = ROUND, trustee_id: str | None = None
) -> bytes:
    """An HPKE share of raw ``value`` for ``trustee``, as :func:`seal` would make it."""
    info = jcs({"round": round_id, "trustee": trustee.id if trustee_id is None else trustee_id})
    return SUITE.encrypt(value, trustee.hpke_key.to_cryptography(), info=info)


def open_share(sealed: SealedBallot, secret: TrusteeSecret) -> int:
    info = jcs({"round": ROUND, "trustee": secret.id})
    key = secret.private_key.to_cryptography()
    return shamir.share_from_bytes(SUITE.decrypt(sealed.shares[secret.index - 1], key, info=info))


def with_share(sealed: SealedBallot, index: int, share: bytes) -> SealedBallot:
    shares = list(sealed.shares)
    shares[index - 1] = share
    return replace(sealed, shares=tuple(shares))


def with_values(sealed: SealedBallot, values: dict[int, int]) -> SealedBallot:
    """Replace the shares of the given 1-based indices by fresh shares of raw values."""
    for index, value in values.items():
        share = reseal_share(shamir.share_to_bytes(value), PUBLICS[index - 1])
        sealed = with_share(sealed, index, share)
    return sealed


def released(*indices: int) -> list[TrusteeSecret]:
    return [SECRETS[i - 1] for i in indices]


def reason(sealed: SealedBallot, indices: Sequence[int], threshold: int, ward: str = WARD) -> str:
    with pytest.raises(OpenError) as info:
        open_sealed(
            sealed, round_id=ROUND, ward=ward, released=released(*indices), threshold=threshold
        )
    return info.value.code


@pytest.fixture(scope="module")
def sealed_2_of_4() -> SealedBallot:
    return seal(PLAINTEXT, round_id=ROUND, ward=WARD, trustees=PUBLICS, threshold=2)


# --------------------------------------------------------------------------- round trips


@st.composite
def cases(draw: st.DrawFn) -> tuple[bytes, int, int, list[int], int]:
    plaintext = draw(st.binary(max_size=300))
    n = draw(st.integers(1, 4))
    threshold = draw(st.integers(1, min(3, n)))
    subset = draw(st.lists(st.integers(1, n), min_size=threshold, unique=True))
    seed = draw(st.integers(0, 2**32))
    return plaintext, n, threshold, subset, seed


@SETTINGS
@given(cases())
def test_round_trip(case: tuple[bytes, int, int, list[int], int]) -> None:
    plaintext, n, threshold, subset, seed = case
    publics, secrets_ = make_trustees(n, seed)
    sealed = seal(
        plaintext,
        round_id=ROUND,
        ward=WARD,
        trustees=publics,
        threshold=threshold,
        rng=seeded(seed).randbytes,
    )
    assert len(sealed.shares) == n
    assert all(len(s) == SHARE_SIZE for s in sealed.shares)
    assert len(sealed.nonce) == NONCE_SIZE
    assert len(sealed.ct) == len(plaintext) + 16
    chosen = [secrets_[i - 1] for i in subset]
    opener = Opener(round_id=ROUND, released=chosen, threshold=threshold)
    assert opener.open(sealed, ward=WARD) == plaintext
    assert (
        open_sealed(sealed, round_id=ROUND, ward=WARD, released=chosen, threshold=threshold)
        == plaintext
    )
    again = SealedBallot.from_json(parse_canonical(jcs(sealed.to_json())), trustee_count=n)
    assert again == sealed


def test_every_subset_opens_and_opener_is_reusable() -> None:
    ballots = [
        seal(bytes([i]) * i, round_id=ROUND, ward=WARD, trustees=PUBLICS, threshold=3)
        for i in range(5)
    ]
    for subset in [(1, 2, 3), (2, 3, 4), (1, 3, 4), (4, 2, 1), (1, 2, 3, 4)]:
        opener = Opener(round_id=ROUND, released=released(*subset), threshold=3)
        for i, ballot in enumerate(ballots):
            assert opener.open(ballot, ward=WARD) == bytes([i]) * i


def test_opener_serves_several_wards() -> None:
    a = seal(b"a", round_id=ROUND, ward="north", trustees=PUBLICS, threshold=2)
    b = seal(b"b", round_id=ROUND, ward="south", trustees=PUBLICS, threshold=2)
    opener = Opener(round_id=ROUND, released=released(1, 2), threshold=2)
    assert opener.open(a, ward="north") == b"a"
    assert opener.open(b, ward="south") == b"b"
    with pytest.raises(OpenError) as info:
        opener.open(a, ward="south")
    assert info.value.code == "undecryptable"


def test_seeded_rng_fixes_key_nonce_and_coefficients() -> None:
    first = seal(
        PLAINTEXT, round_id=ROUND, ward=WARD, trustees=PUBLICS, threshold=3, rng=seeded(9).randbytes
    )
    second = seal(
        PLAINTEXT, round_id=ROUND, ward=WARD, trustees=PUBLICS, threshold=3, rng=seeded(9).randbytes
    )
    assert (first.nonce, first.ct) == (second.nonce, second.ct)
    assert first.shares != second.shares  # HPKE draws its own ephemeral keys

    # The documented order of draws: K (32 bytes), nonce (12), then the coefficients as
    # 66-byte draws masked to 521 bits, rejected when >= p.
    rng = seeded(9)
    key = rng.randbytes(32)
    nonce = rng.randbytes(12)
    coefficients = [int.from_bytes(key, "big")]
    while len(coefficients) < 3:
        c = int.from_bytes(rng.randbytes(66), "big") & (2**521 - 1)
        if c < shamir.PRIME:
            coefficients.append(c)
    assert first.nonce == nonce
    aad = jcs({"round": ROUND, "ward": WARD})
    assert AESGCM(key).decrypt(nonce, first.ct, aad) == PLAINTEXT
    for ballot in (first, second):
        for secret in SECRETS:
            assert open_share(ballot, secret) == shamir.evaluate(coefficients, secret.index)


def test_default_rng_is_fresh() -> None:
    a = seal(PLAINTEXT, round_id=ROUND, ward=WARD, trustees=PUBLICS, threshold=2)
    b = seal(PLAINTEXT, round_id=ROUND, ward=WARD, trustees=PUBLICS, threshold=2)
    assert a.nonce != b.nonce
    assert a.ct != b.ct


def test_largest_plaintext() -> None:
    big = bytes(MAX_CT - 16)
    sealed = seal(big, round_id=ROUND, ward=WARD, trustees=PUBLICS[:1], threshold=1)
    assert len(sealed.ct) == MAX_CT
    assert SealedBallot.from_json(sealed.to_json(), trustee_count=1) == sealed
    assert open_sealed(sealed, round_id=ROUND, ward=WARD, released=SECRETS[:1], threshold=1) == big


def test_to_json_shape(sealed_2_of_4: SealedBallot) -> None:
    obj: dict[str, Any] = sealed_2_of_4.to_json()
    assert set(obj) == {"shares", "nonce", "ct"}
    assert obj["shares"] == [b64u_encode(s) for s in sealed_2_of_4.shares]
    assert obj["nonce"] == b64u_encode(sealed_2_of_4.nonce)
    assert obj["ct"] == b64u_encode(sealed_2_of_4.ct)
    assert all(len(s) == 152 for s in obj["shares"])  # 114 bytes in base64url


# --------------------------------------------------------------------------- reason codes


def test_random_share_is_undecryptable(sealed_2_of_4: SealedBallot) -> None:
    bad = with_share(sealed_2_of_4, 3, random.Random(3).randbytes(SHARE_SIZE))
    assert reason(bad, [1, 2, 3], 2) == "share_undecryptable"
    assert reason(bad, [3, 4], 2) == "share_undecryptable"
    # a share that is not released is never opened
    assert open_sealed(bad, round_id=ROUND, ward=WARD, released=released(1, 2, 4), threshold=2)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(bytes(65), id="65-bytes"),
        pytest.param(bytes(67), id="67-bytes"),
        pytest.param(shamir.PRIME.to_bytes(66, "big"), id="value-p"),
        pytest.param(b"\xff" * 66, id="value-2^528-1"),
    ],
)
def test_malformed_share_value_is_undecryptable(sealed_2_of_4: SealedBallot, value: bytes) -> None:
    share = reseal_share(value, PUBLICS[1])
    if len(share) != SHARE_SIZE:
        # a wrong-size HPKE output cannot even be stored in a ballot
        with pytest.raises(InputError):
            with_share(sealed_2_of_4, 2, share)
        return
    assert reason(with_share(sealed_2_of_4, 2, share), [1, 2], 2) == "share_undecryptable"


def test_share_padded_to_66_bytes_but_sealed_short(sealed_2_of_4: SealedBallot) -> None:
    # 65-byte value plus one garbage byte of ciphertext keeps the stored size at 114 but
    # the HPKE tag no longer matches
    share = reseal_share(bytes(65), PUBLICS[1]) + b"\x00"
    assert reason(with_share(sealed_2_of_4, 2, share), [1, 2], 2) == "share_undecryptable"


def test_share_bound_to_trustee_and_round(sealed_2_of_4: SealedBallot) -> None:
    value = shamir.share_to_bytes(open_share(sealed_2_of_4, SECRETS[1]))
    wrong_id = reseal_share(value, PUBLICS[1], trustee_id="trustee-1")
    assert reason(with_share(sealed_2_of_4, 2, wrong_id), [1, 2], 2) == "share_undecryptable"
    wrong_round = reseal_share(value, PUBLICS[1], round_id="r-other")
    assert reason(with_share(sealed_2_of_4, 2, wrong_round), [1, 2], 2) == "share_undecryptable"
    same = reseal_share(value, PUBLICS[1])
    opened = open_sealed(
        with_share(sealed_2_of_4, 2, same),
        round_id=ROUND,
        ward=WARD,
        released=released(1, 2),
        threshold=2,
    )
    assert opened == PLAINTEXT
    swapped = with_share(sealed_2_of_4, 1, sealed_2_of_4.shares[1])
    assert reason(swapped, [1, 2], 2) == "share_undecryptable"


def test_wrong_round_is_share_undecryptable(sealed_2_of_4: SealedBallot) -> None:
    # the round is bound into every share's HPKE info, so that check fails first
    with pytest.raises(OpenError) as info:
        open_sealed(
            sealed_2_of_4, round_id="r-other", ward=WARD, released=released(1, 2), threshold=2
        )
    assert info.value.code == "share_undecryptable"


def test_share_off_the_polynomial_beyond_threshold(sealed_2_of_4: SealedBallot) -> None:
    f3 = open_share(sealed_2_of_4, SECRETS[2])
    bad = with_values(sealed_2_of_4, {3: (f3 + 1) % shamir.PRIME})
    assert reason(bad, [1, 2, 3], 2) == "shares_inconsistent"
    assert reason(bad, [1, 2, 3, 4], 2) == "shares_inconsistent"
    assert reason(bad, [2, 3, 4], 2) == "shares_inconsistent"
    # not released, or not needed beyond the lowest threshold: never looked at
    for subset in ([1, 2], [1, 2, 4], [2, 4]):
        assert (
            open_sealed(bad, round_id=ROUND, ward=WARD, released=released(*subset), threshold=2)
            == PLAINTEXT
        )


def test_share_off_the_polynomial_among_interpolated(sealed_2_of_4: SealedBallot) -> None:
    # A wrong share among the lowest ``threshold`` makes f wrong: any further released share
    # then fails the consistency check.
    f1 = open_share(sealed_2_of_4, SECRETS[0])
    nudged = with_values(sealed_2_of_4, {1: (f1 + 1) % shamir.PRIME})
    assert reason(nudged, [1, 2, 3], 2) == "shares_inconsistent"
    assert reason(nudged, [3, 2, 1, 4], 2) == "shares_inconsistent"
    # With exactly ``threshold`` released nothing is left to check f against, so the wrong
    # f(0) decides. Adding d to f(1) adds d * L_1(0) to f(0); with nodes {1, 2},
    # L_1(0) = 2, so K + 2 is still below 2^256 (but wrong): undecryptable.
    assert reason(nudged, [1, 2], 2) == "undecryptable"
    # With nodes {1, 4}, L_1(0) = 4/3 mod p, a huge number: f(0) >= 2^256, bad_key.
    assert reason(nudged, [1, 4], 2) == "bad_key"
    # A random wrong value makes f(0) uniform in [0, p): below 2^256 with probability
    # 2^-265, so bad_key.
    garbage = with_values(sealed_2_of_4, {1: random.Random(5).randrange(shamir.PRIME)})
    assert reason(garbage, [1, 2], 2) == "bad_key"
    assert reason(garbage, [1, 2, 4], 2) == "shares_inconsistent"


def test_undecryptable_share_wins_over_inconsistency(sealed_2_of_4: SealedBallot) -> None:
    f1 = open_share(sealed_2_of_4, SECRETS[0])
    bad = with_values(sealed_2_of_4, {1: (f1 + 1) % shamir.PRIME})
    bad = with_share(bad, 4, bytes(SHARE_SIZE))
    assert reason(bad, [1, 2, 3, 4], 2) == "share_undecryptable"


def sealed_with_secret(secret: int, threshold: int = 2, seed: int = 1) -> SealedBallot:
    """A ballot whose shares are a consistent sharing of ``secret`` (not the real key)."""
    base = seal(PLAINTEXT, round_id=ROUND, ward=WARD, trustees=PUBLICS, threshold=threshold)
    values = shamir.split(secret, threshold, len(PUBLICS), randbelow=random.Random(seed).randrange)
    return with_values(base, dict(enumerate(values, start=1)))


@pytest.mark.parametrize("secret", [2**256, 2**256 + 12345, shamir.PRIME - 1])
def test_key_too_large_is_bad_key(secret: int) -> None:
    bad = sealed_with_secret(secret)
    assert reason(bad, [1, 2], 2) == "bad_key"
    assert reason(bad, [1, 2, 3, 4], 2) == "bad_key"


def test_wrong_key_below_bound_is_undecryptable() -> None:
    bad = sealed_with_secret(2**256 - 1)
    assert reason(bad, [2, 3, 4], 2) == "undecryptable"
    assert reason(sealed_with_secret(0, threshold=3), [1, 2, 3], 3) == "undecryptable"


def test_tampered_ct_nonce_or_ward_is_undecryptable(sealed_2_of_4: SealedBallot) -> None:
    ct = bytearray(sealed_2_of_4.ct)
    ct[0] ^= 1
    assert reason(replace(sealed_2_of_4, ct=bytes(ct)), [1, 2], 2) == "undecryptable"
    nonce = bytearray(sealed_2_of_4.nonce)
    nonce[-1] ^= 0x80
    assert reason(replace(sealed_2_of_4, nonce=bytes(nonce)), [1, 2], 2) == "undecryptable"
    assert reason(replace(sealed_2_of_4, ct=sealed_2_of_4.ct[:-1]), [1, 2], 2) == "undecryptable"
    assert reason(sealed_2_of_4, [1, 2], 2, ward="ward-8") == "undecryptable"


def test_open_error_is_a_verification_error(sealed_2_of_4: SealedBallot) -> None:
    with pytest.raises(OpenError) as info:
        open_sealed(sealed_2_of_4, round_id=ROUND, ward="x", released=released(1, 2), threshold=2)
    assert isinstance(info.value, VerificationError)
    assert info.value.detail


# --------------------------------------------------------------------------- opener inputs


def test_opener_needs_threshold_keys() -> None:
    with pytest.raises(InputError):
        Opener(round_id=ROUND, released=released(1), threshold=2)
    with pytest.raises(InputError):
        Opener(round_id=ROUND, released=released(1, 2), threshold=0)
    with pytest.raises(InputError):
        Opener(round_id=ROUND, released=[SECRETS[0], SECRETS[0]], threshold=2)


def test_opener_index_beyond_the_ballot() -> None:
    publics, secrets_ = make_trustees(2)
    sealed = seal(PLAINTEXT, round_id=ROUND, ward=WARD, trustees=publics, threshold=1)
    extra = TrusteeSecret(index=3, id="trustee-3", private_key=HpkePrivateKey(bytes(32)))
    opener = Opener(round_id=ROUND, released=[*secrets_, extra], threshold=1)
    with pytest.raises(InputError):
        opener.open(sealed, ward=WARD)


ZERO_KEY = HpkePrivateKey(bytes(32))


@pytest.mark.parametrize(
    ("index", "tid", "key"),
    [(0, "a", ZERO_KEY), (True, "a", ZERO_KEY), (1, "", ZERO_KEY), (1, "a", bytes(32))],
)
def test_trustee_secret_validation(index: int, tid: str, key: HpkePrivateKey) -> None:
    with pytest.raises(InputError):
        TrusteeSecret(index=index, id=tid, private_key=key)


def test_trustee_secret_repr_hides_the_key() -> None:
    secret = SECRETS[0].private_key
    text = repr(SECRETS[0]) + repr(secret) + str(secret)
    assert secret.to_bytes().hex() not in text
    assert b64u_encode(secret.to_bytes()) not in text
    assert repr(secret) == f"HpkePrivateKey(public_key={secret.public_key!r})"


@pytest.mark.parametrize(
    ("tid", "key"), [("", ZERO_KEY.public_key), ("a", bytes(32)), ("a", "x" * 32)]
)
def test_trustee_public_validation(tid: str, key: HpkePublicKey) -> None:
    with pytest.raises(InputError):
        TrusteePublic(id=tid, hpke_key=key)


# --------------------------------------------------------------------------- seal inputs


def test_seal_rejects_bad_parameters() -> None:
    for threshold in (0, 5, -1):
        with pytest.raises(InputError):
            seal(PLAINTEXT, round_id=ROUND, ward=WARD, trustees=PUBLICS, threshold=threshold)
    with pytest.raises(InputError):
        seal(PLAINTEXT, round_id=ROUND, ward=WARD, trustees=[], threshold=1)
    with pytest.raises(InputError):
        seal(PLAINTEXT, round_id=ROUND, ward=WARD, trustees=[PUBLICS[0], PUBLICS[0]], threshold=1)
    with pytest.raises(InputError):
        seal(bytes(MAX_CT - 15), round_id=ROUND, ward=WARD, trustees=PUBLICS, threshold=1)
    with pytest.raises(InputError):
        seal(PLAINTEXT, round_id=ROUND, ward=WARD, trustees=PUBLICS, threshold=1, rng=lambda n: b"")
    zero = TrusteePublic(id="zero", hpke_key=HpkePublicKey(bytes(32)))  # the zero point: DH fails
    with pytest.raises(InputError):
        seal(PLAINTEXT, round_id=ROUND, ward=WARD, trustees=[zero], threshold=1)


def test_seal_rejects_non_nfc_identifiers() -> None:
    with pytest.raises(EncodingError):
        seal(PLAINTEXT, round_id="e\u0301", ward=WARD, trustees=PUBLICS, threshold=1)


# --------------------------------------------------------------------------- from_json


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda o: o.pop("ct"), id="missing-ct"),
        pytest.param(lambda o: o.update(extra=1), id="extra-key"),
        pytest.param(lambda o: o.update(shares=o["shares"][:-1]), id="too-few-shares"),
        pytest.param(lambda o: o.update(shares=[*o["shares"], o["shares"][0]]), id="too-many"),
        pytest.param(lambda o: o.update(shares="abc"), id="shares-not-list"),
        pytest.param(lambda o: o.update(shares=[b64u_encode(bytes(113))] * 4), id="share-113"),
        pytest.param(lambda o: o.update(shares=[b64u_encode(bytes(115))] * 4), id="share-115"),
        pytest.param(lambda o: o.update(shares=[1, 2, 3, 4]), id="share-not-string"),
        pytest.param(lambda o: o.update(nonce=b64u_encode(bytes(11))), id="nonce-11"),
        pytest.param(lambda o: o.update(nonce=b64u_encode(bytes(13))), id="nonce-13"),
        pytest.param(lambda o: o.update(ct=b64u_encode(bytes(15))), id="ct-15"),
        pytest.param(lambda o: o.update(ct=""), id="ct-empty"),
        pytest.param(lambda o: o.update(ct=b64u_encode(bytes(MAX_CT + 1))), id="ct-too-long"),
        pytest.param(lambda o: o.update(nonce=o["nonce"] + "="), id="padding"),
        pytest.param(lambda o: o.update(nonce="AAAAAAAAAAAAAAA+"), id="plus-sign"),
        pytest.param(lambda o: o.update(ct="AB"), id="non-canonical"),
        pytest.param(lambda o: o.update(ct=None), id="ct-null"),
    ],
)
def test_from_json_rejects(
    sealed_2_of_4: SealedBallot, mutate: Callable[[dict[str, Any]], object]
) -> None:
    obj = sealed_2_of_4.to_json()
    mutate(obj)
    with pytest.raises(EncodingError):
        SealedBallot.from_json(obj, trustee_count=4)


def test_from_json_rejects_non_objects() -> None:
    obj: object
    for obj in (None, [], "ballot", 3):
        with pytest.raises(EncodingError):
            SealedBallot.from_json(obj, trustee_count=4)


def test_from_json_share_count_is_the_manifest_count(sealed_2_of_4: SealedBallot) -> None:
    with pytest.raises(EncodingError, match="expected 5 shares"):
        SealedBallot.from_json(sealed_2_of_4.to_json(), trustee_count=5)
    assert SealedBallot.from_json(sealed_2_of_4.to_json(), trustee_count=4) == sealed_2_of_4


def test_from_json_accepts_the_smallest_ct() -> None:
    sealed = seal(b"", round_id=ROUND, ward=WARD, trustees=PUBLICS, threshold=2)
    assert len(sealed.ct) == 16
    assert SealedBallot.from_json(sealed.to_json(), trustee_count=4) == sealed


def test_sealed_ballot_constructor_checks_sizes(sealed_2_of_4: SealedBallot) -> None:
    with pytest.raises(InputError):
        replace(sealed_2_of_4, shares=())
    with pytest.raises(InputError):
        replace(sealed_2_of_4, nonce=bytes(11))
    with pytest.raises(InputError):
        replace(sealed_2_of_4, ct=bytes(15))
    with pytest.raises(InputError):
        with_share(sealed_2_of_4, 1, bytes(SHARE_SIZE - 1))


# --------------------------------------------------------------------------- keys


def test_generate_hpke_key() -> None:
    private = HpkePrivateKey.generate()
    assert len(private.to_bytes()) == 32
    assert len(private.public_key.to_bytes()) == 32
    assert HpkePrivateKey(private.to_bytes()).public_key == private.public_key
    assert HpkePrivateKey(private.to_bytes()) == private
    assert HpkePrivateKey.generate() != private
    assert private.to_cryptography().private_bytes_raw() == private.to_bytes()


def test_hpke_public_from_private_rfc7748() -> None:
    # RFC 7748 section 6.1, Alice
    private = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    public = bytes.fromhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    assert HpkePrivateKey(private).public_key == HpkePublicKey(public)
    assert HpkePrivateKey(private).public_key.to_bytes() == public
    for bad in (bytes(31), bytes(33), "x" * 32):
        with pytest.raises(EncodingError):
            HpkePrivateKey(bad)  # type: ignore[arg-type]
        with pytest.raises(EncodingError):
            HpkePublicKey(bad)  # type: ignore[arg-type]


def test_hpke_public_key_value_semantics() -> None:
    key = PUBLICS[0].hpke_key
    same = HpkePublicKey.from_b64u(key.to_b64u())
    assert same == key
    assert hash(same) == hash(key)
    assert key != PUBLICS[1].hpke_key
    assert {key, same} == {key}
    assert repr(key) == f"HpkePublicKey({key.to_b64u()!r})"
    assert HpkePublicKey.from_bytes(bytes(key)) == key
    # Audit workers get the released keys by pickle (the bytes are our own).
    assert pickle.loads(pickle.dumps(key)) == key  # noqa: S301
    assert pickle.loads(pickle.dumps(SECRETS[0])) == SECRETS[0]  # noqa: S301
    with pytest.raises(AttributeError):
        key._key = bytes(32)
