"""What each kind of user installs (README): the library alone, the ``cli`` extra, ``server``.

Each case runs in a fresh interpreter in which the packages of the extras it lacks cannot be
imported, as if they were not installed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CLI_EXTRA = ("click", "rich", "httpx", "yaml")
SERVER_EXTRA = ("starlette", "uvicorn", "segno", "openpyxl", "jinja2")


def _run(blocked: tuple[str, ...], code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    script = f"import sys\nfor name in {blocked!r}:\n    sys.modules[name] = None\n{code}"
    return subprocess.run(  # noqa: S603 (fixed argv)
        [sys.executable, "-c", script],
        cwd=cwd, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_the_library_needs_neither_extra(tmp_path: Path) -> None:
    """Every module of the library and its testing package imports with neither extra."""
    code = (
        "import importlib, pkgutil\n"
        "todo, seen = ['anonballot'], 0\n"
        "while todo:\n"
        "    module = importlib.import_module(todo.pop())\n"
        "    seen += 1\n"
        "    for info in pkgutil.iter_modules(getattr(module, '__path__', [])):\n"
        "        if module.__name__ == 'anonballot' and info.name in ('cli', 'server'):\n"
        "            continue\n"
        "        todo.append(f'{module.__name__}.{info.name}')\n"
        "print(seen)\n"
    )
    result = _run(CLI_EXTRA + SERVER_EXTRA, code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 20  # every module of the library was imported


def test_the_command_without_the_cli_extra_says_what_to_install(tmp_path: Path) -> None:
    result = _run(CLI_EXTRA, "from anonballot.cli.main import main\nmain()\n", tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "pip install 'anonballot[cli]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_serving_without_the_server_extra_says_what_to_install(tmp_path: Path) -> None:
    code = "from anonballot.cli.main import main\nmain(['serve', '--data', 'var'])\n"
    result = _run(SERVER_EXTRA, code, tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "pip install 'anonballot[server]'" in result.stderr
