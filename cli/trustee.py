"""Trustees: ``anonballot trustee keygen`` before the round, ``trustee release`` after close.

The key file holds the trustee's private X25519 and Ed25519 keys, encrypted with a
passphrase (:mod:`anonballot.keyfile`). The passphrase comes from ``--passphrase-file``
(its first line), else the ANONBALLOT_PASSPHRASE variable, else a hidden prompt.
"""

from __future__ import annotations

import json
import os
import unicodedata
from pathlib import Path
from typing import Any

import click

from anonballot.encoding import check_label, jcs
from anonballot.errors import InputError, StateError
from anonballot.keyfile import (
    decrypt_key_file,
    encrypt_key_file,
    is_demo_key_file,
    read_json_file,
    write_private,
)
from anonballot.manifest import Manifest
from anonballot.statements import CloseStatement
from anonballot.trustee import TrusteeKey, verify_release

from .common import ApiClient, ApiError, clean_errors, say, t

__all__ = ["load_trustee_key", "read_passphrase", "trustee"]

PASSPHRASE_ENV = "ANONBALLOT_PASSPHRASE"  # noqa: S105 (the variable's name)
MIN_PASSPHRASE = 8

DEMO_WARNING = (
    "CẢNH BÁO: {path} là tệp khóa THỬ, KHÔNG có mật khẩu: ai sao được tệp đều mở được phiếu; "
    "không bao giờ dùng cho đợt thật. WARNING: {path} is a DEMO key file WITHOUT a "
    "passphrase. Anyone who copies it can open the ballots. Never use demo keys for a real "
    "round."
)


def read_passphrase(passphrase_file: Path | None, *, confirm: bool) -> str:
    """The passphrase from ``--passphrase-file``, ANONBALLOT_PASSPHRASE, or a hidden prompt."""
    if passphrase_file is not None:
        lines = passphrase_file.read_text(encoding="utf-8").splitlines()
        passphrase = lines[0] if lines else ""
        if not passphrase:
            raise InputError(t("passphrase_empty", path=passphrase_file))
    elif os.environ.get(PASSPHRASE_ENV):
        passphrase = os.environ[PASSPHRASE_ENV]
    else:
        passphrase = click.prompt(
            t("passphrase_prompt"),
            hide_input=True,
            confirmation_prompt=t("passphrase_again") if confirm else False,
            err=True,
        )
    return unicodedata.normalize("NFC", passphrase)


def load_trustee_key(path: Path, passphrase_file: Path | None) -> TrusteeKey:
    """Open a key file (asking for its passphrase); demo key files are accepted with a warning."""
    obj = read_json_file(path)
    if is_demo_key_file(obj):
        click.secho(DEMO_WARNING.format(path=path), err=True, fg="red", bold=True)
        return TrusteeKey.from_json(decrypt_key_file(obj, None))
    payload = decrypt_key_file(obj, read_passphrase(passphrase_file, confirm=False))
    return TrusteeKey.from_json(payload)


PASSPHRASE_HELP = "A file whose first line is the passphrase (else ANONBALLOT_PASSPHRASE, or ask)."  # noqa: S105


@click.group()
def trustee() -> None:
    """Trustee keys: make one before the round, release it after the round closes."""


@trustee.command()
@click.option("--id", "trustee_id", required=True, help="Your trustee id, e.g. tuyen-giao.")
@click.option("--name", required=True, help='Your name in Vietnamese, e.g. "Ban Tuyên giáo".')
@click.option("--name-en", default=None, help="Your name in English (optional).")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The key file to write (encrypted); the public part goes to FILE.pub.json.",
)
@click.option("--passphrase-file", type=click.Path(path_type=Path), help=PASSPHRASE_HELP)
@click.option("--force", is_flag=True, help="Replace an existing key file (its key is lost).")
@clean_errors
def keygen(
    trustee_id: str,
    name: str,
    name_en: str | None,
    out: Path,
    passphrase_file: Path | None,
    force: bool,
) -> None:
    """Make a trustee key (X25519 and Ed25519), encrypted with a passphrase.

    Prints the public part, to hand to the organizer; it is also saved in FILE.pub.json.
    """
    label = {"vi": unicodedata.normalize("NFC", name.strip())}
    if name_en:
        label["en"] = unicodedata.normalize("NFC", name_en.strip())
    label = check_label(label, "--name")
    pub_path = out.with_name(out.name + ".pub.json")
    if out.exists() and not force:
        raise InputError(t("key_exists", path=out), code="exists")
    key = TrusteeKey.generate(trustee_id)  # checks the id
    passphrase = read_passphrase(passphrase_file, confirm=True)
    if len(passphrase) < MIN_PASSPHRASE:
        raise InputError(t("passphrase_short", n=MIN_PASSPHRASE))
    encrypted = encrypt_key_file(key.to_json(), passphrase)
    write_private(out, json.dumps(encrypted, indent=2) + "\n", exclusive=not force)
    # Read it back: the file on disk must open with this passphrase and give this key.
    if TrusteeKey.from_json(decrypt_key_file(read_json_file(out), passphrase)) != key:
        raise StateError(f"{out}: the key file did not read back correctly")
    public = key.public(label).to_json()
    text = json.dumps(public, ensure_ascii=False, indent=2) + "\n"
    pub_path.write_text(text, encoding="utf-8")
    click.echo(text, nl=False)
    click.echo(t("keygen_done", path=out, public=pub_path), err=True)


