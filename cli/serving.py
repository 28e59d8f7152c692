"""Running the reference server: ``init``, ``serve`` and ``demo``."""

from __future__ import annotations

from pathlib import Path

import click

from .common import clean_errors, say, t

DATA_HELP = "The server's data directory (SQLite database and keys)."


def _serve(
    data: Path, host: str, port: int, key_bits: int = 3072, tiles_dir: Path | None = None
) -> None:
    import uvicorn

    from anonballot.server.app import create_app
    from anonballot.server.service import Service

    service = Service(data, key_bits=key_bits)
    app = create_app(service, tiles_dir=tiles_dir)
    # No access log: nothing per request is written anywhere (no address, time or path).
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")


@click.command()
@click.option("--data", type=click.Path(path_type=Path), required=True, help=DATA_HELP)
@click.option("--demo", is_flag=True, help="Also set up the Long Biên demo district.")
@clean_errors
def init(data: Path, demo: bool) -> None:
    """Create a data directory; print the admin token once (also in DIR/admin.token)."""
    from anonballot.keyfile import write_private
    from anonballot.server.service import DB_NAME, Service
    from anonballot.testing import long_bien_district

    if (data / DB_NAME).exists():
        raise click.ClickException(t("init_exists", path=data))
    service = Service(data)
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
@clean_errors
def serve(data: Path, host: str, port: int, key_bits: int, tiles_dir: Path | None) -> None:
    """Run the reference server on a data directory."""
    say("serving", path=data, url=f"http://{host}:{port}/")
    _serve(data, host, port, key_bits, tiles_dir)


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
@clean_errors
def demo(data: Path, host: str, port: int, key_bits: int, no_serve: bool) -> None:
    """Set up the Long Biên demo round (open for seven days) and serve it."""
    from anonballot.server.demo import setup_demo, start_demo_witnesses

    if not (data / "anonballot.db").exists():
        say("demo_setting_up", path=data)
    setup = setup_demo(data, key_bits=key_bits, port=port)
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
        with start_demo_witnesses(data) as witnesses:
            if witnesses:
                say("demo_witnesses", count=len(witnesses), urls=", ".join(witnesses))
            _serve(data, host, port, key_bits)


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
