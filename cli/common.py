"""What the commands share: one-line errors, and the client of the server's API."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from anonballot.encoding import parse_json
from anonballot.errors import AnonBallotError, InputError, VerificationError

from .transfer import TransferError

__all__ = [
    "EXIT_STATUS",
    "ApiClient",
    "ApiError",
    "CheckFailed",
    "NotNow",
    "ServerFailed",
    "TryAgain",
    "access_token_option",
    "api_error",
    "clean_errors",
    "current_lang",
    "error_line",
    "exit_status",
    "message",
    "one_line",
    "problem_line",
    "read_access_token",
    "read_token",
    "say",
    "server_option",
    "set_lang",
    "t",
    "token_options",
]

F = TypeVar("F", bound=Callable[..., Any])


class ApiError(AnonBallotError):
    """The server refused a request; ``code`` and ``detail`` are the server's, ``status`` the
    HTTP status of its answer."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail, code=code)
        self.status = status


class ServerFailed(ApiError):
    """The server failed (a 5xx answer): nothing was wrong with what was sent."""


class TryAgain(AnonBallotError):
    """The server failed or could not be reached mid-way; a saved state file allows a retry."""

    code = "try_again"

    def __init__(self, detail: str, state_path: Path) -> None:
        super().__init__(
            f"{detail}. Your progress is saved in {state_path}: run the same command again "
            "to continue"
        )


class NotNow(AnonBallotError):
    """Outside the window for this step: what was done is saved, the text says when to come
    back (or that it is too late); exit 1, as a retry can succeed later."""

    code = "not_now"


class CheckFailed(VerificationError):
    """A check the command made did not pass."""

    code = "check_failed"


EXIT_STATUS: dict[type[AnonBallotError], int] = {
    AnonBallotError: 2,
    VerificationError: 1,
    ServerFailed: 1,
    TryAgain: 1,
    NotNow: 1,
}
"""Exit status by error class (a subclass takes that of its nearest listed base): 1 when a
check failed or the server failed, 2 when the input was unusable."""


def exit_status(exc: AnonBallotError) -> int:
    """The command's exit status for ``exc``."""
    for cls in type(exc).__mro__:
        if cls in EXIT_STATUS:
            return EXIT_STATUS[cls]
    return 2


DEFAULT_LANG = "vi"
LANGS = ("vi", "en")
LANG_ENV = "ANONBALLOT_LANG"
"""The environment variable that sets the language of every command (``vi`` or ``en``)."""
_LANG_META = "anonballot.lang"
_CATALOGS: dict[str, dict[str, str]] = {}


def set_lang(lang: str | None) -> None:
    """The language chosen on the command line (``anonballot --lang en ...``), for this run."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and lang is not None:
        ctx.meta[_LANG_META] = lang


def current_lang() -> str:
    """The language of this run: ``--lang``, else ANONBALLOT_LANG, else Vietnamese."""
    ctx = click.get_current_context(silent=True)
    chosen = ctx.meta.get(_LANG_META) if ctx is not None else None
    if chosen is None:
        chosen = os.environ.get(LANG_ENV, "").strip().lower() or DEFAULT_LANG
    return chosen if chosen in LANGS else DEFAULT_LANG


def t(key: str, **fields: object) -> str:
    """The text ``key`` in this run's language (:func:`current_lang`), fields filled in."""
    return message(current_lang(), key, **fields)


def say(key: str, *, err: bool = False, **fields: object) -> None:
    """Print the text ``key`` in this run's language (to stderr with ``err``)."""
    click.echo(t(key, **fields), err=err)


def error_line(exc: AnonBallotError) -> str:
    """The one line an error prints: in Vietnamese, the catalog's sentence for its code
    (``error.<code>``) with the detail after it, which names the file or value at fault."""
    lang = current_lang()
    known = _catalog(lang).get(f"error.{exc.code}") if lang != "en" else None
    return problem_line(f"{known} ({exc.detail})" if known else exc.detail)


def problem_line(text: str) -> str:
    """``error: TEXT`` (``lỗi: TEXT`` in Vietnamese), on one line whatever TEXT holds (a
    server's detail may carry line breaks or escape sequences: shown escaped)."""
    return f"{t('error_prefix')}: {one_line(text)}"


def _catalog(lang: str) -> dict[str, str]:
    """The command line's message catalog for ``lang`` (``cli/messages/<lang>.json``): one
    flat JSON object of texts with ``{name}`` fields, the format of the booth's and the
    report pages' catalogs."""
    if lang not in _CATALOGS:
        path = Path(__file__).with_name("messages") / f"{lang}.json"
        _CATALOGS[lang] = json.loads(path.read_text(encoding="utf-8"))
    return _CATALOGS[lang]


def message(lang: str, key: str, **fields: object) -> str:
    """The text ``key`` in ``lang`` (Vietnamese when ``lang`` lacks it), fields filled in."""
    text = _catalog(lang).get(key) or _catalog(DEFAULT_LANG)[key]
    return text.format(**fields)


MAX_SERVER_DETAIL = 300
"""Characters of a server's ``detail`` shown: one sentence, not whatever a server sends."""


