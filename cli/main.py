"""The ``anonballot`` command: argument parsing plus one library call per command.

Errors print one line and exit 1 (a check failed) or 2 (unusable input); never a traceback.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from . import (
    audit,
    monitor,
    organizer,
    participant,
    plans,
    report,
    serving,
    simulate,
    trustee,
    witness,
)
from .common import LANGS, problem_line, set_lang, t


class OneLineErrors(click.Group):
    """The ``anonballot`` group: a usage error is one line and exit status 2, like every
    other error of the command (click would print the usage block first)."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("standalone_mode", True):
            return super().main(*args, **kwargs)
        try:
            return super().main(*args, **{**kwargs, "standalone_mode": False})
        except click.UsageError as exc:
            hint = f" (see: {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
            click.echo(problem_line(f"{exc.format_message()}{hint}"), err=True)
            sys.exit(2)
        except click.ClickException as exc:
            click.echo(problem_line(exc.format_message()), err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo(problem_line(t("aborted")), err=True)
            sys.exit(1)


@click.group(cls=OneLineErrors)
@click.version_option(package_name="anonballot")
@click.option(
    "--lang",
    type=click.Choice(LANGS),
    default=None,
    help="Language of every command's text: vi (default) or en (or ANONBALLOT_LANG).",
)
def main(lang: str | None) -> None:
    """anonballot: anonymous, verifiable e-ballots."""
    set_lang(lang)


_MODULES = (
    simulate,
    audit,
    report,
    organizer,
    plans,
    trustee,
    participant,
    serving,
    witness,
    monitor,
)
for _module in _MODULES:
    for _command in _module.COMMANDS:
        main.add_command(_command)
