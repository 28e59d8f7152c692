"""An independent participant: casts a ballot through a server's HTTP API, written from the
protocol texts with other people's cryptography (``cryptography`` for RSA, AES-GCM and HPKE,
PyNaCl for Ed25519) and Python's integers for RFC 9474's blinding; nothing of anonballot.

``Voter(http, round_id, code).vote(rng)`` asks the ward of its invitation code (``POST
/ward``), blinds an RSABSSA-SHA384-PSS-Randomized token request for the ward's issuer key
(RFC 9474 section 4: the message is 32 random bytes and the voter's Ed25519 public key,
EMSA-PSS with a 48-byte salt), sends it (``POST /tokens``), finalizes and verifies the
signature, seals random honest answers for the trustees (brief section 6: a 256-bit key in
Shamir shares over 2^521 - 1, each share HPKE-sealed, the ballot AES-256-GCM), signs the leaf
and casts it (``POST /ballots``). :meth:`Voter.receipt_ok` checks the receipt against the
round's tiles (:mod:`independent.tiles_reader`), from any server of the round.
"""

from __future__ import annotations

import hashlib
import math
import random
import secrets
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.signing import SigningKey

from .tiles_reader import http_fetcher, log_parameters, read_log, verify_receipt
from .verifier import (
    HPKE_SUITE,
    P,
    b64u,
    b64u_decode,
    ballot_aad,
    hpke_info,
    jcs,
    parse_manifest,
)

SALT = 48
HASH = hashlib.sha384


def _mgf1(seed: bytes, length: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < length:
        out += HASH(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return out[:length]


def emsa_pss_encode(message: bytes, em_bits: int) -> bytes:
    """RFC 8017 section 9.1.1 with SHA-384, MGF1-SHA-384 and a 48-byte random salt."""
    em_len = math.ceil(em_bits / 8)
    m_hash = HASH(message).digest()
    salt = secrets.token_bytes(SALT)
    h = HASH(b"\0" * 8 + m_hash + salt).digest()
    db = b"\0" * (em_len - SALT - len(h) - 2) + b"\x01" + salt
    masked = bytes(a ^ b for a, b in zip(db, _mgf1(h, len(db)), strict=True))
    first = masked[0] & (0xFF >> (8 * em_len - em_bits))
    return bytes([first]) + masked[1:] + h + b"\xbc"


class Voter:
    """One invitation code's participant, talking to ``http`` (any instance of the round)."""

    def __init__(self, http: httpx.Client, round_id: str, code: str) -> None:
        self.http = http
        self.api = f"/api/rounds/{round_id}"
        self.code = code
        self.manifest_json: dict[str, Any] = http.get(f"{self.api}/manifest").json()
        self.m = parse_manifest(self.manifest_json)
        self.leaf: bytes | None = None

    def token(self, http: httpx.Client) -> tuple[bytes, bytes, SigningKey]:
        """A blind-issued token (message, signature) and the voter key it names."""
        answer = http.post(f"{self.api}/ward", json={"code": self.code})
        answer.raise_for_status()
        self.ward = answer.json()["ward"]
        key = self.m.wards[self.ward].key.public_numbers()
        n, e, k = key.n, key.e, self.m.wards[self.ward].modulus_bytes
        voter = SigningKey.generate()
        msg = secrets.token_bytes(32) + bytes(voter.verify_key)
        encoded = int.from_bytes(emsa_pss_encode(msg, n.bit_length() - 1), "big")
        while True:
            r = secrets.randbelow(n - 2) + 2
            if math.gcd(r, n) == 1:
                break
        blinded = (encoded * pow(r, e, n)) % n
        answer = http.post(
            f"{self.api}/tokens",
            json={"code": self.code, "blinded": b64u(blinded.to_bytes(k, "big"))},
        )
        answer.raise_for_status()
        blind_sig = int.from_bytes(b64u_decode(answer.json()["blind_sig"], k), "big")
        sig = ((blind_sig * pow(r, -1, n)) % n).to_bytes(k, "big")
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=SALT)
        self.m.wards[self.ward].key.verify(sig, msg, pss, hashes.SHA384())  # raises if bad
        return msg, sig, voter

    def ballot(self, rng: random.Random) -> bytes:
        """Honest random answers for the ward's people, as the canonical plaintext."""
        m = self.m
        answers = {
            s: {
                "ratings": {c: rng.choice(m.levels) for c in m.criteria},
                "comments": {
                    f: "Ý kiến độc lập"[:n] for f, n in m.comments.items() if rng.random() < 0.3
                },
            }
            for s in m.ward_subjects(self.ward)
        }
        return jcs({"v": 1, "ward": self.ward, "answers": answers})

    def vote(self, rng: random.Random, cast_to: httpx.Client | None = None) -> dict[str, Any]:
        """Token from this voter's server, the ballot cast to ``cast_to`` (by default the
        same); the receipt the server answered."""
        msg, sig, voter = self.token(self.http)
        m = self.m
        key = secrets.token_bytes(32)
        coefficients = [int.from_bytes(key, "big")] + [
            secrets.randbelow(P) for _ in range(m.threshold - 1)
        ]
        nonce = secrets.token_bytes(12)
        ct = AESGCM(key).encrypt(nonce, self.ballot(rng), ballot_aad(m.mid, self.ward))
        shares = []
        for trustee in m.trustees:
            value = sum(c * pow(trustee.x, j, P) for j, c in enumerate(coefficients)) % P
            public = X25519PublicKey.from_public_bytes(trustee.hpke_key)
            sealed = HPKE_SUITE.encrypt(
                value.to_bytes(66, "big"), public, info=hpke_info(m.mid, trustee.id)
            )
            shares.append(b64u(sealed))
        leaf: dict[str, Any] = {
            "v": 1,
            "round": m.mid,
            "ward": self.ward,
            "token": {"msg": b64u(msg), "sig": b64u(sig)},
            "ballot": {"shares": shares, "nonce": b64u(nonce), "ct": b64u(ct)},
        }
        leaf["voter_sig"] = b64u(voter.sign(jcs(leaf)).signature)
        self.leaf = jcs(leaf)
        answer = (cast_to or self.http).post(f"{self.api}/ballots", content=self.leaf)
        answer.raise_for_status()
        receipt: dict[str, Any] = answer.json()
        return receipt

    def receipt_ok(self, receipt: dict[str, Any], server: str) -> None:
        """The receipt against ``server``'s tiles of the round: its leaf in its checkpoint's
        tree, that tree a prefix of the log as the server publishes it now."""
        log = log_parameters(self.manifest_json["manifest"])
        fetch = http_fetcher(f"{server}/log/{self.m.round_id}/")
        view = read_log(fetch, log.origin, log.public_key)
        verify_receipt(receipt, fetch, log.origin, log.public_key, log.mid, view)
        assert self.leaf is not None
        if hashlib.sha256(b"\0" + self.leaf).digest() != b64u_decode(receipt["leaf_hash"], 32):
            raise AssertionError("the receipt is for another leaf")
