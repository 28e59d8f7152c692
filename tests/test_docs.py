"""The documentation is checked, like datasette's test_docs.py.

- Every shell command shown in README.md and docs/*.md runs: each ```sh / ```bash block line
  and each ``$ `` line of a ```console block, in order, in one temporary folder per document
  (:class:`DocSession`):

  - ``anonballot ...`` runs through the installed entry point, with ``> FILE`` writing its
    output to a file. ``anonballot serve`` and ``anonballot demo`` (which would block) start
    the same server in a thread of the test instead (``demo`` sets up with ``--no-serve``
    first). The server addresses the docs show (:data:`DOC_SERVERS`) stand for the test's
    live server, and ANONBALLOT_SERVER points at it, as the default ``--server`` does for a
    reader's server on port 8000.
  - ``export ANONBALLOT_...=VALUE`` (or ``="$(cat FILE)"``) sets a variable for the next
    commands. The trustees' passphrase prompts are answered by ANONBALLOT_PASSPHRASE.
  - A console block's output lines are checked: each must match a line the command printed
    (``...`` matches anything), and a shown ``error: ...`` line means the command must fail.
  - A ``# at 2026-05-05T09:30:00+07:00`` comment sets the server's clock (issuance and voting
    windows are checked against it); without one the clock is the real time.
  - ``make TARGET`` must name a Makefile target (not run: ``make test`` inside ``make test``
    would recurse); ``pip install .`` must build (the wheel test's build); ``sqlite3 DB
    ".backup FILE"`` and ``sqlite3 FILE "PRAGMA integrity_check"`` run (with Python's
    sqlite3 module when the sqlite3 program is missing). Anything else fails.
- A fenced block marked as a file (``# file: NAME`` or ``// file: NAME`` as its first line,
  or ``file=NAME`` after the language) is written to the folder when the commands reach it;
  ``# edit: NAME`` replaces the top-level entries of that YAML file with the block's.
- docs/cli.md's examples run against the example office (:func:`example_office`), and the
  invitation codes of docs/operations.md stand for the codes of the slips it printed.
- Every ```python block of docs/library.md runs as a script of its own, in a fresh interpreter
  and an empty folder. A fresh interpreter rather than ``exec``: the audit's worker processes
  import the ``__main__`` module again, which only a real script file makes faithful.
- docs/server.md documents every operation of the OpenAPI description and every error code;
  docs/cli.md every command of ``anonballot``.
- The worked examples of docs/protocol.md verify (checkpoint, receipt, pseudonym), and its
  lists agree with the code.
- The wheel holds only the ``anonballot`` package (docs/layout.md).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import importlib.metadata
import json
import os
import random
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import httpx
import pytest
from _live import free_port, leader_links, serve_app, server_thread

import anonballot
from anonballot.audit import CHECKS
from anonballot.checkpoint import Checkpoint
from anonballot.cli.main import main as cli_main
from anonballot.cli.organizer import dump_yaml, load_config_file
from anonballot.codes import format_code, normalize_code, pseudonym
from anonballot.encoding import b64u_decode, jcs, parse_json, parse_time
from anonballot.engine import Round
from anonballot.hazmat.merkle import verify_inclusion
from anonballot.hazmat.note import key_id, verifier_key
from anonballot.keyfile import decrypt_key_file, encrypt_key_file, read_json_file, write_private
from anonballot.leaf import parse_leaf
from anonballot.manifest import Manifest, Window
from anonballot.participant import Participant
from anonballot.receipt import Receipt, receipt_code
from anonballot.server.openapi import ERROR_CODES, openapi_document
from anonballot.server.roster import RosterEntry
from anonballot.server.service import Service
from anonballot.signing import SigningKey
from anonballot.tally import WHITE_SPACE
from anonballot.testing import DEMO_TRUSTEES, demo_config, random_answers
from anonballot.testing.postgres import PgCluster
from anonballot.trustee import TrusteeKey

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_LANGUAGES = {"sh", "bash", "console"}
COMMAND_TIMEOUT = 300
DOC_SERVERS = ("http://127.0.0.1:8000", "https://bau-cu.long-bien.example")
"""The server addresses the docs show: the reader's own and the district's public one."""
DOC_WITNESS_PORTS = (8101, 8102, 8103)
"""The ports of the witnesses the docs show (``http://127.0.0.1:PORT``): each stands for a
free port of the test's, where ``witness serve --port PORT`` runs it in a thread."""
PASSPHRASE = "mật khẩu dài của ban"  # noqa: S105 (the trustees' passphrase in these tests)

_FENCE = re.compile(r"^```([\w+-]*)([^\n]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_FILE_INFO = re.compile(r"(?:^|\s)file=(\S+)")
_FILE_LINE = re.compile(r"(?:#|//) (file|edit): (\S+)\n")
_AT = re.compile(r"# at (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:Z|[+-]\d\d:\d\d))(?:[:\s].*)?")
_EXPORT = re.compile(r"export (\w+)=(.*)")
_CAT = re.compile(r'"?\$\(cat ([^)\s]+)\)"?')


class DocCommandError(Exception):
    """A documented command is not recognised or did not succeed."""


def fenced_blocks(text: str) -> list[tuple[str, str, str]]:
    """Every fenced block of a Markdown text, as (language, rest of the info string, body)."""
    return [(m.group(1), m.group(2), m.group(3)) for m in _FENCE.finditer(text)]


def code_blocks(text: str) -> list[tuple[str, str]]:
    """Every fenced block of a Markdown text, as (language, body)."""
    return [(language, body) for language, _, body in fenced_blocks(text)]


@dataclasses.dataclass(frozen=True)
class Step:
    """One thing a document does, in order: run a command, write a file, set the clock."""

    kind: str
    """``run``, ``file``, ``edit`` or ``clock``."""
    text: str
    """The command line, the file's text, or the time."""
    name: str = ""
    """The file's name (``file`` and ``edit``)."""
    output: tuple[str, ...] = ()
    """The output a console block shows after the command."""


def _shell_steps(language: str, body: str) -> list[Step]:
    steps: list[Step] = []
    pending = ""
    for raw in body.splitlines():
        if language == "console" and not pending:
            if not raw.startswith("$ "):
                if steps and steps[-1].kind == "run" and raw.strip():
                    last = steps[-1]
                    steps[-1] = dataclasses.replace(last, output=(*last.output, raw.strip()))
                continue  # output shown after a command
            raw = raw[2:]
        line = pending + raw.strip()
        if line.endswith("\\"):
            pending = line[:-1].rstrip() + " "
            continue
        pending = ""
        at = _AT.fullmatch(line)
        if at:
            steps.append(Step("clock", at.group(1)))
        elif line and not line.startswith("#"):
            steps.append(Step("run", line))
    return steps


def doc_steps(text: str) -> list[Step]:
    """What a Markdown text does when its commands run, in order."""
    steps: list[Step] = []
    for language, info, body in fenced_blocks(text):
        if language in SHELL_LANGUAGES:
            steps.extend(_shell_steps(language, body))
        elif named := _FILE_INFO.search(info):
            steps.append(Step("file", body, named.group(1)))
        elif marked := _FILE_LINE.match(body):
            steps.append(Step(marked.group(1), body, marked.group(2)))
    return steps


def shell_commands(text: str) -> list[str]:
    """The shell commands a Markdown text shows, in order."""
    return [step.text for step in doc_steps(text) if step.kind == "run"]


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z][\w.-]*)\s*:(?!=)", text, re.MULTILINE))


