"""The OpenAPI 3.1 description of the server's JSON API (``GET /api/openapi.json``)."""

from __future__ import annotations

from typing import Any

__all__ = ["ERROR_CODES", "openapi_document"]

ERROR_CODES: dict[str, str] = {
    "bad_json": "the body is not valid JSON (strict: UTF-8, no duplicate keys, integers only)",
    "bad_request": "a member is missing, unexpected or of the wrong type",
    "bad_range": "a query parameter is out of range",
    "too_large": "the request body is larger than allowed",
    "not_found": "no such path",
    "method_not_allowed": "the path does not take this method",
    "unknown_round": "there is no round with this id",
    "round_not_open": "the round is not open (a draft, or closed)",
    "wrong_state": "the round is not in a state that allows this",
    "outside_window": "outside the issuance or voting window",
    "unknown_ward": "the ward is not in this round",
    "bad_code": "the invitation code is malformed",
    "unknown_code": "the invitation code is not on the roster",
    "code_used": "the invitation code already received a token for another request",
    "bad_encoding": "a value is not canonical JSON or base64url, or has the wrong length",
    "bad_leaf": "the leaf is malformed (structure, sizes, canonical form)",
    "wrong_round": "the leaf or release is for another round",
    "bad_token": "the token does not verify under the ward's issuer key",
    "bad_voter_signature": "voter_sig does not verify",
    "token_spent": "the token was already spent on another ballot",
    "bad_release": "the release is malformed",
    "bad_signature": "a signature does not verify",
    "bad_release_key": "the released key does not derive the manifest's hpke_key",
    "not_enough_releases": "fewer valid releases than the threshold",
    "no_close": "the round is not closed yet",
    "no_issuance": "the round is not closed yet",
    "no_results": "the round is not tallied yet",
    "not_tallied": "the record exists once the round is tallied",
    "unauthorized": "the admin token is missing or wrong",
    "bad_roster": "the roster has bad rows (every one listed); nothing was imported",
    "bad_manifest": "the configuration breaks a rule of the protocol",
    "invitations_exist": "the round already has invitation codes",
    "round_exists": "a round with this id exists",
    "invalid_input": "the input is malformed",
    "no_district": "no district is set up yet",
    "empty_roster": "the roster has nobody in this round's wards",
    "unknown_trustee": "the trustee is not in this round",
    "missing_key": "the round lacks one of its keys (a damaged data directory)",
    "bad_receipt": "the receipt is malformed",
    "restricted": "a restricted round's releases, results, full record or plans need an access token or the admin token",
    "unknown_access_token": "there is no access token with this id",
    "unknown_subject": "the person rated is not in this round",
    "unknown_item": "the plan has no item with this id",
    "plan_submitted": "the plan is submitted for review: the person rated cannot change it now",
    "plan_accepted": "the plan is accepted (frozen and signed)",
    "plan_not_submitted": "the plan is not submitted: there is nothing to accept or return",
    "plan_not_accepted": "progress is recorded on an accepted plan only",
    "plan_changed": "the plan changed meanwhile (another change won)",
    "empty_plan": "a plan needs at least one item",
    "roster_exists": "the roster already has people in these wards: import with append or replace",
    "duplicate_rows": "rows already on the roster (the same file imported twice?)",
    "voting_not_over": "the voting window has not ended: closing now needs force",
    "bad_blinded": "the blinded message is not one for the ward's key (length, value, or one of 0, 1 and n - 1); the invitation code is not spent",
    "storage_full": "the server's disk is full: the request was not carried out (try again later)",
    "storage_unavailable": "the server cannot reach its database: the request was not carried out (try again in a moment)",
    "signing_fault": "the server's signature failed its own check (a fault of its machine): nothing was issued (try again)",
    "leaf_too_large": "the leaf is larger than 65,535 bytes, the most a leaf may have",
    "bad_tile_path": "the path under /log/{round_id}/ is not a tile path of c2sp.org/tlog-tiles",
    "tile_not_found": "the tile is beyond the tree of the latest checkpoint, or wider than what exists",
    "entry_too_large": "a leaf of the entry bundle is larger than an entry can be (65,535 bytes; a board made before the cap)",
}  # fmt: skip

