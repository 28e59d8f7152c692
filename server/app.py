"""The reference server: a thin Starlette layer over :class:`~server.service.Service`.

Every bad input gets a 4xx answer ``{"error": "<code>", "detail": "<sentence>"}``, never a
500. Nothing is logged per request (no access log): no invitation code, token, address or
time is written anywhere for a cast.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
import shutil
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC
from pathlib import Path
from typing import Any

import psycopg
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from anonballot.codes import format_code
from anonballot.district import District
from anonballot.encoding import (
    b64u_decode,
    b64u_encode,
    check_label,
    jcs,
    parse_json,
    parse_time,
)
from anonballot.engine import Round
from anonballot.errors import AnonBallotError, InputError, NotFound, StateError
from anonballot.manifest import RESTRICTED, RoundConfig, Window
from anonballot.plans import ProgressUpdate
from anonballot.record import write_record

from .batcher import CastBatcher, Issuer, stop_signers_at_shutdown
from .booth import booth_pins, booth_routes, unpinned
from .cosigner import Cosigner
from .errors import AuthError, Restricted, TooLarge, http_status, is_storage_full, one_line
from .openapi import openapi_document
from .plan_pages import plan_page_routes
from .plans import PlanDesk
from .reports import report_routes
from .roster import RosterEntry, parse_roster
from .service import Service
from .tiles import TileCache, TileFolder, log_routes

__all__ = ["MAX_BODY", "bearer", "create_app", "is_restricted"]

MAX_BODY = 256 * 1024
"""Largest request body accepted (a leaf is at most 65,535 bytes, protocol section 6.3; a
larger body is refused before it is read, a leaf above the cap once read)."""
MAX_ADMIN_BODY = 32 * 1024 * 1024
"""Admin uploads (a roster of a whole city) may be larger."""
MAX_LEAVES = 10_000
"""Most leaves one ``GET .../leaves`` answers with."""

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


def error(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status)


def with_security_headers(
    path: str, headers: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """``headers`` and the security headers they lack; under ``/api/`` no caching either."""
    out = list(headers)
    present = {k.lower() for k, _ in out}
    for name, value in SECURITY_HEADERS.items():
        if name.encode() not in present:
            out.append((name.encode(), value.encode()))
    if path.startswith("/api/") and b"cache-control" not in present:
        out.append((b"cache-control", b"no-store"))
    return out


class SecurityHeaders:
    """Security headers on every answer; API answers are never cached.

    The answers of the last resort (an unexpected error's 500, made outside every
    middleware) get them from :func:`server_error`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = with_security_headers(
                    scope["path"], list(message.get("headers", []))
                )
            await send(message)

        await self.app(scope, receive, send_with_headers)


_UINT = re.compile(r"[0-9]{1,18}")
"""A non-negative integer in ASCII digits (``str.isdigit`` also takes other scripts' digits)."""


Handler = Callable[[Request], Awaitable[Response]]


def guarded(handler: Handler) -> Handler:
    """Map library errors to their status and JSON body; anything else becomes a clean 500."""

    async def wrapper(request: Request) -> Response:
        try:
            return await handler(request)
        except AnonBallotError as exc:
            return error(http_status(exc), exc.code, exc.detail)

    wrapper.__name__ = handler.__name__
    wrapper.__doc__ = handler.__doc__
    return wrapper


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and not (declared.isascii() and declared.isdigit()):
        raise InputError("Content-Length: expected a non-negative integer", code="bad_request")
    if declared is not None and int(declared) > limit:
        raise TooLarge(f"the request body is larger than {limit} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"the request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int = MAX_BODY) -> Any:
    body = await read_body(request, limit)
    try:
        return parse_json(body)
    except AnonBallotError as exc:
        raise InputError(f"the body is not valid JSON: {exc.detail}", code="bad_json") from exc


