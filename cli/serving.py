"""Running the reference server: ``init``, ``serve`` and ``demo``."""

from __future__ import annotations

from pathlib import Path

import click

from .common import clean_errors, say, t

DATA_HELP = "The server's data directory (SQLite database and keys)."
DATABASE_HELP = (
    "A PostgreSQL database (postgresql://user@host/name) instead of SQLite in the data "
    "directory: several server instances can share it. Also read from ANONBALLOT_DATABASE."
)


database_option = click.option(
    "--database", envvar="ANONBALLOT_DATABASE", default=None, metavar="URL", help=DATABASE_HELP
)
"""``--database URL`` (or ``ANONBALLOT_DATABASE``, which keeps a password out of the process
list)."""


def _serve(
    data: Path,
    host: str,
    port: int,
    key_bits: int = 3072,
    tiles_dir: Path | None = None,
    database: str | None = None,
    *,
    announce: bool = False,
) -> None:
    """``announce``: say where it serves, once the database is open."""
    import uvicorn

    from anonballot.server.app import create_app
    from anonballot.server.service import Service

    service = Service(data, key_bits=key_bits, database=database)
    if announce:
        say("serving", path=_where(data, database), url=f"http://{host}:{port}/")
    app = create_app(service, tiles_dir=tiles_dir)
    # No access log: nothing per request is written anywhere (no address, time or path).
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")


@click.command()
@click.option("--data", type=click.Path(path_type=Path), required=True, help=DATA_HELP)
@database_option
@click.option("--demo", is_flag=True, help="Also set up the Long Biên demo district.")
@clean_errors
def init(data: Path, database: str | None, demo: bool) -> None:
    """Create a data directory; print the admin token once (also in DIR/admin.token)."""
    from anonballot.keyfile import write_private
    from anonballot.server.service import Service, is_initialized
    from anonballot.testing import long_bien_district

    if is_initialized(data, database):
        raise click.ClickException(t("init_exists", path=_where(data, database)))
    service = Service(data, database=database)
    try:
        token = service.new_admin_token()
        service.organizer_key()
        if demo:
            service.set_district(long_bien_district())
    finally:
        service.close()
    write_private(data / "admin.token", token + "\n")
    say("init_token", path=data / "admin.token")
    click.echo(token)


@click.command()
@click.option("--data", type=click.Path(path_type=Path), required=True, help=DATA_HELP)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--key-bits",
    default=3072,
    show_default=True,
    help="RSA issuer key size for rounds created through this server.",
)
@click.option(
    "--tiles-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Also write every round's log as C2SP tlog-tiles files to this folder, for a static "
    "web server to serve under /log/ (docs/server.md).",
)
@database_option
@clean_errors
def serve(
    data: Path, host: str, port: int, key_bits: int, tiles_dir: Path | None, database: str | None
) -> None:
    """Run the reference server on a data directory."""
    _serve(data, host, port, key_bits, tiles_dir, database, announce=True)


def _where(data: Path, database: str | None) -> str:
    """The data directory, and the database when it is not in there (without a password)."""
    if not database:
        return str(data)
    from anonballot.server.store_pg import redacted

    return f"{data} + {redacted(database)}"


@click.command()
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    default=Path("var"),
    show_default=True,
    help=DATA_HELP,
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--key-bits", default=3072, show_default=True, help="RSA issuer key size.")
@click.option("--no-serve", is_flag=True, help="Set up the demo, but do not start the server.")
@database_option
@clean_errors
def demo(
    data: Path, host: str, port: int, key_bits: int, no_serve: bool, database: str | None
) -> None:
    """Set up the Long Biên demo round (open for seven days) and serve it."""
    from anonballot.server.demo import setup_demo, start_demo_witnesses
    from anonballot.server.service import is_initialized

    if not is_initialized(data, database):
        say("demo_setting_up", path=_where(data, database))
    setup = setup_demo(data, key_bits=key_bits, port=port, database=database)
    url = f"http://{host}:{port}/"
    say("demo_round", round=setup.round_id)
    say("demo_single_phase")
    say("demo_invitations", path=setup.invitations)
    say("demo_token", path=setup.token_file)
    say("demo_trustees", path=setup.trustees_dir)
    say("demo_server", url=url)
    first = _first_code(setup.invitations)
    if first:
        say("demo_try", link=f"{url}r/{setup.round_id}#code={first}")
    if not no_serve:
        with start_demo_witnesses(data, database) as witnesses:
            if witnesses:
                say("demo_witnesses", count=len(witnesses), urls=", ".join(witnesses))
            _serve(data, host, port, key_bits, database=database)


def _first_code(invitations: Path) -> str | None:
    """The first demo code of invitations.csv, to print a link a newcomer can open."""
    import csv

    try:
        with invitations.open(encoding="utf-8-sig", newline="") as rows:
            for row in csv.DictReader(rows):
                return row["code"].replace("-", "")
    except (OSError, KeyError):
        return None
    return None


COMMANDS: tuple[click.Command, ...] = (init, serve, demo)
"""The commands this module adds to ``anonballot`` (cli/main.py adds them)."""