@trustee.command()
@click.option(
    "--key", "key_file", required=True, type=click.Path(path_type=Path), help="Your key file."
)
@click.option("--round", "round_", required=True, help="The round: its round id (or its mid).")
@click.option(
    "--server",
    envvar="ANONBALLOT_SERVER",
    default=None,
    help="The server's URL (or ANONBALLOT_SERVER): the release is sent there.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the release to this file instead of sending it (e.g. on a USB stick).",
)
@click.option(
    "--manifest",
    "manifest_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Offline, with --out: the round's signed manifest.json instead of the server.",
)
@click.option("--passphrase-file", type=click.Path(path_type=Path), help=PASSPHRASE_HELP)
@clean_errors
def release(
    key_file: Path,
    round_: str,
    server: str | None,
    out: Path | None,
    manifest_file: Path | None,
    passphrase_file: Path | None,
) -> None:
    """Release your key for a closed round: send it to the server, or write it to --out."""
    from .participant import resolve_round

    api: ApiClient | None = None
    round_id: str
    try:
        if manifest_file is not None:
            if out is None:
                raise InputError(t("manifest_needs_out"))
            manifest = Manifest.from_signed(read_json_file(manifest_file))
            if round_ not in (manifest.round_id, manifest.mid):
                raise InputError(
                    t("manifest_other_round", path=manifest_file, round=manifest.round_id,
                      given=round_)
                )  # fmt: skip
            round_id = manifest.round_id
        elif server:
            api = ApiClient(server)
            round_id, mid = resolve_round(api, round_)
            manifest = Manifest.from_signed(api.get(f"/api/rounds/{round_id}/manifest"))
            if manifest.mid != mid:
                raise StateError("the server's manifest does not match its own round list")
            _require_closed(api, round_id, manifest)
        else:
            raise InputError(t("release_where"))
        key = load_trustee_key(key_file, passphrase_file)
        _require_member(key, manifest)
        signed = key.release(manifest.mid)
        verify_release(signed, manifest)
        if out is not None:
            write_private(out, jcs(signed))
            if manifest_file is not None:
                click.echo(t("release_offline"), err=True)
            say("release_written", trustee=key.id, round=round_id, path=out)
            return
        if api is None:  # unreachable: without --out the server was required above
            raise InputError(t("release_where"))
        answer = api.post(
            f"/api/rounds/{round_id}/releases",
            content=jcs(signed),
            headers={"content-type": "application/json"},
        )
        if not isinstance(answer, dict) or answer.get("accepted") is not True:
            raise StateError("the server did not confirm the release")
        say("release_accepted", trustee=key.id, round=round_id, server=api.base)
    finally:
        if api is not None:
            api.close()


@trustee.command()
@click.argument("release_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--round", "round_", required=True, help="The round: its round id (or its mid).")
@click.option(
    "--server",
    envvar="ANONBALLOT_SERVER",
    required=True,
    help="The server's URL (or ANONBALLOT_SERVER).",
)
@clean_errors
def submit(release_file: Path, round_: str, server: str) -> None:
    """Send a release written offline (trustee release --out) to the server.

    Anyone may carry it: the trustee's signature is the authentication, and the command
    checks it against the round's manifest before sending.
    """
    from .participant import resolve_round

    signed = read_json_file(release_file)
    with ApiClient(server) as api:
        round_id, mid = resolve_round(api, round_)
        manifest = Manifest.from_signed(api.get(f"/api/rounds/{round_id}/manifest"))
        if manifest.mid != mid:
            raise StateError("the server's manifest does not match its own round list")
        secret = verify_release(signed, manifest)
        answer = api.post(
            f"/api/rounds/{round_id}/releases",
            content=jcs(signed),
            headers={"content-type": "application/json"},
        )
        if not isinstance(answer, dict) or answer.get("accepted") is not True:
            raise StateError("the server did not confirm the release")
    say("release_accepted", trustee=secret.id, round=round_id, server=server)


def _require_closed(api: ApiClient, round_id: str, manifest: Manifest) -> None:
    """The round must have a valid close statement before a key is released."""
    try:
        close: Any = api.get(f"/api/rounds/{round_id}/close")
    except ApiError as exc:
        if exc.status == 404:
            raise StateError(
                t("release_not_closed", round=round_id), code="round_not_closed"
            ) from exc
        raise
    statement = CloseStatement.from_signed(close, manifest, problems=[])
    if statement.round != manifest.mid:
        raise StateError("the server's close statement is not for this round")


def _require_member(key: TrusteeKey, manifest: Manifest) -> None:
    entry = manifest.trustees[manifest.trustee_index(key.id) - 1]
    if entry.hpke_key != key.hpke_public or entry.signing_key != key.signing.public_key:
        raise InputError(t("wrong_key", trustee=key.id, round=manifest.round_id), code="wrong_key")


COMMANDS: tuple[click.Command, ...] = (trustee,)
"""The commands this module adds to ``anonballot`` (cli/main.py adds them)."""
