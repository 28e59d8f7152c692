"""The participants' static files: read once, gzipped once, answered with strong ETags.

The booth's usual client is a phone on a slow network (docs/booth.md). So every file of a
folder (``server/static/``) is read when the application is made and kept in memory, as is
and, for text formats, gzipped at level 9 (about 270 KB, and 90 KB gzipped). A request whose
``Accept-Encoding`` takes gzip gets the gzipped bytes with ``Content-Encoding: gzip``; every
answer that could have been gzipped says ``Vary: Accept-Encoding``. Each encoding has its own
strong ETag (from a hash of the file), so that ``If-None-Match`` is answered 304 with no body.

Caching. The folder has one **version**, a hash of every file's path and bytes. Under
``/static/{version}/...``, the addresses the pages use (:meth:`StaticFolder.pin` rewrites
them when the server starts), every file is cached for a year as immutable: a change to any
file changes the version and so every address. Everything else is ``no-cache`` (kept, and
checked with the server before each use: a 304 when unchanged): the pages themselves,
``/static/...`` without a version (the report pages' links), and an earlier version's
addresses, which a page loaded before the server was upgraded may still ask for (it gets
today's file).

One version for the whole folder, rather than a hash per file, because the ES modules import
each other by relative path (``./codes.js``) and the message catalogs are fetched relative to
``import.meta.url``: under one versioned folder they resolve inside it with the files served
exactly as they are, where a hash per file would mean rewriting every import. The price is
that any change downloads the whole folder again once (69 KB gzipped for the booth).

No brotli: it would need a new compiled dependency (the ``brotli`` binding) to save 9 KB of
the booth's 69 KB gzipped (60 KB with brotli at its best, measured on these files): some
50 ms of a cold load at 1.6 Mbit/s, a third of one round trip of a phone network, and nothing
once cached. A reverse proxy in front of the server can add it.
"""

from __future__ import annotations

import gzip
import hashlib
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["IMMUTABLE", "REVALIDATE", "Asset", "StaticFolder", "accepts_gzip", "etag_matches"]

IMMUTABLE = "public, max-age=31536000, immutable"
"""The files under the current version: their bytes never change at that address."""
REVALIDATE = "no-cache"
"""Everything else: a cached copy is used only after the server said it is current."""

_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
}
_COMPRESSIBLE = ("text/", "application/json", "image/svg+xml")
_VERSION = re.compile(r"[0-9a-f]{16}")
# A page's address of a static file: src="static/..." or href="../static/...".
_STATIC_REF = re.compile(r'(\s(?:src|href)=")((?:\.\./)*static/)')
_MODULE_SCRIPT = re.compile(r'<script type="module" src="((?:\.\./)*static/)([^"?#]+)"')
# Static imports and re-exports of a module (`import {a} from "./b.js";`, possibly over several
# lines; `import "./c.js";`). JSDoc's `import("./d.js")` types are not imports.
_IMPORT = re.compile(
    r'^[ \t]*(?:import|export)\b[^;"]*?\bfrom[ \t]*"(\.{1,2}/[^"]+)"'
    r'|^[ \t]*import[ \t]*"(\.{1,2}/[^"]+)"',
    re.MULTILINE,
)
CATALOG = "i18n/vi.json"
"""The message catalog every page loads first (i18n.js: Vietnamese is the default and the
fallback of every other language), fetched relative to ``js/i18n.js``."""


def media_type(name: str) -> str:
    return _MEDIA_TYPES.get(posixpath.splitext(name)[1].lower(), "application/octet-stream")


def accepts_gzip(header: str) -> bool:
    """Whether an ``Accept-Encoding`` value takes gzip (RFC 9110, 12.5.3): named with a
    nonzero q, or ``*`` with a nonzero q and gzip not named."""
    named: float | None = None
    star: float | None = None
    for item in header.split(","):
        name, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name.lower() in ("gzip", "x-gzip"):
            named = q
        elif name == "*":
            star = q
    if named is not None:
        return named > 0
    return star is not None and star > 0