def fields(value: Any, **types: type) -> dict[str, Any]:
    """Require a JSON object with exactly these members, of these types."""
    if not isinstance(value, dict):
        raise InputError("expected a JSON object", code="bad_request")
    missing = sorted(set(types) - set(value))
    extra = sorted(set(value) - set(types))
    if missing:
        raise InputError(f"missing member(s): {', '.join(missing)}", code="bad_request")
    if extra:
        raise InputError(f"unexpected member(s): {', '.join(extra)}", code="bad_request")
    for name, kind in types.items():
        if not isinstance(value[name], kind) or isinstance(value[name], bool) is not (kind is bool):
            raise InputError(f"{name}: expected {kind.__name__}", code="bad_request")
    return value


def query_ints(
    request: Request, names: Sequence[str], valid: Callable[..., bool], expected: str
) -> tuple[int, ...]:
    """The integer query parameters ``names``, in order, if ``valid(*values)``.

    Every range a handler reads is checked here: a parameter that is missing or not a
    non-negative integer is ``400 bad_request``; integers that ``valid`` refuses are
    ``400 bad_range``, with ``expected`` as the detail.
    """
    values = []
    for name in names:
        raw = request.query_params.get(name)
        if raw is None or not _UINT.fullmatch(raw):
            raise InputError(
                f"query parameter {name}: expected a non-negative integer", code="bad_request"
            )
        values.append(int(raw))
    if not valid(*values):
        raise InputError(f"expected {expected}", code="bad_range")
    return tuple(values)


def jcs_response(value: Any) -> Response:
    return Response(jcs(value), media_type="application/json")


