"""The organizer's commands after the tally: access tokens, personal slips, plans.

- ``access grant|list|revoke``: the access tokens of those who read a restricted round's
  results (the standing committee, the Inspection committee); shown once, stored hashed.
- ``leaders slips ROUND``: one personal link per person rated, printed on A4 slips with a
  QR code; the keys are shown only in the slips, and making new ones voids the old.
- ``plan list|show|accept|return|progress|export``: the Propaganda board's review of the
  remediation plans the people rated draft through their personal links (docs/plans.md).

Every command talks to the running server with the admin token (``--token-file FILE`` or
``ANONBALLOT_TOKEN``). Output is in Vietnamese first, as the office reads it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import click

from anonballot.errors import AnonBallotError, InputError
from anonballot.manifest import RoundConfig

from .common import ApiClient, clean_errors, read_token, server_option, token_options

__all__ = ["COMMANDS"]

STATE_VI = {
    "none": "chưa có",
    "draft": "bản nháp",
    "submitted": "đã nộp, chờ xem xét",
    "returned": "đã trả lại để sửa",
    "accepted": "đã chấp nhận (đã ký)",
}
STATUS_VI = {
    "done": "đã hoàn thành",
    "partly": "hoàn thành một phần",
    "not_done": "chưa hoàn thành",
}


def _client(server: str, token_file: Path | None) -> ApiClient:
    return ApiClient(server, read_token(token_file))


# -- access tokens ----------------------------------------------------------------------------


@click.group()
def access() -> None:
    """Access tokens: who reads a restricted round's results, releases and full record."""


@access.command("grant")
@click.option("--name", required=True, help='Who holds it, e.g. "Thường trực Quận ủy".')
@server_option
@token_options
@clean_errors
def access_grant(name: str, server: str, token_file: Path | None) -> None:
    """Make an access token for NAME; it is shown once (the server keeps only its hash).

    The token alone goes to standard output (`> FILE` keeps it), the rest to standard error.
    """
    with _client(server, token_file) as api:
        answer = api.post("/api/admin/access", json={"name": name})
    # the token alone on stdout (`> FILE` keeps just it), the words on stderr
    click.echo(
        f"mã truy cập số {answer['id']} cho «{name}» (access token {answer['id']}):", err=True
    )
    click.echo(answer["token"])
    click.echo(
        "warning: mã chỉ hiện một lần; trao tận tay và giữ kín. "
        "The token is shown only once: hand it over in person and keep it secret. "
        f"Revoke it: anonballot access revoke {answer['id']}",
        err=True,
    )


@access.command("list")
@server_option
@token_options
@clean_errors
def access_list(server: str, token_file: Path | None) -> None:
    """The access tokens: their ids and names (never the tokens)."""
    with _client(server, token_file) as api:
        tokens = api.get("/api/admin/access")
    if not tokens:
        click.echo("chưa có mã truy cập nào (no access tokens)")
    for t in tokens:
        click.echo(f"{t['id']}\t{t['name']}")


@access.command("revoke")
@click.argument("token_id", metavar="ID", type=int)
@server_option
@token_options
@clean_errors
def access_revoke(token_id: int, server: str, token_file: Path | None) -> None:
    """Revoke the access token ID: it stops working at once."""
    with _client(server, token_file) as api:
        api.request("DELETE", f"/api/admin/access/{token_id}")
    click.echo(f"đã thu hồi mã truy cập số {token_id} (access token {token_id} revoked)")


# -- personal slips of the people rated -----------------------------------------------------


@click.group()
def leaders() -> None:
    """The people rated: their personal links to their own report and plan."""


