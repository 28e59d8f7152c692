"""What the command line reads from a server, within bounds.

A server may be hostile, or a proxy in front of it broken. Whatever it answers, a command
reads a bounded number of bytes in a bounded time and says in one line what went wrong
(:class:`TransferError`, exit 2):

- **Caps.** Every answer has one: a JSON answer :data:`MAX_ANSWER`, a refusal's body
  :data:`MAX_ERROR_ANSWER`, a download what its caller gives. Bytes are counted as decoded:
  an answer sent with ``Content-Encoding: gzip`` (though ``identity`` was asked for) is
  inflated a bounded piece at a time, so a gzip bomb stops at the cap too.
- **A stall rule**, on every read from the connection, the answer's headers included: no
  byte for :data:`STALL_SECONDS` ends the transfer, and so does an answer that, once
  started, brings fewer than :data:`MIN_RATE` bytes a second over a window of
  :data:`RATE_WINDOW` seconds. The worst a server can then hold a command is its cap at the
  minimum rate.
- **No redirect is followed**: a 3xx answer is an error that says where it points, so that
  the person sees the address and decides.

The pacing wraps the network streams of httpcore (httpx's transport), the one place every
byte of an answer passes.
"""

from __future__ import annotations

import time
import urllib.request
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

import httpcore
import httpx

__all__ = [
    "MAX_ANSWER",
    "MAX_ERROR_ANSWER",
    "MIN_RATE",
    "RATE_WINDOW",
    "STALL_SECONDS",
    "TransferError",
    "client",
    "receive",
    "redirect_error",
]

MAX_ANSWER = 64 * 1024 * 1024
"""The largest answer read whole (JSON, a checkpoint): a large round's signed results with
every comment; the same limit as a record's ``results.json`` (anonballot.record)."""
MAX_ERROR_ANSWER = 64 * 1024
"""The largest refusal read: ``{"error": ..., "detail": one sentence}`` is far smaller."""
STALL_SECONDS = 60.0
"""No byte for this long ends a transfer. Long enough for a server that builds a large
round's record before answering; a stalled connection is given up within a minute."""
RATE_WINDOW = 30.0
"""The window over which :data:`MIN_RATE` is measured, from the answer's first byte."""
MIN_RATE = 16 * 1024
"""Bytes a second an answer must keep up over each window: a poor mobile link gives ten
times more. A server dripping bytes to stay under :data:`STALL_SECONDS` is stopped."""
CONNECT_SECONDS = 30.0
"""Time to open the connection (TCP and TLS)."""
_PIECE = 1024 * 1024
"""Most bytes inflated at once from an encoded answer."""