class Api:
    """The handlers, bound to one service."""

    def __init__(
        self, service: Service, tiles: TileFolder | None = None, cosigner: Cosigner | None = None
    ) -> None:
        self.service = service
        self.tiles = tiles
        self.cosigner = cosigner
        self.batchers: dict[str, CastBatcher] = {}
        self.issuers: dict[str, Issuer] = {}
        self.issue_lock = asyncio.Lock()
        self.desk = PlanDesk(service)

    # -- helpers -------------------------------------------------------------------------------

    def engine(self, request: Request) -> Round:
        return self.service.round(request.path_params["round_id"])

    def require_admin(self, request: Request) -> None:
        token = bearer(request)
        if token is None:
            raise AuthError("this needs the admin token (Authorization: Bearer ...)")
        if not self.service.check_admin(token):
            raise AuthError("the admin token is wrong")

    def require_reader(self, request: Request, engine: Round) -> None:
        """A restricted round's confidential part (protocol section 4.2) needs an access
        token or the admin token; a public round's is everyone's."""
        if not is_restricted(engine):
            return
        token = bearer(request)
        if token is None:
            raise Restricted(
                "the results of this round are restricted: they need an access token "
                "(Authorization: Bearer ...)"
            )
        if not self.service.check_reader(token):
            raise Restricted("this token does not give access to the results of this round")

    def document(self, engine: Round, name: str) -> Response:
        data = engine.store.get_document(name)
        if data is None:
            raise NotFound(f"the round has no {name} yet", code=f"no_{name}")
        return Response(data, media_type="application/json")

    # -- public API ----------------------------------------------------------------------------

    async def rounds(self, request: Request) -> Response:
        out = []
        for round_id, state in self.service.round_ids():
            mid = self.service.round(round_id).mid if state != "draft" else None
            out.append({"round_id": round_id, "mid": mid, "state": state})
        return JSONResponse(out)

    async def status(self, request: Request) -> Response:
        """A round's state and the server's time now: the windows are the server's to judge
        (its clock decides a token request or a cast), so the booth reads the time here
        rather than trust the device's clock, which may be minutes or days off."""
        round_id = request.path_params["round_id"]
        engine = self.service.round(round_id)
        state = engine.state
        now = self.service.clock().astimezone(UTC).replace(microsecond=0)
        return JSONResponse(
            {
                "round_id": round_id,
                "mid": engine.mid if state != "draft" else None,
                "state": state,
                "now": now.isoformat().replace("+00:00", "Z"),
            }
        )

    async def manifest(self, request: Request) -> Response:
        engine = self.engine(request)
        return jcs_response(engine.signed_manifest())

    async def ward(self, request: Request) -> Response:
        body = fields(await read_json(request), code=str)
        engine = self.engine(request)
        return JSONResponse({"ward": engine.ward_for_code(body["code"])})

    async def tokens(self, request: Request) -> Response:
        body = fields(await read_json(request), code=str, blinded=str)
        engine = self.engine(request)
        blinded = b64u_decode(body["blinded"], what="blinded")
        # Checked, signed in a worker process and committed in a group with other requests
        # (server/batcher.py): answered only once the issuance is on disk.
        issuer = self.issuers.get(request.path_params["round_id"])
        if issuer is None or issuer.engine is not engine:
            issuer = self.issuers[request.path_params["round_id"]] = Issuer(engine)
        blind_sig = await issuer.issue(body["code"], blinded)
        return JSONResponse({"blind_sig": b64u_encode(blind_sig)})

    async def ballots(self, request: Request) -> Response:
        leaf = await read_body(request)
        engine = self.engine(request)
        # Checked and committed in groups with other requests (server/batcher.py): answered
        # only once the leaf is on disk with the checkpoint that covers it.
        round_id = request.path_params["round_id"]
        batcher = self.batchers.get(round_id)
        if batcher is None or batcher.engine is not engine:
            batcher = self.batchers[round_id] = CastBatcher(engine)
        receipt = await batcher.cast(leaf)
        self.board_changed(round_id)
        return JSONResponse(receipt.to_json())

    def board_changed(self, round_id: str, *, urgent: bool = False) -> None:
        """A commit made a new checkpoint: the tiles folder's writer and the witnesses'
        cosigner follow in threads of their own (server/tiles.py, server/cosigner.py), so the
        answer does not wait for them. ``urgent``: the round opened or closed."""
        if self.tiles is not None:
            self.tiles.notify(round_id)
        if self.cosigner is not None:
            self.cosigner.notify(round_id, urgent=urgent)

    async def checkpoint(self, request: Request) -> Response:
        return Response(self.engine(request).checkpoint(), media_type="text/plain; charset=utf-8")

    async def leaves(self, request: Request) -> Response:
        engine = self.engine(request)
        size = await run_in_threadpool(engine.board_size)
        start, end = query_ints(
            request,
            ("start", "end"),
            lambda start, end: start <= end <= min(size, start + MAX_LEAVES),
            f"start <= end <= {size} (the board's size), at most {MAX_LEAVES} leaves",
        )
        lines = [leaf + b"\n" for leaf in engine.leaves(start, end)]
        return Response(b"".join(lines), media_type="application/jsonl")

    async def inclusion(self, request: Request) -> Response:
        engine = self.engine(request)
        board = await run_in_threadpool(engine.board_size)
        index, size = query_ints(
            request,
            ("index", "size"),
            lambda index, size: index < size <= board,
            f"index < size <= {board} (the board's size)",
        )
        proof = await run_in_threadpool(engine.inclusion_proof, index, size)
        return JSONResponse({"proof": [b64u_encode(p) for p in proof]})

    async def consistency(self, request: Request) -> Response:
        engine = self.engine(request)
        board = await run_in_threadpool(engine.board_size)
        old, new = query_ints(
            request,
            ("old", "new"),
            lambda old, new: old <= new <= board,
            f"old <= new <= {board} (the board's size)",
        )
        # every tree extends the empty one: the proof from size 0 is empty
        proof = [] if old == 0 else await run_in_threadpool(engine.consistency_proof, old, new)
        return JSONResponse({"proof": [b64u_encode(p) for p in proof]})

    async def close(self, request: Request) -> Response:
        return self.document(self.engine(request), "close")

    async def issuance(self, request: Request) -> Response:
        return self.document(self.engine(request), "issuance")

    async def results(self, request: Request) -> Response:
        engine = self.engine(request)
        self.require_reader(request, engine)
        return self.document(engine, "results")

    async def releases(self, request: Request) -> Response:
        engine = self.engine(request)
        self.require_reader(request, engine)
        return JSONResponse(engine.releases())

    async def turnout(self, request: Request) -> Response:
        """Eligible, issued and cast per ward, for everyone once the round has closed.

        While the round runs this is the organizer's only (the admin operation): live counts
        watched over time tell who has just collected a token in a small ward. After the
        close they follow from the public close statement, ledger and board.
        """
        engine = self.engine(request)
        if engine.state not in ("closed", "tallied"):
            raise StateError(
                "turnout is public once the round is closed; while it runs, it is the organizer's",
                code="wrong_state",
            )
        return JSONResponse(await run_in_threadpool(engine.turnout))

    async def plans(self, request: Request) -> Response:
        """``plans.json``: the round's accepted plans and their progress, signed."""
        engine = self.engine(request)
        self.require_reader(request, engine)
        export = await run_in_threadpool(self.desk.export, request.path_params["round_id"])
        return jcs_response(export.to_json())

    async def add_release(self, request: Request) -> Response:
        engine = self.engine(request)
        release = await read_json(request)
        trustee = await run_in_threadpool(engine.add_release, release)
        return JSONResponse({"trustee": trustee, "accepted": True})

    async def record(self, request: Request) -> Response:
        engine = self.engine(request)
        part = request.query_params.get("part", "full")
        if part not in ("full", "public"):
            raise InputError("part: expected full or public", code="bad_request")
        public_only = part == "public"
        if public_only:
            if engine.state not in ("closed", "tallied"):
                raise StateError(
                    "the public part of the record exists once the round is closed",
                    code="wrong_state",
                )
        else:
            self.require_reader(request, engine)
            if engine.state != "tallied":
                raise StateError("the record exists once the round is tallied", code="not_tallied")
        path = await run_in_threadpool(_record_zip, engine, public_only)
        name = request.path_params["round_id"] + ("-public" if public_only else "")
        # streamed from a temporary file, removed once sent: a national round's record is
        # gigabytes, never held in memory
        return FileResponse(
            path,
            media_type="application/zip",
            headers={"content-disposition": f'attachment; filename="{name}.zip"'},
            background=BackgroundTask(shutil.rmtree, path.parent, ignore_errors=True),
        )

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi_document())

    # -- admin API -----------------------------------------------------------------------------

    async def admin_district(self, request: Request) -> Response:
        self.require_admin(request)
        return JSONResponse(self.service.district().to_json())

    async def admin_set_district(self, request: Request) -> Response:
        self.require_admin(request)
        district = District.from_json(await read_json(request, MAX_ADMIN_BODY))
        self.service.set_district(district)
        return JSONResponse({"wards": len(district.wards), "subjects": len(district.subjects)})

    async def admin_roster(self, request: Request) -> Response:
        self.require_admin(request)
        return JSONResponse(self.service.roster_counts())

    async def admin_import_roster(self, request: Request) -> Response:
        self.require_admin(request)
        raw = await read_json(request, MAX_ADMIN_BODY)
        append = raw.pop("append", False) if isinstance(raw, dict) else False
        if not isinstance(append, bool):
            raise InputError("append: expected true or false", code="bad_request")
        body = fields(raw, rows=list, replace=bool)
        table = [["ward", "name", "position"]] + [
            [r.get("ward"), r.get("name"), r.get("position", "")] if isinstance(r, dict) else [r]
            for r in body["rows"]
        ]
        entries: list[RosterEntry] = parse_roster(table, self.service.district().wards)
        count = self.service.import_roster(entries, replace=body["replace"], append=append)
        return JSONResponse({"imported": count, "wards": self.service.roster_counts()})

    async def admin_create_round(self, request: Request) -> Response:
        self.require_admin(request)
        config = RoundConfig.from_json(await read_json(request, MAX_ADMIN_BODY))
        engine = await run_in_threadpool(self.service.create_round, config)
        # "log": what the round's witnesses follow its board by (witness serve --log)
        return JSONResponse(
            {"round_id": config.round_id, "state": "draft", "log": engine.witness_log_line()},
            status_code=201,
        )

    async def admin_clone_round(self, request: Request) -> Response:
        self.require_admin(request)
        body = fields(
            await read_json(request), round_id=str, title=dict, issuance=dict, voting=dict
        )
        engine = await run_in_threadpool(
            self.service.clone_round,
            request.path_params["round_id"],
            body["round_id"],
            title=check_label(body["title"], "title"),
            issuance=Window.from_json(body["issuance"], "issuance"),
            voting=Window.from_json(body["voting"], "voting"),
        )
        created = {"round_id": engine.config.round_id, "state": "draft"}
        return JSONResponse(created | {"log": engine.witness_log_line()}, status_code=201)

    async def admin_invitations(self, request: Request) -> Response:
        self.require_admin(request)
        invitations = self.service.make_invitations(request.path_params["round_id"])
        return JSONResponse(
            [{"ward": i.ward, "participant": i.participant, "code": format_code(i.code)}
             for i in invitations]
        )  # fmt: skip

    async def _step(self, request: Request, step: Callable[[Round], object]) -> Response:
        """One step of the round's life (protocol section 7): admin only, state after it."""
        self.require_admin(request)
        engine = self.engine(request)
        await run_in_threadpool(step, engine)
        # open and close sign checkpoints
        self.board_changed(request.path_params["round_id"], urgent=True)
        return JSONResponse({"round_id": request.path_params["round_id"], "state": engine.state})

    async def admin_open(self, request: Request) -> Response:
        # the booth's files as served now are pinned in the manifest (M.booth)
        pins = booth_pins(request.path_params["round_id"])
        return await self._step(request, lambda engine: engine.open(booth=pins))

    async def admin_close(self, request: Request) -> Response:
        """Close the round; before its voting window ends only with ``{"force": true}``,
        and the refusal says how many issued tokens are not cast yet."""
        self.require_admin(request)
        engine = self.engine(request)
        body = await read_body(request, MAX_BODY)
        force = fields(parse_json(body), force=bool)["force"] if body.strip() else False
        if not force and engine.state == "open":
            closes = parse_time(engine.manifest.voting.closes)
            if self.service.clock() < closes:
                counts = await run_in_threadpool(engine.store.issuance_counts)
                issued = sum(counts.values())
                waiting = max(0, issued - engine.store.leaf_count())
                raise StateError(
                    f"the voting window closes at {engine.manifest.voting.closes}; {waiting} "
                    "participant(s) took a token and have not cast their ballot yet: close "
                    'before then only with {"force": true} (anonballot round close --force)',
                    code="voting_not_over",
                )
        return await self._step(request, Round.close)

    async def admin_tally(self, request: Request) -> Response:
        return await self._step(request, Round.tally)

    async def admin_turnout(self, request: Request) -> Response:
        self.require_admin(request)
        engine = self.engine(request)
        return JSONResponse(await run_in_threadpool(engine.turnout))

    async def admin_round_config(self, request: Request) -> Response:
        """The round's configuration file (RoundConfig JSON), in any state."""
        self.require_admin(request)
        engine = self.engine(request)
        config = await run_in_threadpool(lambda: engine.config)
        return JSONResponse(config.to_json())

    async def admin_round_log(self, request: Request) -> Response:
        """The line the round's witnesses follow its board by (``witness serve --log``)."""
        self.require_admin(request)
        engine = self.engine(request)
        return JSONResponse({"log": await run_in_threadpool(engine.witness_log_line)})

    # -- access tokens, personal links, plans (admin) -------------------------------------------

    async def admin_grant_access(self, request: Request) -> Response:
        self.require_admin(request)
        body = fields(await read_json(request), name=str)
        token_id, token = await run_in_threadpool(self.service.grant_access, body["name"])
        return JSONResponse({"id": token_id, "token": token}, status_code=201)

    async def admin_access(self, request: Request) -> Response:
        self.require_admin(request)
        tokens = await run_in_threadpool(self.service.access_tokens)
        return JSONResponse([{"id": i, "name": name} for i, name in tokens])

    async def admin_revoke_access(self, request: Request) -> Response:
        self.require_admin(request)
        raw = request.path_params["token_id"]
        if not _UINT.fullmatch(raw):
            raise NotFound(f"there is no access token {raw!r}", code="unknown_access_token")
        await run_in_threadpool(self.service.revoke_access, int(raw))
        return JSONResponse({"id": int(raw), "revoked": True})

    async def admin_leaders(self, request: Request) -> Response:
        """A fresh personal link key for each person rated; the keys made before stop working."""
        self.require_admin(request)
        round_id = request.path_params["round_id"]
        keys = await run_in_threadpool(self.service.make_leader_keys, round_id)
        manifest = self.engine(request).manifest
        subjects = {s.id: s for s in manifest.subjects}
        return JSONResponse(
            [{"subject": sid, "ward": subjects[sid].ward, "role": subjects[sid].role,
              "key": key} for sid, key in keys]
        )  # fmt: skip

    async def admin_plans(self, request: Request) -> Response:
        self.require_admin(request)
        views = await run_in_threadpool(self.desk.views, request.path_params["round_id"])
        return JSONResponse(
            [{"subject": v.subject, "state": v.state, "version": v.version} for v in views]
        )

    async def admin_plan(self, request: Request) -> Response:
        self.require_admin(request)
        p = request.path_params
        view = await run_in_threadpool(self.desk.view, p["round_id"], p["subject"])
        return JSONResponse(view.to_json())

    async def admin_accept_plan(self, request: Request) -> Response:
        self.require_admin(request)
        p = request.path_params
        view = await run_in_threadpool(self.desk.accept, p["round_id"], p["subject"])
        return JSONResponse(view.to_json())

    async def admin_return_plan(self, request: Request) -> Response:
        self.require_admin(request)
        body = fields(await read_json(request), remarks=str)
        p = request.path_params
        view = await run_in_threadpool(
            self.desk.return_plan, p["round_id"], p["subject"], body["remarks"]
        )
        return JSONResponse(view.to_json())

    async def admin_plan_progress(self, request: Request) -> Response:
        self.require_admin(request)
        update = ProgressUpdate.from_json(await read_json(request), "progress")
        p = request.path_params
        view = await run_in_threadpool(
            self.desk.record_progress, p["round_id"], p["subject"], update
        )
        return JSONResponse(view.to_json())