def one_line(text: str) -> str:
    """``text`` as one line of a terminal: line breaks, escape sequences and other
    invisible characters are shown escaped (``\\n``, ``\\x1b``), never acted on."""
    return "".join(
        ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )


def api_error(status: int, body: bytes) -> ApiError:
    """The server's refusal ``{"error", "detail"}`` (or a plain status) as an ApiError."""
    try:
        # Anything but an object raises TypeError when indexed, handled below.
        value = cast("dict[str, Any]", parse_json(body))
        code, detail = str(value["error"]), str(value["detail"])
    except (AnonBallotError, KeyError, TypeError):
        code, detail = "http_error", f"the server answered {status}"
    if len(detail) > MAX_SERVER_DETAIL:
        detail = detail[:MAX_SERVER_DETAIL] + "…"
    return (ServerFailed if status >= 500 else ApiError)(status, code[:64], detail)


def clean_errors(fn: F) -> F:
    """Turn library, server and I/O errors into one line on stderr and exit 1 or 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import httpx

        try:
            return fn(*args, **kwargs)
        except AnonBallotError as exc:
            click.echo(error_line(exc), err=True)
            sys.exit(exit_status(exc))
        except TransferError as exc:
            click.echo(problem_line(exc.detail), err=True)
            sys.exit(2)
        except ModuleNotFoundError as exc:
            # the library and the command install without the server's packages
            click.echo(problem_line(t("needs_module", name=exc.name)), err=True)
            sys.exit(2)
        except httpx.HTTPError as exc:
            line = t("unreachable", server=_server_of(exc), reason=str(exc) or type(exc).__name__)
            click.echo(problem_line(line), err=True)
            sys.exit(2)
        except OSError as exc:
            where = f": {exc.filename}" if exc.filename else ""
            click.echo(problem_line(f"{exc.strerror or exc}{where}"), err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def _server_of(exc: Exception) -> str:
    """The server a failed request went to (scheme, host and port), or "?"."""
    import httpx

    try:
        url = exc.request.url if isinstance(exc, httpx.RequestError) else None
    except RuntimeError:  # an error made without a request
        url = None
    return f"{url.scheme}://{url.netloc.decode()}" if url is not None else "?"


def server_option(fn: F) -> F:
    return click.option(
        "--server",
        envvar="ANONBALLOT_SERVER",
        default="http://127.0.0.1:8000",
        show_default=True,
        help="The anonballot server's URL (or ANONBALLOT_SERVER).",
    )(fn)


def token_options(fn: F) -> F:
    return click.option(
        "--token-file",
        type=click.Path(path_type=Path),
        default=None,
        help="A file holding the admin token (else ANONBALLOT_TOKEN).",
    )(fn)


def read_token(token_file: Path | None) -> str:
    """The admin token from ``--token-file`` or the ANONBALLOT_TOKEN variable."""
    if token_file is not None:
        token = token_file.read_text(encoding="utf-8").strip()
    else:
        token = os.environ.get("ANONBALLOT_TOKEN", "").strip()
    if not token:
        raise InputError("this needs the admin token: --token-file FILE or ANONBALLOT_TOKEN")
    return token


def access_token_option(fn: F) -> F:
    return click.option(
        "--access-token-file",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="A file holding an access token to a restricted round's results "
        "(else ANONBALLOT_ACCESS_TOKEN).",
    )(fn)


def read_access_token(token_file: Path | None) -> str | None:
    """The access token from ``--access-token-file`` or ANONBALLOT_ACCESS_TOKEN; None when
    neither gives one."""
    if token_file is not None:
        token = token_file.read_text(encoding="utf-8").strip()
        if not token:
            raise InputError(f"{token_file} holds no access token")
        return token
    return os.environ.get("ANONBALLOT_ACCESS_TOKEN", "").strip() or None


class ApiClient:
    """A small client of the server's JSON API (httpx), raising :class:`ApiError`.

    Every answer is read within the bounds of :mod:`anonballot.cli.transfer`: at most
    ``MAX_ANSWER`` bytes (a refusal ``MAX_ERROR_ANSWER``), under the stall rule, and no
    redirect is followed; beyond them, :class:`~anonballot.cli.transfer.TransferError`.
    """

    def __init__(self, server: str, token: str | None = None) -> None:
        from .transfer import client

        headers = {"authorization": f"Bearer {token}"} if token else {}
        self.base = server.rstrip("/")
        self.http = client(self.base, headers)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """The answer's JSON (or bytes for non-JSON answers); ApiError for 4xx and 5xx."""
        kind, body = self.fetch(method, path, **kwargs)
        if kind == "application/json":
            return parse_json(body)
        return body

    def fetch(
        self, method: str, path: str, *, limit: int | None = None, **kwargs: Any
    ) -> tuple[str, bytes]:
        """The answer's media type and body, at most ``limit`` bytes (``MAX_ANSWER`` by
        default); ApiError for 4xx and 5xx, TransferError beyond the bounds."""
        from . import transfer

        with self.http.stream(method, path, **kwargs) as answer:
            transfer.refuse_unless_ok(answer, api_error)
            body = transfer.receive(answer, limit or transfer.MAX_ANSWER, "the answer")
            kind = answer.headers.get("content-type", "").split(";")[0].strip().lower()
        return kind, body

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)
