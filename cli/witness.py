"""A witness of other logs' boards: ``witness keygen`` and ``witness serve``.

The key file is one line, ``PRIVATE+KEY+<name>+<key ID>+<base64 key>`` (mode 600), beside
it ``FILE.pub`` holds the witness's verifier key (:mod:`anonballot.witness`).
"""

from __future__ import annotations

from pathlib import Path

import click

from anonballot.errors import InputError
from anonballot.signing import VerifyKey
from anonballot.witness import WitnessKey, log_key

from .common import clean_errors, say, t

__all__ = ["witness"]

MAX_KEY_FILE = 4096


@click.group()
def witness() -> None:
    """A witness: cosigns the checkpoints of the logs it follows, once they are consistent."""


@witness.command()
@click.option("--name", required=True, help="The witness's name, e.g. witness.example.org/w1.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
@click.option("--force", is_flag=True, help="Replace an existing key file (its key is lost).")
@clean_errors
def keygen(name: str, out: Path, force: bool) -> None:
    """Make a witness key: FILE (mode 600) and its verifier key in FILE.pub."""
    from anonballot.keyfile import write_private

    key = WitnessKey.generate(name)
    if out.exists() and not force:
        raise InputError(t("witness_key_exists", path=out))
    write_private(out, key.private_text())
    public = out.with_name(out.name + ".pub")
    public.write_text(key.vkey() + "\n", encoding="utf-8")
    say("witness_key_written", path=out, public=public)
    click.echo(key.vkey())


def read_witness_key(path: Path) -> WitnessKey:
    """The witness key of a key file that ``witness keygen`` wrote."""
    if path.stat().st_size > MAX_KEY_FILE:
        raise InputError(t("witness_not_a_key", path=path))
    try:
        return WitnessKey.from_private_text(path.read_text(encoding="utf-8"))
    except (InputError, UnicodeDecodeError) as exc:
        raise InputError(t("witness_not_a_key", path=path)) from exc


def parse_logs(entries: tuple[str, ...]) -> dict[str, VerifyKey]:
    """``ORIGIN=VKEY`` options as the logs a witness follows."""
    logs: dict[str, VerifyKey] = {}
    for entry in entries:
        origin, sep, vkey = entry.partition("=")
        if not sep or origin in logs:
            raise InputError(t("witness_bad_log", entry=entry))
        try:
            logs[origin] = log_key(origin, vkey)
        except InputError as exc:
            raise InputError(f"{t('witness_bad_log', entry=entry)}: {exc.detail}") from exc
    return logs


@witness.command()
@click.option("--key", type=click.Path(path_type=Path, dir_okay=False), required=True)
@click.option("--data", type=click.Path(path_type=Path, file_okay=False), required=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8100, show_default=True, type=int)
@click.option("--log", "logs", multiple=True, required=True, metavar="ORIGIN=VKEY")
@clean_errors
def serve(key: Path, data: Path, host: str, port: int, logs: tuple[str, ...]) -> None:
    """Run the witness: POST /add-checkpoint (c2sp.org/tlog-witness)."""
    import uvicorn

    from anonballot.server.witness import SqliteWitnessStore, create_witness_app

    witness_key = read_witness_key(key)
    followed = parse_logs(logs)
    store = SqliteWitnessStore(data)
    try:
        say("witness_serving", name=witness_key.name, url=f"http://{host}:{port}/", logs=len(logs))
        app = create_witness_app(witness_key, followed, store)
        # No access log: nothing per request is written anywhere.
        uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")
    finally:
        store.close()


COMMANDS: tuple[click.Command, ...] = (witness,)
"""The commands this module adds to ``anonballot`` (cli/main.py adds them)."""