def bearer(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, None when there is none.

    Never logged, never echoed in an answer."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not hmac.compare_digest(scheme.lower().encode(), b"bearer") or not token.strip():
        return None
    return token.strip()


def is_restricted(engine: Round) -> bool:
    """Whether the round's results are restricted (protocol section 4.2): the signed
    manifest says so; a draft has only its configuration (absent means public)."""
    if engine.state == "draft":
        return engine.config.results_access == RESTRICTED
    return engine.manifest.restricted


def _record_zip(engine: Round, public_only: bool = False) -> Path:
    """The round's record (or its public part) written to a new temporary folder: the
    caller sends the file and removes the folder."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="anonballot-record-"))
    try:
        path = folder / "record.zip"
        write_record(
            path,
            engine.config.round_id,
            engine.record_files(public_only=public_only),
            engine.board_leaves(),
            public_only=public_only,
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return path


_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}
"""The error code of Starlette's own refusals (HTTPException) by status."""


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no route, a method the path does not take, a malformed
    form) as every other error: JSON ``{"error", "detail"}``."""
    status = exc.status_code if isinstance(exc, HTTPException) else 400
    if status == 404:
        return error(404, "not_found", f"there is nothing at {request.url.path}")
    if status == 405:
        response = error(405, "method_not_allowed", f"{request.method} is not allowed here")
        # RFC 9110 15.5.6; under /static (a mount, not routes) the files take GET and HEAD
        response.headers["allow"] = ", ".join(allowed_methods(request) or ["GET", "HEAD"])
        return response
    detail = exc.detail if isinstance(exc, HTTPException) else "the request is malformed"
    code = _HTTP_CODES.get(status, "bad_request" if status < 500 else "internal_error")
    return error(status, code, detail)


def allowed_methods(request: Request) -> list[str]:
    """The methods some route takes at this path: a path may have one route per method."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches(request.scope)
            if match is not Match.NONE:
                methods |= route.methods
    return sorted(methods)