def anonballot_command() -> list[str]:
    """The installed ``anonballot`` entry point of this interpreter's environment."""
    script = Path(sys.executable).parent / "anonballot"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "anonballot.cli"]


def pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def parse_cli(args: list[str]) -> tuple[str, dict[str, Any]]:
    """The command ``anonballot ARGS`` names, and its parameters (DocCommandError if bad)."""
    command: click.Command = cli_main
    path, rest = ["anonballot"], list(args)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        sub = command.commands.get(rest[0])
        if sub is None:
            raise DocCommandError(f"`{' '.join(path)}` has no command {rest[0]!r}")
        command, rest = sub, rest[1:]
        path.append(sub.name or "")
    name = " ".join(path)
    if {"--help", "--version"} & set(rest):
        return name, {}
    try:
        with command.make_context(name, rest) as ctx:
            return name, dict(ctx.params)
    except click.ClickException as exc:
        raise DocCommandError(f"`anonballot {shlex.join(args)}`: {exc.format_message()}") from exc


def _shown(line: str, printed: list[str]) -> bool:
    pattern = ".*".join(re.escape(part) for part in line.split("..."))
    return any(re.fullmatch(pattern, p.strip()) for p in printed)


class DocClock:
    """The server's clock: the real time, or the time a ``# at TIME`` line set."""

    def __init__(self) -> None:
        self.now: dt.datetime | None = None

    def __call__(self) -> dt.datetime:
        return self.now or dt.datetime.now(dt.UTC)


@dataclasses.dataclass(frozen=True)
class DocSetup:
    """What a document's examples assume."""

    office: Callable[[DocSession], None] | None = None
    """Set up before the first command other than ``trustee keygen`` (or ``--help``)."""
    slips: str | None = None
    """The slips' CSV whose codes the documented ``vote --code`` codes stand for, in order."""
    after: dict[str, Callable[[DocSession], None]] = dataclasses.field(default_factory=dict)
    """What people do off the command line (a leader on their page), run once after the first
    documented command that starts with the key, as the document says they do."""


