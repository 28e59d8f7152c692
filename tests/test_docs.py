"""The documentation is checked, like datasette's test_docs.py.

- Every shell command shown in README.md and docs/*.md runs: each ```sh / ```bash block line
  and each ``$ `` line of a ```console block. ``anonballot ...`` commands run through the
  installed entry point, in order, in one temporary folder per document; ``make TARGET`` must
  name a Makefile target (not run: ``make test`` inside ``make test`` would recurse);
  ``pip install .`` must build (the wheel test's build). Anything else is an unrecognised
  command and fails.
- Every ```python block of docs/library.md runs as a script of its own, in a fresh interpreter
  and an empty folder. A fresh interpreter rather than ``exec``: the audit's worker processes
  import the ``__main__`` module again, which only a real script file makes faithful.
- The worked examples of docs/protocol.md verify (checkpoint, receipt, pseudonym), and its
  lists agree with the code.
- The wheel holds only the ``anonballot`` package (docs/layout.md).
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from anonballot.audit import CHECKS
from anonballot.board import receipt_code
from anonballot.checkpoint import Checkpoint
from anonballot.codes import format_code, normalize_code, pseudonym
from anonballot.encoding import b64u_decode, b64u_encode
from anonballot.hazmat.merkle import verify_inclusion
from anonballot.hazmat.note import key_id, verifier_key
from anonballot.signing import SigningKey
from anonballot.tally import WHITE_SPACE

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_LANGUAGES = {"sh", "bash", "console"}
COMMAND_TIMEOUT = 300

_FENCE = re.compile(r"^```([\w+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


class DocCommandError(Exception):
    """A documented command is not recognised or did not succeed."""


def code_blocks(text: str) -> list[tuple[str, str]]:
    """Every fenced block of a Markdown text, as (language, body)."""
    return [(m.group(1), m.group(2)) for m in _FENCE.finditer(text)]


def shell_commands(text: str) -> list[str]:
    """The shell commands a Markdown text shows, in order."""
    commands: list[str] = []
    for language, body in code_blocks(text):
        if language not in SHELL_LANGUAGES:
            continue
        pending = ""
        for raw in body.splitlines():
            if language == "console" and not pending:
                if not raw.startswith("$ "):
                    continue  # output shown after a command
                raw = raw[2:]
            line = pending + raw.strip()
            if line.endswith("\\"):
                pending = line[:-1].rstrip() + " "
                continue
            pending = ""
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z][\w.-]*)\s*:(?!=)", text, re.MULTILINE))


def anonballot_command() -> list[str]:
    """The installed ``anonballot`` entry point of this interpreter's environment."""
    script = Path(sys.executable).parent / "anonballot"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "anonballot.cli.main"]


def pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def run_command(line: str, cwd: Path, build_wheel: Callable[[], Path]) -> None:
    """Run (or check) one documented command; raise DocCommandError if it is not right."""
    argv = shlex.split(line, comments=True)
    if not argv:
        return
    program, args = argv[0], argv[1:]
    if program == "anonballot":
        result = subprocess.run(  # noqa: S603 (the argv comes from our own docs)
            [*anonballot_command(), *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        if result.returncode != 0:
            raise DocCommandError(
                f"`{line}` exited {result.returncode}\n{result.stdout}\n{result.stderr}"
            )
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
        build_wheel()
    else:
        raise DocCommandError(f"`{line}` is not a command the documentation may show")


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
    version = pyproject()["project"]["version"]
    dist_info = f"anonballot-{version}.dist-info/"
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


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_documented_commands_run(doc: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    def build_wheel() -> Path:
        built: Path = request.getfixturevalue("wheel")
        return built

    for line in shell_commands(doc.read_text(encoding="utf-8")):
        run_command(line, tmp_path, build_wheel)


@pytest.mark.parametrize(
    "line",
    ["anonballot frobnicate", "anonballot simulate --no-such-option", "rm -rf record",
     "make no-such-target", "pip install anonballot", "pip install '.[no-such-extra]'"],
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
    assert f"`{b64u_encode(LOG_KEY)}`" in PROTOCOL
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