async def storage_error(request: Request, exc: Exception) -> Response:
    """A write the disk refused: 503 ``storage_full``, one line in the log and no traceback
    (the write was rolled back; the same request succeeds once there is room). A PostgreSQL
    database out of reach: 503 ``storage_unavailable``, likewise. Any other storage or I/O
    error goes on to :func:`server_error`."""
    if is_storage_full(exc):
        logger.warning("a write was refused: the disk is full (%s)", exc)
        detail = "the server's disk is full: the request was not carried out"
        return error(503, "storage_full", detail)
    if isinstance(exc, psycopg.OperationalError):  # the connection, not the statement
        logger.warning("the database cannot be reached: %s", one_line(exc))
        detail = "the server cannot reach its database: the request was not carried out"
        return error(503, "storage_unavailable", detail)
    raise exc


async def server_error(request: Request, exc: Exception) -> Response:
    # Made by Starlette's outermost middleware, outside SecurityHeaders: its headers here.
    response = error(500, "internal_error", "the server failed; the request was not carried out")
    for name, value in with_security_headers(request.url.path, []):
        response.headers.append(name.decode(), value.decode())
    return response


def create_app(service: Service, *, tiles_dir: str | Path | None = None) -> Starlette:
    """The application over ``service``; with ``tiles_dir``, every round's log is also
    written to that folder as it grows (``anonballot serve --tiles-dir``)."""
    folder = TileFolder(service, tiles_dir) if tiles_dir is not None else None
    cosigner = Cosigner(service, on_cosigned=folder.notify if folder is not None else None)
    api = Api(service, folder, cosigner)
    r = "/api/rounds/{round_id}"
    a = "/api/admin/rounds/{round_id}"
    p = a + "/plans/{subject}"
    routes: list[BaseRoute] = [
        Route("/api/rounds", guarded(api.rounds)),
        Route(f"{r}/status", guarded(api.status)),
        Route(f"{r}/manifest", guarded(api.manifest)),
        Route(f"{r}/ward", guarded(api.ward), methods=["POST"]),
        Route(f"{r}/tokens", guarded(api.tokens), methods=["POST"]),
        Route(f"{r}/ballots", guarded(api.ballots), methods=["POST"]),
        Route(f"{r}/checkpoint", guarded(api.checkpoint)),
        Route(f"{r}/leaves", guarded(api.leaves)),
        Route(f"{r}/proof/inclusion", guarded(api.inclusion)),
        Route(f"{r}/proof/consistency", guarded(api.consistency)),
        Route(f"{r}/close", guarded(api.close)),
        Route(f"{r}/issuance", guarded(api.issuance)),
        Route(f"{r}/releases", guarded(api.releases), methods=["GET"]),
        Route(f"{r}/releases", guarded(api.add_release), methods=["POST"]),
        Route(f"{r}/results", guarded(api.results)),
        Route(f"{r}/record", guarded(api.record)),
        Route(f"{r}/turnout", guarded(api.turnout)),
        Route(f"{r}/plans", guarded(api.plans)),
        Route("/api/openapi.json", guarded(api.openapi)),
        Route("/api/admin/district", guarded(api.admin_district), methods=["GET"]),
        Route("/api/admin/district", guarded(api.admin_set_district), methods=["PUT"]),
        Route("/api/admin/roster", guarded(api.admin_roster), methods=["GET"]),
        Route("/api/admin/roster", guarded(api.admin_import_roster), methods=["POST"]),
        Route("/api/admin/rounds", guarded(api.admin_create_round), methods=["POST"]),
        Route(f"{a}/clone", guarded(api.admin_clone_round), methods=["POST"]),
        Route(f"{a}/invitations", guarded(api.admin_invitations), methods=["POST"]),
        Route(f"{a}/turnout", guarded(api.admin_turnout)),
        Route(f"{a}/config", guarded(api.admin_round_config)),
        Route(f"{a}/log", guarded(api.admin_round_log)),
        Route(f"{a}/open", guarded(api.admin_open), methods=["POST"]),
        Route(f"{a}/close", guarded(api.admin_close), methods=["POST"]),
        Route(f"{a}/tally", guarded(api.admin_tally), methods=["POST"]),
        Route("/api/admin/access", guarded(api.admin_grant_access), methods=["POST"]),
        Route("/api/admin/access", guarded(api.admin_access), methods=["GET"]),
        Route("/api/admin/access/{token_id}", guarded(api.admin_revoke_access), methods=["DELETE"]),
        Route(f"{a}/leaders", guarded(api.admin_leaders), methods=["POST"]),
        Route(f"{a}/plans", guarded(api.admin_plans), methods=["GET"]),
        Route(p, guarded(api.admin_plan), methods=["GET"]),
        Route(f"{p}/accept", guarded(api.admin_accept_plan), methods=["POST"]),
        Route(f"{p}/return", guarded(api.admin_return_plan), methods=["POST"]),
        Route(f"{p}/progress", guarded(api.admin_plan_progress), methods=["POST"]),
    ]  # fmt: skip
    routes += log_routes(service, TileCache())  # /log/{round_id}/: c2sp.org/tlog-tiles
    routes += report_routes(service)  # /results/{round_id}, /turnout/{round_id}
    routes += plan_page_routes(service)  # /leader/{round_id}, /plans/{round_id}
    routes += booth_routes()  # /, /r/{round_id}, /verify and /static
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={
            HTTPException: http_error,
            sqlite3.OperationalError: storage_error,
            psycopg.OperationalError: storage_error,  # DiskFull, a lost connection, PoolTimeout
            OSError: storage_error,
            500: server_error,
        },
        lifespan=_lifespan(service, folder, cosigner),
    )
    # No redirect from "/path/" to "/path": Starlette builds it as an absolute URL from the
    # request's Host header, which a client chooses (a cache or a proxy that keeps it would
    # send others to that host). Every link and client uses the exact paths: a 404 is safe.
    app.router.redirect_slashes = False
    app.state.tiles = folder  # the folder's writer (None without tiles_dir): tests wait on it
    app.state.cosigner = cosigner
    return app