class DocSession:
    """One document's folder, environment, server and clock, as its commands run."""

    def __init__(
        self, cwd: Path, build_wheel: Callable[[], Path], clock: DocClock | None = None,
        setup: DocSetup | None = None, postgres: Callable[[], PgCluster] | None = None,
    ) -> None:  # fmt: skip
        self.cwd = cwd
        self.build_wheel = build_wheel
        self.postgres = postgres
        self.clock = clock or DocClock()
        self.setup = setup or DocSetup()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ANONBALLOT_")}
        self.env |= {"ANONBALLOT_PASSPHRASE": PASSPHRASE, "PYTHONUTF8": "1"}
        self.url: str | None = None
        self.codes: dict[str, str] = {}
        self._office_done = False
        self._after_done: set[str] = set()
        self._server = contextlib.ExitStack()
        self._witnesses = contextlib.ExitStack()
        self.witness_ports = {port: free_port() for port in DOC_WITNESS_PORTS}

    def __enter__(self) -> DocSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.close()
        self._witnesses.close()

    def start_witness(self, params: dict[str, Any]) -> None:
        """``anonballot witness serve``, in a thread of this process at the test's port for
        the documented one (it would block)."""
        from anonballot.cli.witness import LogsFile, parse_logs, read_witness_key
        from anonballot.server.witness import SqliteWitnessStore, create_witness_app

        port = self.witness_ports.get(params["port"])
        if port is None:
            raise DocCommandError(f"witness serve --port {params['port']}: use {DOC_WITNESS_PORTS}")
        key = read_witness_key(self.cwd / params["key"])
        logs_file = self.cwd / params["logs_file"] if params["logs_file"] else None
        logs = LogsFile(parse_logs(params["logs"]), logs_file)
        store = SqliteWitnessStore(self.cwd / params["data"])
        self._witnesses.callback(store.close)
        self._witnesses.enter_context(serve_app(create_witness_app(key, logs, store), port))

    def start_server(self, data: Path, tiles_dir: Path | None = None) -> str:
        """Serve ``data`` (instead of any earlier server) and point ANONBALLOT_SERVER at it;
        with ``tiles_dir``, as ``serve --tiles-dir`` does, the server writes its tiles."""
        self._server.close()
        self._server = contextlib.ExitStack()
        tiles = None if tiles_dir is None else self.cwd / tiles_dir
        self.url = self._server.enter_context(server_thread(self.cwd / data, tiles_dir=tiles))
        self.env["ANONBALLOT_SERVER"] = self.url
        return self.url

    def run(self, step: Step) -> None:
        if step.kind == "clock":
            self.clock.now = parse_time(step.text)
        elif step.kind == "file":
            path = self.cwd / step.name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(step.text, encoding="utf-8")
        elif step.kind == "edit":
            path = self.cwd / step.name
            change = self.cwd / f".{path.name}.edit.yaml"
            change.write_text(step.text, encoding="utf-8")
            path.write_text(dump_yaml(load_config_file(path) | load_config_file(change)), "utf-8")
        else:
            self.command(step.text, step.output)

    def command(self, line: str, output: tuple[str, ...] = ()) -> None:
        """Run (or check) one documented command; raise DocCommandError if it is not right."""
        words = line.split()
        offline = words[1:3] == ["trustee", "keygen"] or words[1:2] in (["--help"], ["--version"])
        if self.setup.office and not self._office_done and words[0] == "anonballot" and not offline:
            self._office_done = True
            self.setup.office(self)
        for address in DOC_SERVERS:
            line = line.replace(address, self.url or address)
        for documented, port in self.witness_ports.items():
            line = line.replace(f"http://127.0.0.1:{documented}", f"http://127.0.0.1:{port}")
        if exported := _EXPORT.fullmatch(line):
            self._export(*exported.groups())
            return
        argv = shlex.split(line, comments=True)
        if not argv:
            return
        program, args = argv[0], argv[1:]
        if program == "anonballot":
            self._anonballot(args, line, output)
            for start, then in self.setup.after.items():
                if line.startswith(start) and start not in self._after_done:
                    self._after_done.add(start)
                    then(self)
        elif program == "make":
            missing = [t for t in args if t not in makefile_targets()] or ([] if args else ["?"])
            if missing:
                raise DocCommandError(f"`{line}`: no Makefile target {missing}")
        elif program == "pip" and len(args) == 2 and args[0] == "install":
            spec = re.fullmatch(r"\.(?:\[([\w,-]+)\])?", args[1])
            if spec is None:
                raise DocCommandError(f"`{line}`: only `pip install .[extras]` is documented")
            extras = set(pyproject()["project"]["optional-dependencies"])
            unknown = set((spec.group(1) or "").split(",")) - extras - {""}
            if unknown:
                raise DocCommandError(f"`{line}`: no extra {sorted(unknown)} in pyproject.toml")
            self.build_wheel()
        elif program == "sqlite3":
            self._sqlite3(args, line)
        elif program in ("pg_dump", "pg_restore"):
            self._postgres_tool(program, args, line)
        else:
            raise DocCommandError(f"`{line}` is not a command the documentation may show")

    def _export(self, name: str, value: str) -> None:
        if not name.startswith("ANONBALLOT_"):
            raise DocCommandError(f"`export {name}`: only ANONBALLOT_ variables are documented")
        if name == "ANONBALLOT_DATABASE":  # the documented URL stands for the test cluster
            if self.postgres is None or not value.startswith("postgresql://"):
                raise DocCommandError(f"`export {name}={value}`: a postgresql:// URL expected")
            self.env[name] = self.postgres().fresh_url()
            return
        if cat := _CAT.fullmatch(value):
            self.env[name] = (self.cwd / cat.group(1)).read_text(encoding="utf-8").strip()
            return
        words = shlex.split(value)
        if len(words) != 1:
            raise DocCommandError(f"`export {name}={value}`: one value expected")
        self.env[name] = words[0]

    def _anonballot(self, args: list[str], line: str, output: tuple[str, ...]) -> None:
        target: Path | None = None
        if ">" in args:
            if args.index(">") != len(args) - 2:
                raise DocCommandError(f"`{line}`: only `> FILE` at the end is documented")
            target, args = self.cwd / args[-1], args[:-2]
        name, params = parse_cli(args)
        if name == "anonballot serve" and params:
            self.start_server(Path(params["data"]), params.get("tiles_dir"))
            return
        if name == "anonballot witness serve" and params:
            self.start_witness(params)
            return
        if name == "anonballot demo" and params and not params["no_serve"]:
            self._run_cli([*args, "--no-serve"], line, ())
            self.start_server(Path(params["data"]))
            return
        if self.setup.slips and name == "anonballot vote":
            args = [*args]
            at = args.index("--code") + 1
            args[at] = self._slip_code(args[at])
        printed = self._run_cli(args, line, output)
        if target is not None:
            target.write_text(printed, encoding="utf-8")

    def _run_cli(self, args: list[str], line: str, output: tuple[str, ...]) -> str:
        result = subprocess.run(  # noqa: S603 (the argv comes from our own docs)
            [*anonballot_command(), *args],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        said = f"`{line}` exited {result.returncode}\n{result.stdout}\n{result.stderr}"
        fails = any(shown.startswith(("error:", "lỗi:")) for shown in output)
        if (result.returncode != 0) != fails:
            raise DocCommandError(said if not fails else f"{said}\n(it should have failed)")
        printed = (result.stdout + result.stderr).splitlines()
        for shown in output:
            if not _shown(shown, printed):
                raise DocCommandError(f"{said}\n(the docs show the line {shown!r})")
        return result.stdout

    def _slip_code(self, shown: str) -> str:
        if shown not in self.codes:
            with (self.cwd / str(self.setup.slips)).open(encoding="utf-8-sig", newline="") as f:
                rows = list(csv.DictReader(f))
            self.codes[shown] = rows[len(self.codes)]["code"]
        return self.codes[shown]

    def _postgres_tool(self, program: str, args: list[str], line: str) -> None:
        """``pg_dump --format=custom --file F "$ANONBALLOT_DATABASE"`` and ``pg_restore
        --list F``, with the test cluster's own binaries."""
        dump = re.fullmatch(r"--format=custom --file \S+ \$ANONBALLOT_DATABASE", " ".join(args))
        listing = len(args) == 2 and args[0] == "--list"
        if not (dump if program == "pg_dump" else listing) or self.postgres is None:
            raise DocCommandError(f"`{line}`: not a backup command the docs may show")
        if program == "pg_dump":
            args = [*args[:-1], self.env["ANONBALLOT_DATABASE"]]
        result = subprocess.run(  # noqa: S603 (the argv comes from our own docs)
            [str(self.postgres().bindir / program), *args],
            cwd=self.cwd, capture_output=True, text=True, check=False, timeout=COMMAND_TIMEOUT,
        )  # fmt: skip
        if result.returncode != 0:
            raise DocCommandError(f"`{line}`: {result.stdout}{result.stderr}")
        if listing and "TABLE DATA" not in result.stdout:
            raise DocCommandError(f"`{line}`: the dump holds no table data\n{result.stdout}")

    def _sqlite3(self, args: list[str], line: str) -> None:
        if len(args) != 2 or not (
            re.fullmatch(r"\.backup '?[^'\s]+'?", args[1])
            or re.fullmatch(r"PRAGMA integrity_check;?", args[1])
        ):
            raise DocCommandError(f'`{line}`: only ".backup FILE" and integrity checks')
        database = self.cwd / args[0]
        if not database.is_file():
            raise DocCommandError(f"`{line}`: there is no database {args[0]}")
        program = shutil.which("sqlite3")
        if program is not None:
            result = subprocess.run(  # noqa: S603 (the argv comes from our own docs)
                [program, *args], cwd=self.cwd, capture_output=True, text=True, check=False
            )
            if result.returncode != 0 or result.stderr or result.stdout.strip() not in ("", "ok"):
                raise DocCommandError(f"`{line}`: {result.stdout}{result.stderr}")
            return
        with contextlib.closing(sqlite3.connect(database)) as db:
            if args[1].startswith(".backup"):
                copy = self.cwd / args[1].split(maxsplit=1)[1].strip("'")
                with contextlib.closing(sqlite3.connect(copy)) as out:
                    db.backup(out)
            elif db.execute("PRAGMA integrity_check").fetchone() != ("ok",):
                raise DocCommandError(f"`{line}`: the database is damaged")


def run_command(line: str, cwd: Path, build_wheel: Callable[[], Path]) -> None:
    """Run (or check) one documented command on its own."""
    with DocSession(cwd, build_wheel) as session:
        session.command(line)


# -- the wheel ------------------------------------------------------------------------------

_NOT_FOR_THE_WHEEL = {
    ".git", ".venv", ".ci", ".hypothesis", ".mypy_cache", ".pytest_cache", ".ruff_cache",
    "build", "dist", "var", "bench", "docs", "tests",
}  # fmt: skip


def _copy_ignore(folder: str, names: list[str]) -> set[str]:
    ignored = {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".egg-info"))}
    if Path(folder) == ROOT:
        ignored |= _NOT_FOR_THE_WHEEL & set(names)
    return ignored


