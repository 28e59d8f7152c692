"""Key files protected by a passphrase, and private files written safely.

A trustee's key file holds its private keys (:meth:`anonballot.trustee.TrusteeKey.to_json`)
encrypted under a key derived from a passphrase::

    {"anonballot_key_file": 1,
     "kdf": {"name": "scrypt", "salt": b64u(16 bytes), "n": 32768, "r": 8, "p": 1},
     "nonce": b64u(12 bytes),
     "ct": b64u(AES-256-GCM(scrypt(passphrase), nonce, JCS(payload), aad = JCS(header)))}

where ``header`` is the file without ``nonce`` and ``ct`` (``anonballot_key_file`` and
``kdf``), so that nobody can weaken the KDF parameters of a file without the decryption
failing. The passphrase is taken as UTF-8 of its NFC form: a Vietnamese passphrase typed on
two systems that compose accents differently still opens the file.

The demo server writes **unencrypted** demo keys, ``{"demo_key_no_passphrase": true, "key":
{...}}``. :func:`decrypt_key_file` accepts them too; callers check :func:`is_demo_key_file`
first and warn loudly.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import unicodedata
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from .encoding import JSONValue, b64u_decode, b64u_encode, jcs, parse_json
from .errors import EncodingError, InputError

__all__ = [
    "FORMAT_VERSION",
    "KeyFileError",
    "WrongPassphrase",
    "decrypt_key_file",
    "encrypt_key_file",
    "is_demo_key_file",
    "is_key_file",
    "read_json_file",
    "write_private",
]

FORMAT_VERSION = 1
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SALT_SIZE = 16
NONCE_SIZE = 12
MAX_SCRYPT_MEMORY = 1024 * 1024 * 1024
"""A file may ask for stronger scrypt parameters than ours, up to 1 GiB of memory."""
MAX_PAYLOAD = 1024 * 1024


class KeyFileError(InputError):
    """A file that is not a key file, or one whose format is broken (exit 2)."""

    code = "bad_key_file"


class WrongPassphrase(KeyFileError):
    """The passphrase does not open the key file, or the file was altered (exit 2)."""

    code = "wrong_passphrase"

    def __init__(self, detail: str = "wrong passphrase or damaged key file") -> None:
        super().__init__(detail)


def _passphrase_bytes(passphrase: str) -> bytes:
    if not isinstance(passphrase, str) or not passphrase:
        raise KeyFileError("the passphrase is empty", code="empty_passphrase")
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(_passphrase_bytes(passphrase))


def encrypt_key_file(
    payload: dict[str, JSONValue],
    passphrase: str,
    *,
    n: int = SCRYPT_N,
    r: int = SCRYPT_R,
    p: int = SCRYPT_P,
) -> dict[str, JSONValue]:
    """The key file object for ``payload`` (any JSON object) under ``passphrase``."""
    if not isinstance(payload, dict):
        raise KeyFileError("a key file holds a JSON object")
    _check_kdf_numbers(n, r, p)
    salt = os.urandom(SALT_SIZE)
    nonce = os.urandom(NONCE_SIZE)
    header: dict[str, JSONValue] = {
        "anonballot_key_file": FORMAT_VERSION,
        "kdf": {"name": "scrypt", "salt": b64u_encode(salt), "n": n, "r": r, "p": p},
    }
    key = _derive(passphrase, salt, n, r, p)
    ct = AESGCM(key).encrypt(nonce, jcs(payload), jcs(header))
    return {**header, "nonce": b64u_encode(nonce), "ct": b64u_encode(ct)}


def is_demo_key_file(obj: object) -> bool:
    """True for an unencrypted demo key file written by the demo server."""
    return isinstance(obj, dict) and obj.get("demo_key_no_passphrase") is True


def is_key_file(obj: object) -> bool:
    """True for a passphrase-encrypted key file (of any version)."""
    return isinstance(obj, dict) and "anonballot_key_file" in obj


def decrypt_key_file(obj: object, passphrase: str | None) -> dict[str, JSONValue]:
    """The payload of a key file; :class:`WrongPassphrase` if the passphrase does not open it.

    A demo key file (:func:`is_demo_key_file`) is returned without a passphrase.
    """
    if not isinstance(obj, dict):
        raise KeyFileError("this is not an anonballot key file")
    if is_demo_key_file(obj):
        if set(obj) != {"demo_key_no_passphrase", "key"} or not isinstance(obj["key"], dict):
            raise KeyFileError('a demo key file has exactly "demo_key_no_passphrase" and "key"')
        demo: dict[str, JSONValue] = obj["key"]
        return demo
    if not is_key_file(obj):
        raise KeyFileError("this is not an anonballot key file")
    version = obj["anonballot_key_file"]
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise KeyFileError(
            f"key file version {version!r} is not supported "
            f"(this program reads version {FORMAT_VERSION})"
        )
    if set(obj) != {"anonballot_key_file", "kdf", "nonce", "ct"}:
        raise KeyFileError("a key file has exactly anonballot_key_file, kdf, nonce and ct")
    kdf = obj["kdf"]
    if not isinstance(kdf, dict) or set(kdf) != {"name", "salt", "n", "r", "p"}:
        raise KeyFileError("key file kdf: expected name, salt, n, r and p")
    if kdf["name"] != "scrypt":
        raise KeyFileError(f"key file kdf {kdf['name']!r} is not supported (only scrypt)")
    n, r, p = _check_kdf_numbers(kdf["n"], kdf["r"], kdf["p"])
    try:
        salt = b64u_decode(kdf["salt"], what="kdf.salt")
        nonce = b64u_decode(obj["nonce"], length=NONCE_SIZE, what="nonce")
        ct = b64u_decode(obj["ct"], what="ct")
    except EncodingError as exc:
        raise KeyFileError(f"key file: {exc.detail}") from exc
    if len(salt) < SALT_SIZE:
        raise KeyFileError(f"key file kdf.salt: at least {SALT_SIZE} bytes")
    if len(ct) > MAX_PAYLOAD:
        raise KeyFileError("key file: ct is too large")
    if not passphrase:
        raise KeyFileError("this key file needs its passphrase", code="empty_passphrase")
    aad = jcs({"anonballot_key_file": FORMAT_VERSION, "kdf": kdf})
    key = _derive(passphrase, salt, n, r, p)
    try:
        payload = parse_json(AESGCM(key).decrypt(nonce, ct, aad))
    except (InvalidTag, EncodingError) as exc:
        raise WrongPassphrase() from exc
    if not isinstance(payload, dict):
        raise WrongPassphrase()
    return payload


def _check_kdf_numbers(n: object, r: object, p: object) -> tuple[int, int, int]:
    out = []
    for name, value in (("n", n), ("r", r), ("p", p)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise KeyFileError(f"key file kdf.{name}: expected a positive integer")
        out.append(value)
    n_, r_, p_ = out
    if n_ < 2**14 or n_ & (n_ - 1):
        raise KeyFileError("key file kdf.n: expected a power of two of at least 16384")
    if r_ > 64 or p_ > 16 or 128 * r_ * n_ > MAX_SCRYPT_MEMORY:
        raise KeyFileError("key file kdf: parameters beyond what this program allows")
    return n_, r_, p_


def read_json_file(path: str | os.PathLike[str], *, limit: int = MAX_PAYLOAD) -> JSONValue:
    """Parse a small JSON file strictly; :class:`InputError` naming the file if it is not JSON."""
    path = Path(path)
    if path.stat().st_size > limit:
        raise InputError(f"{path}: the file is larger than {limit} bytes")
    try:
        return parse_json(path.read_bytes())
    except EncodingError as exc:
        raise InputError(f"{path}: {exc.detail}", code=exc.code) from exc


def write_private(
    path: str | os.PathLike[str], data: bytes | str, *, exclusive: bool = False
) -> None:
    """Write a file only its owner can read (mode 600), atomically and durably.

    The data goes to a temporary file in the same folder, which is flushed to disk and then
    renamed over ``path``: a crash leaves either the old file or the new one, never half of
    one. A missing folder is made (mode 700). With ``exclusive``, an existing ``path`` is an
    error (:class:`FileExistsError`).
    """
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    folder = path.parent if str(path.parent) else Path()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # a new folder is private too
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), 0o600)
            out.write(raw)
            out.flush()
            os.fsync(out.fileno())
        if exclusive:
            # Reserve the name atomically (works on FAT sticks too, unlike a hard link).
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