def etag_matches(header: str | None, etag: str) -> bool:
    """``If-None-Match`` (RFC 9110, 13.1.2): weak comparison, as a GET's precondition is."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


@dataclass(frozen=True)
class Encoded:
    """One encoding of a file: its bytes, its strong ETag and its ``Content-Encoding``."""

    body: bytes
    etag: str
    encoding: str | None


@dataclass(frozen=True)
class Asset:
    """A file, as is and gzipped (``gzipped`` is None for a binary format, or when gzip
    would not make it smaller)."""

    media_type: str
    digest: str
    """SHA-256 of the file, hex."""
    plain: Encoded
    gzipped: Encoded | None

    @classmethod
    def of(cls, data: bytes, media_type: str) -> Asset:
        digest = hashlib.sha256(data).hexdigest()
        plain = Encoded(data, f'"{digest[:32]}"', None)
        gzipped = None
        if media_type.startswith(_COMPRESSIBLE):
            # mtime=0: the same file always gives the same bytes, so one ETag per encoding
            packed = gzip.compress(data, compresslevel=9, mtime=0)
            if len(packed) < len(data):
                gzipped = Encoded(packed, f'"{digest[:32]}-gzip"', "gzip")
        return cls(media_type, digest, plain, gzipped)

    def answer(self, request: Request, cache_control: str) -> Response:
        """The answer to a GET or HEAD of this file: 200, or 304 when ``If-None-Match``
        names the ETag of the encoding the request gets."""
        take_gzip = self.gzipped is not None and accepts_gzip(
            request.headers.get("accept-encoding", "")
        )
        chosen = self.gzipped if take_gzip and self.gzipped is not None else self.plain
        headers = {"etag": chosen.etag, "cache-control": cache_control}
        if self.gzipped is not None:
            headers["vary"] = "Accept-Encoding"
        if etag_matches(request.headers.get("if-none-match"), chosen.etag):
            return Response(status_code=304, headers=headers)
        if chosen.encoding is not None:
            headers["content-encoding"] = chosen.encoding
        headers["content-length"] = str(len(chosen.body))
        body = b"" if request.method == "HEAD" else chosen.body
        return Response(body, media_type=self.media_type, headers=headers)


class StaticFolder:
    """Every file of ``folder``, in memory; :meth:`serve` answers ``/static/{path}``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: dict[str, Asset] = {}
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if path.is_file() and not any(part.startswith(".") for part in relative.parts):
                name = relative.as_posix()
                self.files[name] = Asset.of(path.read_bytes(), media_type(name))
        tree = hashlib.sha256()
        for name, asset in self.files.items():
            tree.update(f"{name}\0{asset.digest}\n".encode())
        self.version = tree.hexdigest()[:16]
        """Changes whenever any file, or the set of files, does."""

    async def serve(self, request: Request) -> Response:
        """The answer to ``GET /static/{path}``."""
        path = request.path_params["path"]
        first, _, rest = path.partition("/")
        if _VERSION.fullmatch(first) and rest in self.files:
            # Another version is a page loaded before the server was upgraded, fetching its
            # catalogs or modules later: it gets today's file, not to be kept as immutable.
            cache = IMMUTABLE if first == self.version else REVALIDATE
            return self.files[rest].answer(request, cache)
        if path in self.files:
            return self.files[path].answer(request, REVALIDATE)
        raise HTTPException(status_code=404)

    def imports(self, module: str) -> list[str]:
        """Every module that ``module`` (a path in the folder) imports, directly or not, in
        the order they are first found; only modules of the folder."""
        found: list[str] = []
        todo = [module]
        while todo:
            current = todo.pop(0)
            asset = self.files.get(current)
            if asset is None:
                continue
            for match in _IMPORT.finditer(asset.plain.body.decode("utf-8")):
                spec = match.group(1) or match.group(2)
                target = posixpath.normpath(posixpath.join(posixpath.dirname(current), spec))
                if target != module and target not in found and target in self.files:
                    found.append(target)
                    todo.append(target)
        return found

    def pin(self, html: str) -> str:
        """A page as served: its static addresses under the current version, and, before
        ``</head>``, ``modulepreload`` links for every module its module script imports,
        directly or not (and a preload of the catalog when it loads i18n.js).

        A browser discovers a module's imports only once it has the module, one level of the
        graph per round trip; the preloads ask for the whole graph at once, with the page.
        """
        links: list[str] = []
        for prefix, entry in _MODULE_SCRIPT.findall(html):
            graph = self.imports(entry)
            links += [self._link("modulepreload", prefix, name) for name in graph]
            if "js/i18n.js" in {entry, *graph} and CATALOG in self.files:
                # as="fetch" with crossorigin: the same mode and credentials as i18n.js's
                # fetch(), or the browser would not use the preloaded answer
                links.append(self._link("preload", prefix, CATALOG, ' as="fetch" crossorigin'))
        pinned = _STATIC_REF.sub(rf"\g<1>\g<2>{self.version}/", html)
        if links and "</head>" in pinned:
            head = "".join(f"{link}\n" for link in _unique(links))
            pinned = pinned.replace("</head>", head + "</head>", 1)
        return pinned

    def _link(self, rel: str, prefix: str, name: str, extra: str = "") -> str:
        return f'<link rel="{rel}" href="{prefix}{self.version}/{name}"{extra}>'


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