def _setuptools_major() -> int:
    try:
        return int(importlib.metadata.version("setuptools").split(".")[0])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return 0


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel ``pip`` builds from a clean copy of the sources (symlinks kept)."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "src"
    shutil.copytree(ROOT, source, symlinks=True, ignore=_copy_ignore)
    out = base / "out"
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out)]
    # pyproject.toml's SPDX license string needs setuptools >= 77. Build offline with the
    # environment's setuptools when it is recent enough; otherwise let pip make its usual
    # isolated build environment (from the package index, as `pip install .` does).
    if _setuptools_major() >= 77:
        command.append("--no-build-isolation")
    result = subprocess.run(  # noqa: S603 (fixed argv)
        [*command, str(source)],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    wheels = list(out.glob("anonballot-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_holds_only_the_anonballot_package(wheel: Path) -> None:
    assert pyproject()["project"]["dynamic"] == ["version"]  # anonballot.__version__
    dist_info = f"anonballot-{anonballot.__version__}.dist-info/"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        top_level = zf.read(dist_info + "top_level.txt").decode().split()
        entry_points = zf.read(dist_info + "entry_points.txt").decode()
    strays = [n for n in names if not n.startswith(("anonballot/", dist_info))]
    assert strays == []
    for module in ("cli/__init__.py", "cli/main.py", "server/__init__.py", "py.typed"):
        assert f"anonballot/{module}" in names
    assert not any(n.startswith(("cli/", "server/")) for n in names)
    assert top_level == ["anonballot"]
    assert "anonballot = anonballot.cli.main:main" in entry_points


def test_cli_and_server_are_symlinks_into_the_package() -> None:
    for name in ("cli", "server"):
        link = ROOT / "anonballot" / name
        assert link.is_symlink()
        assert link.readlink() == Path("..") / name


SERVER_EXTRA_MODULES = ("starlette", "uvicorn", "segno", "openpyxl", "jinja2")
"""What the ``server`` extra installs, by import name."""


def test_the_command_runs_without_the_server_extra(tmp_path: Path) -> None:
    """`pip install .` (no extra) gives auditors a working `anonballot audit`."""
    script = (
        f"import sys\nfor name in {SERVER_EXTRA_MODULES!r}:\n    sys.modules[name] = None\n"
        "from anonballot.cli.main import main\nsys.exit(main())\n"
    )
    for args in (
        ["simulate", "--out", "record.zip", "--wards", "1", "--voters", "2", "--key-bits", "2048"],
        ["audit", "record.zip", "--workers", "1"],
    ):
        result = subprocess.run(  # noqa: S603 (fixed argv)
            [sys.executable, "-c", script, *args],
            cwd=tmp_path, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr


# -- shell commands -------------------------------------------------------------------------


def test_readme_opens_with_make_demo_and_make_test() -> None:
    language, body = code_blocks((ROOT / "README.md").read_text(encoding="utf-8"))[0]
    assert language == "sh"
    assert [shlex.split(line, comments=True) for line in body.splitlines()] == [
        ["make", "demo"],
        ["make", "test"],
    ]
    assert {"demo", "test"} <= makefile_targets()


def test_the_docs_show_the_commands_they_must() -> None:
    every = [c for doc in DOCS for c in shell_commands(doc.read_text(encoding="utf-8"))]
    programs = {tuple(shlex.split(c, comments=True)[:2]) for c in every}
    assert {("make", "demo"), ("make", "test"), ("pip", "install")} <= programs
    assert {("anonballot", "simulate"), ("anonballot", "audit")} <= programs


# -- the example office of docs/cli.md ------------------------------------------------------

MAY, NOVEMBER, TRIAL = "long-bien-2026-05", "long-bien-2026-11", "thu-nghiem"
CLI_NOW = "2026-11-10T10:00:00+07:00"
"""When docs/cli.md's examples run: the November round is open."""
NOVEMBER_CODES = {
    "bo-de": ["7KQ2-M9XD-4HRT-PW3C", "B6XN-3TQP-8VKD-Q2RM"],
    "cu-khoi": ["H4MW-2ZPC-9YRB-6TKD"],
}
"""The November round's invitation codes (docs/cli.md votes with the first)."""


def _window(opens: str, closes: str) -> Window:
    return Window(f"2026-{opens}:00+07:00", f"2026-{closes}:00+07:00")


def _trustee_key(folder: Path, trustee: str, name: dict[str, str]) -> TrusteeKey:
    """The key in FOLDER/TRUSTEE.key (as `trustee keygen` writes it), made if missing."""
    path = folder / f"{trustee}.key"
    if path.exists():
        return TrusteeKey.from_json(decrypt_key_file(read_json_file(path), PASSPHRASE))
    key = TrusteeKey.generate(trustee)
    write_private(path, json.dumps(encrypt_key_file(key.to_json(), PASSPHRASE)))
    public = json.dumps(key.public(name).to_json(), ensure_ascii=False)
    (folder / f"{trustee}.key.pub.json").write_text(public, encoding="utf-8")
    return key


def example_office(session: DocSession) -> None:
    """docs/cli.md's district office, served on 10 November 2026, its admin token exported.

    Two wards (Bồ Đề, Cự Khối), three people each on the roster; the trustees' keys are the
    ``*.key`` files of the folder (made if the document did not make them). Rounds:

    - ``long-bien-2026-05``: closed; three ballots; the Organization board (to-chuc) has
      released its key. The folder gets its ``manifest.json`` and one participant's
      receipt, ``receipt-may.json``.
    - ``long-bien-2026-11``: open, issuance and voting 2 to 16 November, invitation codes
      :data:`NOVEMBER_CODES`; one ballot cast.
    - ``thu-nghiem``: a trial round, a draft with its invitation codes made.
    """
    folder, data = session.cwd, session.cwd / "data"
    trustees = [_trustee_key(folder, tid, name) for tid, name in DEMO_TRUSTEES]
    rng = random.Random(5)
    service = Service(data, key_bits=2048)
    try:
        write_private(data / "admin.token", service.new_admin_token() + "\n")
        config, _ = demo_config(wards=2, trustees=trustees, round_id=MAY)
        service.set_district(config.district)
        service.import_roster(
            [RosterEntry(w.id, f"Người tham gia {w.id} {n}") for w in config.district.wards
             for n in (1, 2, 3)]
        )  # fmt: skip

        may = service.create_round(
            dataclasses.replace(
                config, origin=f"bau-cu.long-bien.example/{MAY}",
                issuance=_window("05-04T07:00", "05-09T07:00"),
                voting=_window("05-11T07:00", "05-16T07:00"),
            )
        )  # fmt: skip
        invitations = service.make_invitations(MAY)
        may.open()
        session.clock.now = parse_time("2026-05-05T09:00:00+07:00")
        voters = []
        for invitation in invitations[:3]:
            p = Participant(may.signed_manifest(), invitation.ward)
            p.finish_token(may.issue(invitation.code, p.request_token()))
            voters.append(p)
        session.clock.now = parse_time("2026-05-12T20:00:00+07:00")
        for p in voters:
            leaf = p.make_leaf(random_answers(p.manifest, p.ward, rng))
            p.check_receipt(may.cast(leaf).to_json())
        may.close()
        may.add_release(trustees[1].release(may.mid))
        (folder / "manifest.json").write_bytes(jcs(may.signed_manifest()))
        receipt = voters[0].receipt
        assert receipt is not None
        (folder / "receipt-may.json").write_bytes(jcs(receipt.to_json()))

        november = service.create_round(
            dataclasses.replace(
                config, round_id=NOVEMBER, origin=f"bau-cu.long-bien.example/{NOVEMBER}",
                issuance=_window("11-02T07:00", "11-16T07:00"),
                voting=_window("11-02T07:00", "11-16T07:00"),
            )
        )  # fmt: skip
        november.add_invitations(
            [(code, ward) for ward, codes in NOVEMBER_CODES.items() for code in codes]
        )
        november.open()
        session.clock.now = parse_time(CLI_NOW)
        p = Participant(november.signed_manifest(), "cu-khoi")
        p.finish_token(november.issue(NOVEMBER_CODES["cu-khoi"][0], p.request_token()))
        november.cast(p.make_leaf(random_answers(p.manifest, p.ward, rng)))

        service.create_round(
            dataclasses.replace(config, round_id=TRIAL, origin=f"bau-cu.long-bien.example/{TRIAL}")
        )
        service.make_invitations(TRIAL)
    finally:
        service.close()
    session.start_server(Path("data"))
    session.env["ANONBALLOT_TOKEN"] = (data / "admin.token").read_text(encoding="utf-8").strip()


LEADER_PLANS = {
    "bo-de-secretary": {
        "criterion": "tac-phong-lam-viec",
        "actions": "Tiếp dân mỗi sáng thứ Năm tại trụ sở phường.",
        "deadline": "2026-09-30",
        "check": "Sổ tiếp dân, có chữ ký của người dân.",
    },
    "cu-khoi-chairman": {
        "shortcoming": "Thủ tục hành chính chưa được công khai đầy đủ (ý kiến góp ý).",
        "actions": "Niêm yết mọi thủ tục tại trụ sở và trên trang của phường.",
        "deadline": "2026-07-31",
        "check": "Đoàn của Ban Tuyên giáo đến xem bảng niêm yết.",
    },
}
"""The plans docs/operations.md's people rated draft on their personal pages."""


def _as_leader(session: DocSession, subject: str, *forms: dict[str, str]) -> None:
    """``subject`` opens the link of their slip and sends ``forms`` from its page."""
    round_id, key = leader_links(session.cwd / "leader-slips.html")[subject]
    with httpx.Client(base_url=str(session.url)) as browser:
        for form in forms:
            answer = browser.post(f"/leader/{round_id}", data={"key": key, **form})
            if answer.status_code != 200:
                raise DocCommandError(f"{subject}'s page answered {answer.status_code} to {form}")


def leaders_submit_plans(session: DocSession) -> None:
    """docs/operations.md section 14: two people rated draft and submit their plans."""
    for subject, item in LEADER_PLANS.items():
        _as_leader(session, subject, {"action": "add", **item}, {"action": "submit"})


def leader_revises_plan(session: DocSession) -> None:
    """docs/operations.md section 15: the returned plan, edited as the remarks ask, again."""
    edited = {**LEADER_PLANS["bo-de-secretary"], "item": "item-1"}
    edited["check"] = "Ủy ban Kiểm tra phường xem sổ tiếp dân cuối mỗi tháng."
    _as_leader(session, "bo-de-secretary", {"action": "save", **edited}, {"action": "submit"})


DOC_SETUPS = {
    "cli.md": DocSetup(office=example_office),
    "operations.md": DocSetup(
        slips="slips.csv",
        after={
            "anonballot leaders slips": leaders_submit_plans,
            "anonballot plan return": leader_revises_plan,
        },
    ),
}


@pytest.fixture
def doc_clock(monkeypatch: pytest.MonkeyPatch) -> DocClock:
    """The clock of every service and round the server of this test loads or creates."""
    clock = DocClock()
    for function in (
        vars(Round)["__init__"], vars(Round)["create"].__func__, vars(Service)["__init__"],
    ):  # fmt: skip
        monkeypatch.setitem(function.__kwdefaults__, "clock", clock)
    return clock


# -- shell commands -------------------------------------------------------------------------


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_documented_commands_run(
    doc: Path, tmp_path: Path, doc_clock: DocClock, request: pytest.FixtureRequest
) -> None:
    def build_wheel() -> Path:
        built: Path = request.getfixturevalue("wheel")
        return built

    def postgres() -> PgCluster:
        cluster: PgCluster = request.getfixturevalue("pg_cluster")
        return cluster

    setup = DOC_SETUPS.get(doc.name)
    with DocSession(tmp_path, build_wheel, doc_clock, setup, postgres) as session:
        for step in doc_steps(doc.read_text(encoding="utf-8")):
            session.run(step)


@pytest.mark.parametrize(
    "line",
    ["anonballot frobnicate", "anonballot simulate --no-such-option", "rm -rf record",
     "make no-such-target", "pip install anonballot", "pip install '.[no-such-extra]'",
     "anonballot serve", "anonballot round frobnicate", "export PATH=/tmp",
     "sqlite3 data/anonballot.db .dump", "anonballot simulate --out a > b c"],
)  # fmt: skip
def test_an_unrecognised_command_fails(line: str, tmp_path: Path) -> None:
    def no_wheel() -> Path:
        raise AssertionError("not reached")

    with pytest.raises(DocCommandError):
        run_command(line, tmp_path, no_wheel)


def test_console_blocks_run_only_prompted_lines() -> None:
    text = "```console\n$ anonballot audit a \\\n  --json\nRESULT: all checks pass\n```\n"
    text += "```sh\n# a comment\nmake demo  # and another\n```\n```text\nnot a command\n```\n"
    assert shell_commands(text) == ["anonballot audit a --json", "make demo  # and another"]


def test_doc_steps() -> None:
    text = (
        "```yaml\n# file: a.yaml\nx: 1\n```\n```json file=b.json\n{}\n```\n"
        "```sh\n# at 2026-05-05T09:30:00+07:00: issuance\nanonballot round list\n```\n"
        "```yaml\n# edit: a.yaml\nx: 2\n```\n```console\n$ anonballot vote\nerror: no\n```\n"
        "```yaml\nnot: written\n```\n"
    )
    assert doc_steps(text) == [
        Step("file", "# file: a.yaml\nx: 1\n", "a.yaml"),
        Step("file", "{}\n", "b.json"),
        Step("clock", "2026-05-05T09:30:00+07:00"),
        Step("run", "anonballot round list"),
        Step("edit", "# edit: a.yaml\nx: 2\n", "a.yaml"),
        Step("run", "anonballot vote", output=("error: no",)),
    ]


def test_shown_output_and_failures_are_checked(tmp_path: Path) -> None:
    with DocSession(tmp_path, lambda: tmp_path) as session:
        session.command("anonballot --version", ("anonballot, version ...",))
        with pytest.raises(DocCommandError, match="the docs show"):
            session.command("anonballot --version", ("anonballot, version 0.0.0",))
        session.command("anonballot audit nowhere", ("lỗi: ...",))  # Vietnamese by default
        session.command("anonballot --lang en audit nowhere", ("error: ...",))
        with pytest.raises(DocCommandError, match="should have failed"):
            session.command("anonballot --help", ("error: ...",))
        session.run(Step("file", "x: 1\ny: 2\n", "a.yaml"))
        session.run(Step("edit", "# edit: a.yaml\ny: 3\n", "a.yaml"))
        assert load_config_file(tmp_path / "a.yaml") == {"x": 1, "y": 3}
        session.command('export ANONBALLOT_LANG="$(cat a.yaml)"')
        assert session.env["ANONBALLOT_LANG"] == "x: 1\ny: 3"


@pytest.mark.parametrize("program", ["sqlite3", None])
def test_sqlite3_backup_with_or_without_the_program(
    program: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if program is not None:  # make test installs Debian's sqlite3: its absence is a failure
        assert shutil.which(program), "the sqlite3 program is missing (make test installs it)"
    if program is None:
        monkeypatch.setattr(shutil, "which", lambda name: None)
    Service(tmp_path / "data").close()
    with DocSession(tmp_path, lambda: tmp_path) as session:
        session.command('sqlite3 data/anonballot.db ".backup copy.db"')
        session.command('sqlite3 copy.db "PRAGMA integrity_check"')
        with pytest.raises(DocCommandError, match="no database"):
            session.command('sqlite3 nothing.db "PRAGMA integrity_check"')
    with contextlib.closing(sqlite3.connect(tmp_path / "copy.db")) as copy:
        assert copy.execute("SELECT count(*) FROM meta").fetchone() is not None


# -- docs/server.md and docs/cli.md cover the API and the commands ------------------------

SERVER_MD = (ROOT / "docs" / "server.md").read_text(encoding="utf-8")
CLI_MD = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
_OPERATION = re.compile(r"`(GET|POST|PUT|DELETE|PATCH) (/[^`\s?]*)")


def _matches(path: str, template: str) -> bool:
    pattern = re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template))
    return re.fullmatch(pattern, path) is not None


def test_server_md_documents_every_operation() -> None:
    api = {(m.upper(), path) for path, item in openapi_document()["paths"].items() for m in item}
    documented = set(_OPERATION.findall(SERVER_MD))
    assert sorted(api - documented) == []
    unknown = [op for op in documented if not any(
        op[0] == m and _matches(op[1], path) for m, path in api
    )]  # fmt: skip
    assert unknown == []


def test_server_md_lists_every_error_code() -> None:
    table = dict(re.findall(r"^\| `(\w+)` \| (\d{3})\b", SERVER_MD, re.MULTILINE))
    assert sorted(table) == sorted(ERROR_CODES)


def test_server_md_json_examples_parse() -> None:
    for language, body in code_blocks(SERVER_MD):
        if language == "json":
            json.loads(body)


def _server_md_section(operation: str) -> str:
    start = SERVER_MD.index(f"### `{operation}`")
    return SERVER_MD[start : SERVER_MD.index("\n### ", start + 1)]


def test_server_md_cast_example_is_a_real_leaf_and_its_receipt() -> None:
    record = ROOT / "tests" / "vectors" / "anonballot-v1" / "record"
    manifest = Manifest.from_signed(parse_json((record / "manifest.json").read_bytes()))
    section = _server_md_section("POST /api/rounds/{round_id}/ballots")
    body, answer = [text for language, text in code_blocks(section) if language == "json"]
    leaf = body.strip("\n").encode()
    parsed = parse_leaf(leaf, manifest, manifest.mid)  # canonical, and this round's
    parsed.verify_token(manifest)
    parsed.verify_voter_sig()
    receipt = Receipt.from_json(json.loads(answer))
    checkpoint = receipt.verify(manifest, leaf)
    assert checkpoint.size == receipt.leaf_index + 1
    # the checkpoint operation shows the same note
    shown = _server_md_section("GET /api/rounds/{round_id}/checkpoint")
    (note,) = [text for language, text in code_blocks(shown) if language == "text"]
    assert note == receipt.checkpoint


def _commands(group: click.Group, prefix: str = "anonballot") -> Iterator[tuple[str, Any]]:
    for name, command in group.commands.items():
        yield f"{prefix} {name}", command
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix} {name}")


def _sections(text: str) -> dict[str, str]:
    """Each ``### `anonballot ...``` section of docs/cli.md, by its command."""
    parts = re.split(r"^(#{2,3} .*)$", text, flags=re.MULTILINE)
    return {
        heading.group(1): body
        for title, body in zip(parts[1::2], parts[2::2], strict=True)
        if (heading := re.fullmatch(r"### `(anonballot [\w -]+)`", title))
    }


def test_cli_md_documents_every_command() -> None:
    commands = dict(_commands(cli_main))
    sections = _sections(CLI_MD)
    for name, command in commands.items():
        assert name in CLI_MD, name
        if isinstance(command, click.Group):
            continue
        assert name in sections, f"docs/cli.md has no section ### `{name}`"
        usage = click.Context(command, info_name=name).get_usage()
        assert usage in sections[name], usage
        for param in command.params:
            for option in param.opts if isinstance(param, click.Option) else ():
                assert f"`{option}" in sections[name], f"{name}: {option}"
    assert sorted(set(sections) - set(commands)) == []
    for text in set(re.findall(r"`(anonballot(?: [a-z][\w-]*)+)", CLI_MD)):
        words = text.split()  # every command the document names exists
        while len(words) > 1 and " ".join(words) not in commands:
            words.pop()
        assert len(words) > 1, f"docs/cli.md names `{text}`, which is no command"


# -- Python examples ------------------------------------------------------------------------

LIBRARY_EXAMPLES = [
    body for language, body in code_blocks((ROOT / "docs" / "library.md").read_text("utf-8"))
    if language == "python"
]  # fmt: skip


def test_library_has_examples() -> None:
    assert len(LIBRARY_EXAMPLES) >= 6


@pytest.mark.parametrize("index", range(len(LIBRARY_EXAMPLES)))
def test_library_example_runs(index: int, tmp_path: Path) -> None:
    script = tmp_path / f"library_example_{index}.py"
    script.write_text(LIBRARY_EXAMPLES[index], encoding="utf-8")
    result = subprocess.run(  # noqa: S603 (our own example, run as a script)
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"


# -- the worked examples of protocol.md -----------------------------------------------------

PROTOCOL = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
ORIGIN = "district.example/long-bien-2026-11"
LOG_KEY = SigningKey(bytes(range(32))).public_key
"""The example log key: the Ed25519 seed 00 01 02 ... 1f."""


def _receipt_example() -> dict[str, Any]:
    for language, body in code_blocks(PROTOCOL):
        if language == "json" and '"inclusion"' in body:
            receipt: dict[str, Any] = json.loads(body)
            return receipt
    raise AssertionError("protocol.md has no receipt example")


def test_protocol_key_example() -> None:
    assert f"`{LOG_KEY.to_b64u()}`" in PROTOCOL
    assert f"key id `{key_id(ORIGIN, LOG_KEY).hex()}`" in PROTOCOL
    assert f"`{verifier_key(ORIGIN, LOG_KEY)}`" in PROTOCOL


def test_protocol_checkpoint_example_verifies() -> None:
    note = _receipt_example()["checkpoint"]
    block = "\n".join(["```text", *note.splitlines(), "```"])
    assert block in PROTOCOL  # the note shown on its own is the receipt's note
    checkpoint = Checkpoint.parse(note, ORIGIN, LOG_KEY)
    assert checkpoint.size == 3


def test_protocol_receipt_example_verifies() -> None:
    receipt = _receipt_example()
    checkpoint = Checkpoint.parse(receipt["checkpoint"], ORIGIN, LOG_KEY)
    leaf_hash = b64u_decode(receipt["leaf_hash"], length=32)
    proof = [b64u_decode(p, length=32) for p in receipt["inclusion"]]
    verify_inclusion(leaf_hash, receipt["leaf_index"], checkpoint.size, proof, checkpoint.root)
    assert f"`{receipt_code(leaf_hash)}`" in PROTOCOL


def test_protocol_tlog_proof_example_is_the_receipt() -> None:
    from anonballot.receipt import Receipt, read_receipt

    match = re.search(r"```text\n(c2sp\.org/tlog-proof@v1\n.*?)```", PROTOCOL, re.DOTALL)
    assert match is not None
    receipt = Receipt.from_json(_receipt_example())
    assert match.group(1) == receipt.to_tlog_proof()
    assert read_receipt(match.group(1).encode()) == receipt


def test_protocol_pseudonym_example() -> None:
    match = re.search(
        r"`mid = ([\w-]{43})`, the\s+code `([\w-]+)` \(normalized `(\w+)`\) has the pseudonym\s+"
        r"`([\w-]{43})`",
        PROTOCOL,
    )
    assert match is not None
    mid, printed, normalized, expected = match.groups()
    assert normalize_code(printed) == normalized
    assert format_code(normalized) == printed
    assert pseudonym(mid, printed) == expected


def test_protocol_white_space_list_is_the_code_s() -> None:
    section = PROTOCOL[PROTOCOL.index("### 7.4 Comments") : PROTOCOL.index("### 7.5 Results")]
    listed: set[str] = set()
    for first, last in re.findall(r"U\+([0-9A-F]{4})(?: to U\+([0-9A-F]{4}))?", section):
        listed.update(chr(c) for c in range(int(first, 16), int(last or first, 16) + 1))
    assert listed == set(WHITE_SPACE)
    assert len(WHITE_SPACE) == 25


def test_protocol_lists_every_audit_check() -> None:
    for check in CHECKS:
        assert f"\n| {check} |" in PROTOCOL


def test_protocol_lists_every_opening_reason() -> None:
    reasons = [
        "share_undecryptable", "shares_inconsistent", "bad_key", "undecryptable",
        "not_canonical", "wrong_ward", "invalid_content",
    ]  # fmt: skip
    section = PROTOCOL[PROTOCOL.index("### 7.3 Opening") : PROTOCOL.index("### 7.4 Comments")]
    found = re.findall(r"\*\*`(\w+)`\*\*", section)
    assert found == reasons


_LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)\s]*)?\)")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_relative_links_and_images_resolve(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    missing = [
        target
        for target in _LINK.findall(text)
        if "://" not in target
        and not target.startswith("mailto:")
        and not (doc.parent / target).exists()
    ]
    assert missing == []