@leaders.command("slips")
@click.argument("round_id", metavar="ROUND")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The slips to print (.html).",
)
@click.option(
    "--server-url",
    default=None,
    help="The server's public address for the links and QR codes (default: --server).",
)
@click.option("--force", is_flag=True, help="Replace an existing file.")
@server_option
@token_options
@clean_errors
def leaders_slips(
    round_id: str, out: Path, server_url: str | None, force: bool, server: str,
    token_file: Path | None,
) -> None:  # fmt: skip
    """Make a personal link for each person rated of a tallied ROUND and write the slips.

    OUT gets A4 sheets of three slips: the person's name, ward and role, the link
    SERVER/leader/ROUND#key=KEY (the key only in the URL's fragment) and its QR code. The
    keys are new each time: slips printed before stop working.
    """
    from anonballot.keyfile import write_private
    from anonballot.server.slips import (
        LEADER_SLIPS_PER_SHEET,
        leader_url,
        make_leader_slips,
        render_leader_slips,
    )

    if out.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"--out {out}: the slips file ends in .html")
    if out.exists() and not force:
        raise InputError(f"{out} exists; use --force to replace it", code="exists")
    if not out.parent.is_dir() or not os.access(out.parent, os.W_OK):
        raise InputError(f"{out.parent} is not a folder you can write to")
    base = server_url or server
    leader_url(base, round_id, "x")  # a bad address fails before any key is made
    with _client(server, token_file) as api:
        config = RoundConfig.from_json(api.get(f"/api/admin/rounds/{round_id}/config"))
        keys = api.post(f"/api/admin/rounds/{round_id}/leaders")
    try:
        slips = make_leader_slips(config, keys, base)
        write_private(out, render_leader_slips(config, slips))
    except (OSError, AnonBallotError, KeyError, TypeError):
        # the keys exist nowhere else: print them rather than lose them
        click.echo(json.dumps(keys, ensure_ascii=False, indent=1))
        click.echo("error: the slips could not be written; the keys are above", err=True)
        raise
    sheets = -(-len(slips) // LEADER_SLIPS_PER_SHEET)
    click.echo(f"{len(slips)} phiếu báo cáo cá nhân trên {sheets} tờ A4: {out}")
    click.echo(f"({len(slips)} personal slips on {sheets} A4 sheets)")
    click.echo(
        "warning: mã mới đã thay mã cũ: các phiếu in trước đây không còn dùng được. Ai giữ "
        "phiếu đều xem được báo cáo của người đó: trao tận tay trong phong bì dán kín, xóa "
        "tệp sau khi in. New keys replace the old ones: slips printed before no longer work. "
        "Whoever holds a slip reads that person's report: hand them over sealed, delete the "
        "file after printing.",
        err=True,
    )


# -- plans ------------------------------------------------------------------------------------


@click.group()
def plan() -> None:
    """Remediation plans: review (accept or return), progress, export."""


def _names(api: ApiClient, round_id: str) -> tuple[RoundConfig, dict[str, str]]:
    config = RoundConfig.from_json(api.get(f"/api/admin/rounds/{round_id}/config"))
    wards = {w.id: w.name.get("vi") or w.id for w in config.district.wards}
    names = {
        s.id: f"{s.name.get('vi') or s.id} ({wards.get(s.ward, s.ward)})"
        for s in config.district.subjects
    }
    return config, names


def _show(view: dict[str, Any], config: RoundConfig, names: dict[str, str]) -> None:
    criteria = {c.id: c.label.get("vi") or c.id for c in config.questionnaire.criteria}
    state = view["state"]
    click.echo(f"{names.get(view['subject'], view['subject'])}: {STATE_VI.get(state, state)}")
    if view["version"]:
        click.echo(f"lần nộp (version): {view['version']}")
    if view["remarks"]:
        click.echo(f"ý kiến trả lại (remarks): {view['remarks']}")
    updates: dict[str, dict[str, Any]] = {}
    if view["progress"] is not None:
        for u in view["progress"]["progress"]["updates"]:
            updates[u["item"]] = u
    for item in view["items"]:
        click.echo(f"\n[{item['id']}] hạn (deadline) {item['deadline']}")
        if "criterion" in item:
            click.echo(f"  tiêu chí: {criteria.get(item['criterion'], item['criterion'])}")
        if "shortcoming" in item:
            click.echo(f"  hạn chế: {item['shortcoming']}")
        click.echo(f"  biện pháp: {item['actions']}")
        click.echo(f"  kiểm tra: {item['check']}")
        last = updates.get(item["id"])
        if last is not None:
            status = STATUS_VI.get(last["status"], last["status"])
            click.echo(f"  tiến độ ({last['date']}): {status}: {last['note']}")
    if not view["items"]:
        click.echo("kế hoạch chưa có mục nào (no items yet)")


@plan.command("list")
@click.argument("round_id", metavar="ROUND")
@server_option
@token_options
@clean_errors
def plan_list(round_id: str, server: str, token_file: Path | None) -> None:
    """Every person rated of ROUND: their plan's state and version."""
    with _client(server, token_file) as api:
        _, names = _names(api, round_id)
        views = api.get(f"/api/admin/rounds/{round_id}/plans")
    for v in views:
        version = str(v["version"]) if v["version"] else "-"
        click.echo(f"{v['subject']}\t{v['state']}\t{version}\t{names.get(v['subject'], '')}")


@plan.command("show")
@click.argument("round_id", metavar="ROUND")
@click.argument("subject")
@click.option("--json", "as_json", is_flag=True, help="Print the server's JSON.")
@server_option
@token_options
@clean_errors
def plan_show(
    round_id: str, subject: str, as_json: bool, server: str, token_file: Path | None
) -> None:
    """The plan of SUBJECT in ROUND: items, remarks, latest progress of each item."""
    with _client(server, token_file) as api:
        config, names = _names(api, round_id)
        view = api.get(f"/api/admin/rounds/{round_id}/plans/{subject}")
    if as_json:
        click.echo(json.dumps(view, ensure_ascii=False, indent=2))
    else:
        _show(view, config, names)


@plan.command("accept")
@click.argument("round_id", metavar="ROUND")
@click.argument("subject")
@server_option
@token_options
@clean_errors
def plan_accept(round_id: str, subject: str, server: str, token_file: Path | None) -> None:
    """Accept SUBJECT's submitted plan: frozen and signed with the organizer key."""
    with _client(server, token_file) as api:
        view = api.post(f"/api/admin/rounds/{round_id}/plans/{subject}/accept")
    click.echo(
        f"đã chấp nhận và ký kế hoạch của {subject} (lần nộp {view['version']}); "
        f"plan of {subject} accepted and signed"
    )


@plan.command("return")
@click.argument("round_id", metavar="ROUND")
@click.argument("subject")
@click.option("--remarks", required=True, help="What to change, shown to the person rated.")
@server_option
@token_options
@clean_errors
def plan_return(
    round_id: str, subject: str, remarks: str, server: str, token_file: Path | None
) -> None:
    """Return SUBJECT's submitted plan with REMARKS: editable again by the person rated."""
    with _client(server, token_file) as api:
        api.post(f"/api/admin/rounds/{round_id}/plans/{subject}/return", json={"remarks": remarks})
    click.echo(f"đã trả lại kế hoạch của {subject} kèm ý kiến (plan returned with remarks)")


@plan.command("progress")
@click.argument("round_id", metavar="ROUND")
@click.argument("subject")
@click.argument("item")
@click.option(
    "--status", required=True, type=click.Choice(["done", "partly", "not_done"]),
    help="How far the item got.",
)  # fmt: skip
@click.option("--note", required=True, help="One sentence on what was seen.")
@click.option("--date", "day", default=None, help="YYYY-MM-DD (default: today).")
@server_option
@token_options
@clean_errors
def plan_progress(
    round_id: str, subject: str, item: str, status: str, note: str, day: str | None,
    server: str, token_file: Path | None,
) -> None:  # fmt: skip
    """Record progress on ITEM of SUBJECT's accepted plan (signed with the organizer key)."""
    if day is None:
        day = dt.date.today().isoformat()
    else:
        try:
            dt.date.fromisoformat(day)
        except ValueError:
            raise InputError(f"--date: {day!r} is not a date YYYY-MM-DD") from None
    body = {"item": item, "status": status, "note": note, "date": day}
    with _client(server, token_file) as api:
        api.post(f"/api/admin/rounds/{round_id}/plans/{subject}/progress", json=body)
    click.echo(
        f"đã ghi tiến độ {item} của {subject}: {STATUS_VI[status]} ({day}); progress recorded"
    )


@plan.command("export")
@click.argument("round_id", metavar="ROUND")
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--force", is_flag=True, help="Replace an existing file.")
@server_option
@token_options
@clean_errors
def plan_export(
    round_id: str, out: Path, force: bool, server: str, token_file: Path | None
) -> None:
    """Write plans.json: every accepted plan of ROUND with its progress, each signed."""
    from anonballot.encoding import jcs
    from anonballot.manifest import Manifest
    from anonballot.plans import PlanExport

    if out.exists() and not force:
        raise InputError(f"{out} exists; use --force to replace it", code="exists")
    with _client(server, token_file) as api:
        value = api.get(f"/api/rounds/{round_id}/plans")
        manifest = Manifest.from_signed(api.get(f"/api/rounds/{round_id}/manifest"))
    export = PlanExport.from_json(value, manifest)  # every signature checked before writing
    out.write_bytes(jcs(export.to_json()) + b"\n")
    click.echo(
        f"{len(export.plans)} kế hoạch đã chấp nhận, {len(export.progress)} bản tiến độ: {out} "
        f"({len(export.plans)} accepted plans, signatures checked)"
    )


COMMANDS: tuple[click.Command, ...] = (access, leaders, plan)
"""The commands this module adds to ``anonballot`` (cli/main.py adds them)."""