_ERROR = {"$ref": "#/components/schemas/Error"}


def _answer(
    description: str, schema: dict[str, Any] | None = None, media: str = "application/json"
) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if schema is not None:
        answer["content"] = {media: {"schema": schema}}
    return answer


def _op(summary: str, ok: dict[str, Any], *, body: dict[str, Any] | None = None,
        errors: tuple[int, ...] = (400, 404), admin: bool = False,
        params: list[dict[str, Any]] | None = None, status: str = "200",
        reader: bool = False) -> dict[str, Any]:  # fmt: skip
    op: dict[str, Any] = {"summary": summary, "responses": {status: ok}}
    for error_status in errors:
        op["responses"][str(error_status)] = _answer("error", _ERROR)
    op["responses"]["503"] = _answer(
        "the server's disk is full (storage_full) or its database is away (storage_unavailable)",
        _ERROR,
    )
    if body is not None:
        op["responses"]["413"] = _answer("the body is too large", _ERROR)
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if admin:
        op["security"] = [{"admin": []}]
        op["responses"]["401"] = _answer("missing or wrong admin token", _ERROR)
    if reader:
        op["security"] = [{}, {"access": []}, {"admin": []}]
    if params:
        op["parameters"] = params
    return op


def _obj(**props: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(props),
        "properties": props,
        "additionalProperties": False,
    }


def _query(*names: str) -> list[dict[str, Any]]:
    return [
        {"name": n, "in": "query", "required": True, "schema": {"type": "integer", "minimum": 0}}
        for n in names
    ]


STR = {"type": "string"}
B64U = {"type": "string", "pattern": "^[A-Za-z0-9_-]*$"}
ANY_OBJ: dict[str, Any] = {"type": "object"}