logger = logging.getLogger(__name__)
TEND_INTERVAL = 30.0
"""Seconds between two passes of :meth:`Service.forget_issuance_answers` while serving."""


def _warn_of_unpinned_booths(service: Service) -> None:
    """Say, at start, which open rounds' pinned booth files (``M.booth``) this server no
    longer serves as pinned: an upgrade in the middle of a round, which monitors report."""
    for round_id, state in service.round_ids():
        if state != "open":
            continue
        pinned = service.round(round_id).manifest.booth
        changed = unpinned(round_id, pinned) if pinned is not None else []
        if changed:
            logger.warning(
                "round %s: %d booth file(s) served differ from those pinned when it opened "
                "(first: %s); monitors of the round will report it",
                round_id,
                len(changed),
                changed[0],
            )


def _lifespan(
    service: Service, tiles: TileFolder | None = None, cosigner: Cosigner | None = None
) -> Callable[[object], contextlib.AbstractAsyncContextManager[None]]:
    """While the server runs: from its start, every :data:`TEND_INTERVAL` seconds, forget the
    token requests' answers of every round whose issuance window has ended, so that a
    copy of the data folder taken after it keeps nothing of them or of their order; and
    the tiles folder's writer, which first catches up with the database. At shutdown:
    those, and the blind-signing worker processes stop."""

    async def tend() -> None:
        while True:
            try:
                await asyncio.to_thread(service.forget_issuance_answers)
            except Exception as exc:  # tried again at the next pass: it never stops the server
                if is_storage_full(exc):
                    logger.warning("forgetting the token requests' answers: the disk is full")
                else:
                    logger.exception("forgetting the token requests' answers failed")
            await asyncio.sleep(TEND_INTERVAL)

    @contextlib.asynccontextmanager
    async def lifespan(app: object) -> AsyncIterator[None]:
        await asyncio.to_thread(_warn_of_unpinned_booths, service)
        if tiles is not None:
            await asyncio.to_thread(tiles.start)
        if cosigner is not None:
            await asyncio.to_thread(cosigner.start)
        task = asyncio.create_task(tend())
        try:
            async with stop_signers_at_shutdown(app):
                yield
        finally:
            if tiles is not None:
                await asyncio.to_thread(tiles.stop)
            if cosigner is not None:
                await asyncio.to_thread(cosigner.stop)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return lifespan