class TransferError(Exception):
    """The server's answer broke a bound of this client (too large, too slow, redirected,
    encoded unasked). Not an :class:`~anonballot.errors.AnonBallotError`: it is no verdict
    on the data, whose check did not run; the command stops with one line, exit 2."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


# -- pacing: every read from the connection ---------------------------------------------------


class _PacedStream(httpcore.NetworkStream):
    """A connection whose reads keep to the stall rule; a write starts a new answer."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self.stream = stream
        self.window_start: float | None = None
        self.window_bytes = 0

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            data = self.stream.read(max_bytes, STALL_SECONDS)
        except httpcore.ReadTimeout as exc:
            raise httpcore.ReadTimeout(
                f"the server sent nothing for {STALL_SECONDS:g} seconds"
            ) from exc
        now = time.monotonic()
        if self.window_start is None:  # the answer's first byte: the server's pace from now
            self.window_start = now
        self.window_bytes += len(data)
        elapsed = now - self.window_start
        if elapsed >= RATE_WINDOW:
            if self.window_bytes < MIN_RATE * elapsed:
                raise httpcore.ReadTimeout(
                    f"the server sent {self.window_bytes} bytes in {elapsed:.0f} seconds, "
                    f"slower than {MIN_RATE} bytes a second"
                )
            self.window_start, self.window_bytes = now, 0
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.window_start, self.window_bytes = None, 0
        self.stream.write(buffer, STALL_SECONDS)

    def close(self) -> None:
        self.stream.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _PacedStream(self.stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self.stream.get_extra_info(info)


class _PacedBackend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self.backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self.backend.connect_tcp(host, port, timeout, local_address, socket_options)
        return _PacedStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        return _PacedStream(self.backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self.backend.sleep(seconds)


def _transport(proxy: str | None = None) -> httpx.HTTPTransport:
    transport = httpx.HTTPTransport(proxy=proxy)
    # httpx builds its connection pool itself and takes no network backend: the pool's
    # backend is wrapped in place (an httpx private; tests/test_transfer.py would fail
    # first if it moved).
    pool = transport._pool
    pool._network_backend = _PacedBackend(pool._network_backend)
    return transport


def client(base_url: str = "", headers: dict[str, str] | None = None) -> httpx.Client:
    """An httpx client whose every transfer keeps to the stall rule and follows no redirect.

    Proxies from the environment (``HTTPS_PROXY``, ``NO_PROXY``, ...) are honoured, as
    httpx does, with paced transports.
    """
    mounts: dict[str, httpx.BaseTransport | None] = {}
    for scheme, url in urllib.request.getproxies().items():
        if scheme in ("http", "https", "all"):
            mounts["all://" if scheme == "all" else f"{scheme}://"] = _transport(url)
    for host in urllib.request.getproxies().get("no", "").split(","):
        if host.strip():
            mounts[f"all://*{host.strip().lstrip('*')}"] = None
    return httpx.Client(
        base_url=base_url,
        headers={"accept-encoding": "identity", **(headers or {})},
        timeout=httpx.Timeout(STALL_SECONDS, connect=CONNECT_SECONDS),
        follow_redirects=False,
        transport=_transport(),
        mounts=mounts or None,
    )


# -- reading an answer within its cap ----------------------------------------------------------


class _Inflater:
    """Inflates a ``gzip`` or ``deflate`` answer piece by piece, at most :data:`_PIECE` bytes
    at a time, so that what it gives can be counted before more is made."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self.inflater = zlib.decompressobj(zlib.MAX_WBITS | (16 if "gzip" in encoding else 32))

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            while data and not self.inflater.eof:
                yield self.inflater.decompress(data, _PIECE)
                data = self.inflater.unconsumed_tail
        except zlib.error as exc:
            raise TransferError(f"the server's {self.encoding} answer is damaged ({exc})") from exc

    def end(self) -> Iterator[bytes]:
        # what zlib still holds: at most its window
        yield self.inflater.flush()


def _inflater(encoding: str) -> _Inflater | None:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise TransferError(f"the server answered in the {encoding!r} encoding, not asked for")
    return _Inflater(encoding)


def receive(answer: httpx.Response, limit: int, what: str, out: IO[bytes] | None = None) -> bytes:
    """The body of ``answer``, at most ``limit`` bytes (as decoded), or written to ``out``
    (then ``b""``). :class:`TransferError` when it is larger or its transfer stalls."""
    too_large = f"{what} is larger than {limit} bytes: not read further"
    declared = answer.headers.get("content-length", "")
    inflater = _inflater(answer.headers.get("content-encoding", ""))
    if inflater is None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise TransferError(too_large)
    chunks: list[bytes] = []
    size = 0

    def take(pieces: Iterable[bytes]) -> None:
        nonlocal size
        for data in pieces:
            size += len(data)
            if size > limit:
                raise TransferError(too_large)
            if out is not None:
                out.write(data)
            else:
                chunks.append(data)

    try:
        for raw in answer.iter_raw(64 * 1024):
            take(inflater.feed(raw) if inflater is not None else (raw,))
        if inflater is not None:
            take(inflater.end())
    except httpx.ReadTimeout as exc:
        raise TransferError(f"{what}: {exc}: stopped") from exc
    return b"".join(chunks)


def refuse_unless_ok(answer: httpx.Response, api_error: Callable[[int, bytes], Exception]) -> None:
    """A redirect (never followed) or a refusal (its body read within
    :data:`MAX_ERROR_ANSWER`, made an error by ``api_error``) raised; a 2xx passes."""
    status = answer.status_code
    if 300 <= status < 400:
        raise redirect_error(answer)
    if status >= 400:
        raise api_error(status, receive(answer, MAX_ERROR_ANSWER, "the error answer"))


def redirect_error(answer: httpx.Response) -> TransferError:
    """A 3xx answer: where it points, for the person to decide."""
    where = answer.headers.get("location", "")[:200] or "nowhere"
    return TransferError(
        f"the server answered {answer.status_code} and points to {where}: this command "
        "follows no redirect; give that address if it is the server's"
    )