def openapi_document() -> dict[str, Any]:
    r = "/api/rounds/{round_id}"
    round_param = {"name": "round_id", "in": "path", "required": True, "schema": STR}
    paths: dict[str, dict[str, Any]] = {
        "/api/rounds": {"get": _op("List the rounds", _answer("rounds", {"type": "array", "items": _obj(round_id=STR, mid={"type": ["string", "null"]}, state=STR)}), errors=())},
        f"{r}/status": {"get": _op("The round's state and the server's time now (its clock judges the windows)", _answer("status", _obj(round_id=STR, mid={"type": ["string", "null"]}, state=STR, now=STR)), errors=(404,))},
        f"{r}/manifest": {"get": _op("The signed manifest", _answer("signed manifest", ANY_OBJ))},
        f"{r}/ward": {"post": _op("The ward of an invitation code", _answer("ward", _obj(ward=STR)), body=_obj(code=STR))},
        f"{r}/tokens": {"post": _op("Blind-sign a token request (once per code; the same request again gets the same answer)", _answer("blind signature", _obj(blind_sig=B64U)), body=_obj(code=STR, blinded=B64U), errors=(400, 404, 409))},
        f"{r}/ballots": {"post": _op("Cast a leaf (its JCS bytes); the identical leaf again gets the same receipt", _answer("receipt", _obj(round=STR, leaf_index={"type": "integer"}, leaf_hash=B64U, checkpoint=STR, inclusion={"type": "array", "items": B64U})), body=ANY_OBJ, errors=(400, 404, 409))},
        f"{r}/checkpoint": {"get": _op("The latest signed checkpoint (C2SP signed note)", _answer("checkpoint", STR, "text/plain"))},
        f"{r}/leaves": {"get": _op("Leaves [start, end) as JSON lines, exactly their bytes", _answer("leaves", STR, "application/jsonl"), params=_query("start", "end"))},
        f"{r}/proof/inclusion": {"get": _op("An RFC 9162 inclusion proof", _answer("proof", _obj(proof={"type": "array", "items": B64U})), params=_query("index", "size"))},
        f"{r}/proof/consistency": {"get": _op("An RFC 9162 consistency proof", _answer("proof", _obj(proof={"type": "array", "items": B64U})), params=_query("old", "new"))},
        f"{r}/close": {"get": _op("The signed close statement, once closed", _answer("close", ANY_OBJ))},
        f"{r}/issuance": {"get": _op("The issuance ledger, once closed", _answer("ledger", ANY_OBJ))},
        f"{r}/releases": {
            "get": _op("The trustees' releases received so far (a restricted round: access token)", _answer("releases by trustee", ANY_OBJ), errors=(403, 404), reader=True),
            "post": _op("Publish a trustee's signed release (the signature is the authentication)", _answer("accepted", _obj(trustee=STR, accepted={"type": "boolean"})), body=ANY_OBJ, errors=(400, 404, 409)),
        },
        f"{r}/results": {"get": _op("The signed results, once tallied (a restricted round: access token)", _answer("results", ANY_OBJ), errors=(403, 404), reader=True)},
        f"{r}/record": {"get": _op("The round record as a .zip: ?part=full (once tallied; a restricted round: access token) or ?part=public (once closed, everyone)", _answer("record", {"type": "string", "format": "binary"}, "application/zip"), errors=(400, 403, 404, 409), reader=True, params=[{"name": "part", "in": "query", "required": False, "schema": {"type": "string", "enum": ["full", "public"]}}])},
        f"{r}/turnout": {"get": _op("Eligible, issued and cast per ward, once the round is closed", _answer("turnout", ANY_OBJ), errors=(404, 409))},
        f"{r}/plans": {"get": _op("plans.json: the accepted plans and their progress, signed (a restricted round: access token)", _answer("plans", ANY_OBJ), errors=(403, 404, 409), reader=True)},
        "/log/{round_id}/checkpoint": {"get": _op("The latest signed checkpoint, as c2sp.org/tlog-tiles serves it (Cache-Control: no-cache)", _answer("checkpoint", STR, "text/plain"), errors=(404, 409))},
        "/log/{round_id}/tile/{path}": {"get": _op("A hash tile tile/<L>/<N>[.p/<W>] or an entry bundle tile/entries/<N>[.p/<W>] of c2sp.org/tlog-tiles (immutable)", _answer("tile", {"type": "string", "format": "binary"}, "application/octet-stream"), errors=(400, 404, 409), params=[{"name": "path", "in": "path", "required": True, "schema": STR}])},
        "/api/openapi.json": {"get": _op("This description", _answer("OpenAPI 3.1", ANY_OBJ), errors=())},
        "/api/admin/district": {
            "get": _op("The district configuration", _answer("district", ANY_OBJ), admin=True),
            "put": _op("Set the district configuration", _answer("counts", ANY_OBJ), body=ANY_OBJ, admin=True),
        },
        "/api/admin/roster": {
            "get": _op("Roster counts per ward", _answer("counts", ANY_OBJ), admin=True),
            "post": _op("Import roster rows (all or nothing)", _answer("imported", ANY_OBJ), body=_obj(rows={"type": "array"}, replace={"type": "boolean"}), admin=True),
        },
        "/api/admin/rounds": {"post": _op("Create a draft round from a configuration", _answer("created", ANY_OBJ), body=ANY_OBJ, admin=True, errors=(400, 409), status="201")},
        "/api/admin/rounds/{round_id}/clone": {"post": _op("Clone a round with a new title and windows, the district as it is now; a closed round becomes the predecessor", _answer("created", ANY_OBJ), body=_obj(round_id=STR, title=ANY_OBJ, issuance=ANY_OBJ, voting=ANY_OBJ), admin=True, errors=(400, 404, 409), status="201")},
        "/api/admin/rounds/{round_id}/invitations": {"post": _op("Make the invitation codes (shown once)", _answer("invitations", {"type": "array"}), admin=True, errors=(404, 409))},
        "/api/admin/rounds/{round_id}/turnout": {"get": _op("Eligible, issued and cast per ward", _answer("turnout", ANY_OBJ), admin=True)},
        "/api/admin/rounds/{round_id}/config": {"get": _op("The round's configuration (the RoundConfig file), in any state", _answer("config", ANY_OBJ), admin=True)},
        "/api/admin/rounds/{round_id}/log": {"get": _op("The round's log as its witnesses follow it: ORIGIN=VKEY (witness serve --log), in any state", _answer("log", _obj(log=STR)), admin=True)},
        "/api/admin/rounds/{round_id}/open": {"post": _op("Open a draft round: sign the manifest and the empty board's checkpoint", _answer("state", ANY_OBJ), admin=True, errors=(404, 409))},
        "/api/admin/rounds/{round_id}/close": {"post": _op("Close an open round: sign the final checkpoint, the close statement and the issuance ledger", _answer("state", ANY_OBJ), admin=True, errors=(404, 409))},
        "/api/admin/access": {
            "post": _op("Make an access token (shown once)", _answer("token", _obj(id={"type": "integer"}, token=STR)), body=_obj(name=STR), admin=True, errors=(400,), status="201"),
            "get": _op("The access tokens' ids and names", _answer("tokens", {"type": "array", "items": _obj(id={"type": "integer"}, name=STR)}), admin=True, errors=()),
        },
        "/api/admin/access/{token_id}": {"delete": _op("Revoke an access token", _answer("revoked", _obj(id={"type": "integer"}, revoked={"type": "boolean"})), admin=True, errors=(404,), params=[{"name": "token_id", "in": "path", "required": True, "schema": {"type": "integer"}}])},
        "/api/admin/rounds/{round_id}/leaders": {"post": _op("A new personal link key per person rated of a tallied round (shown once; voids the keys made before)", _answer("keys", {"type": "array", "items": _obj(subject=STR, ward=STR, role=STR, key=B64U)}), admin=True, errors=(404, 409))},
        "/api/admin/rounds/{round_id}/plans": {"get": _op("Every person rated's plan state and version", _answer("plans", {"type": "array", "items": _obj(subject=STR, state=STR, version={"type": "integer"})}), admin=True, errors=(404, 409))},
        "/api/admin/rounds/{round_id}/plans/{subject}": {"get": _op("One person rated's plan", _answer("plan", ANY_OBJ), admin=True, errors=(404, 409))},
        "/api/admin/rounds/{round_id}/plans/{subject}/accept": {"post": _op("Accept a submitted plan: freeze it and sign it with the organizer key", _answer("plan", ANY_OBJ), admin=True, errors=(404, 409))},
        "/api/admin/rounds/{round_id}/plans/{subject}/return": {"post": _op("Return a submitted plan with remarks: editable again", _answer("plan", ANY_OBJ), body=_obj(remarks=STR), admin=True, errors=(400, 404, 409))},
        "/api/admin/rounds/{round_id}/plans/{subject}/progress": {"post": _op("Record progress on an item of an accepted plan (signed)", _answer("plan", ANY_OBJ), body=_obj(item=STR, status={"type": "string", "enum": ["done", "partly", "not_done"]}, note=STR, date=STR), admin=True, errors=(400, 404, 409))},
        "/api/admin/rounds/{round_id}/tally": {"post": _op("Tally a closed round: open every leaf, count and sign the results", _answer("state", ANY_OBJ), admin=True, errors=(404, 409))},
    }  # fmt: skip
    subject_param = {"name": "subject", "in": "path", "required": True, "schema": STR}
    for path, item in paths.items():
        for op in item.values():
            if "{subject}" in path:
                op.setdefault("parameters", []).insert(0, subject_param)
            if "{round_id}" in path:
                op.setdefault("parameters", []).insert(0, round_param)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "anonballot reference server",
            "version": "1",
            "description": "Errors are {\"error\": code, \"detail\": sentence}; codes: "
            + "; ".join(f"{k}: {v}" for k, v in ERROR_CODES.items()),
        },
        "paths": paths,
        "components": {
            "schemas": {"Error": _obj(error={"type": "string", "enum": sorted(ERROR_CODES)}, detail=STR)},
            "securitySchemes": {"admin": {"type": "http", "scheme": "bearer"}, "access": {"type": "http", "scheme": "bearer"}},
        },
    }  # fmt: skip
