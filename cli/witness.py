"""A witness of other logs' boards: ``witness keygen`` and ``witness serve``.

The key file is one line, ``PRIVATE+KEY+<name>+<key ID>+<base64 key>`` (mode 600), beside
it ``FILE.pub`` holds the witness's verifier key (:mod:`anonballot.witness`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

import click

from anonballot.errors import InputError
from anonballot.signing import VerifyKey
from anonballot.witness import WitnessKey, log_key

from .common import clean_errors, say, t

__all__ = ["witness"]

MAX_KEY_FILE = 4096
logger = logging.getLogger(__name__)


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


class LogsFile(Mapping[str, VerifyKey]):
    """The logs a witness follows: ``--log`` options and the ``ORIGIN=VKEY`` lines of a
    file (blank lines and ``#`` comments skipped), read again whenever the file changes, so
    that a new round's line is followed without a restart. A file that no longer reads
    keeps the logs it gave last (and is said once on the log)."""

    def __init__(self, fixed: Mapping[str, VerifyKey], path: Path | None) -> None:
        self.fixed = dict(fixed)
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._read: dict[str, VerifyKey] = {}
        self._lock = threading.Lock()
        if path is not None:
            self._reload(strict=True)

    def _reload(self, *, strict: bool = False) -> dict[str, VerifyKey]:
        if self.path is None:
            return self.fixed
        with self._lock:
            try:
                info = self.path.stat()
                stamp = (info.st_mtime_ns, info.st_size)
                if stamp != self._stamp:
                    if info.st_size > MAX_LOGS_FILE:
                        raise InputError(t("witness_logs_too_large", path=self.path))
                    text = self.path.read_text(encoding="utf-8")
                    lines = [ln.strip() for ln in text.splitlines()]
                    entries = tuple(ln for ln in lines if ln and not ln.startswith("#"))
                    self._read = parse_logs(entries)
                    self._stamp = stamp
            except (OSError, UnicodeDecodeError, InputError) as exc:
                if strict:
                    raise InputError(f"--logs {self.path}: {exc}") from exc
                if self._stamp != (-1, -1):
                    logger.warning("--logs %s: %s (the logs read before are kept)", self.path, exc)
                    self._stamp = (-1, -1)
            return {**self._read, **self.fixed}

    def __getitem__(self, origin: str) -> VerifyKey:
        return self._reload()[origin]

    def __iter__(self) -> Iterator[str]:
        return iter(self._reload())

    def __len__(self) -> int:
        return len(self._reload())


MAX_LOGS_FILE = 1 << 20
"""The largest file of logs a witness reads."""


@witness.command()
@click.option("--key", type=click.Path(path_type=Path, dir_okay=False), required=True)
@click.option("--data", type=click.Path(path_type=Path, file_okay=False), required=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8100, show_default=True, type=int)
@click.option("--log", "logs", multiple=True, metavar="ORIGIN=VKEY")
@click.option(
    "--logs",
    "logs_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="A file of ORIGIN=VKEY lines, one per board followed; read again when it changes.",
)
@clean_errors
def serve(
    key: Path, data: Path, host: str, port: int, logs: tuple[str, ...], logs_file: Path | None
) -> None:
    """Run the witness: POST /add-checkpoint (c2sp.org/tlog-witness)."""
    import uvicorn

    from anonballot.server.witness import SqliteWitnessStore, create_witness_app

    witness_key = read_witness_key(key)
    if not logs and logs_file is None:
        raise InputError(t("witness_no_logs"))
    followed = LogsFile(parse_logs(logs), logs_file)
    store = SqliteWitnessStore(data)
    try:
        say("witness_serving", name=witness_key.name, url=f"http://{host}:{port}/",
            logs=len(followed))  # fmt: skip
        app = create_witness_app(witness_key, followed, store)
        # No access log: nothing per request is written anywhere.
        uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")
    finally:
        store.close()


COMMANDS: tuple[click.Command, ...] = (witness,)
"""The commands this module adds to ``anonballot`` (cli/main.py adds them)."""
