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

from .common import (
    ApiClient,
    clean_errors,
    problem_line,
    read_token,
    say,
    server_option,
    t,
    token_options,
)

__all__ = ["COMMANDS"]


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
    say("access_granted", id=answer["id"], name=name, err=True)
    click.echo(answer["token"])
    click.echo(f"{t('warning_prefix')}: {t('access_once', id=answer['id'])}", err=True)


@access.command("list")
@server_option
@token_options
@clean_errors
def access_list(server: str, token_file: Path | None) -> None:
    """The access tokens: their ids and names (never the tokens)."""
    with _client(server, token_file) as api:
        tokens = api.get("/api/admin/access")
    if not tokens:
        say("access_none")
    for token in tokens:
        click.echo(f"{token['id']}\t{token['name']}")


@access.command("revoke")
@click.argument("token_id", metavar="ID", type=int)
@server_option
@token_options
@clean_errors
def access_revoke(token_id: int, server: str, token_file: Path | None) -> None:
    """Revoke the access token ID: it stops working at once."""
    with _client(server, token_file) as api:
        api.request("DELETE", f"/api/admin/access/{token_id}")
    say("access_revoked", id=token_id)


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
        raise InputError(t("slips_html", path=out))
    if out.exists() and not force:
        raise InputError(t("exists", path=out), code="exists")
    if not out.parent.is_dir() or not os.access(out.parent, os.W_OK):
        raise InputError(t("not_writable", path=out.parent))
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
        click.echo(problem_line(t("keys_above")), err=True)
        raise
    sheets = -(-len(slips) // LEADER_SLIPS_PER_SHEET)
    say("leader_slips_written", n=len(slips), sheets=sheets, path=out)
    click.echo(f"{t('warning_prefix')}: {t('leader_slips_new')}", err=True)


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
    click.echo(f"{names.get(view['subject'], view['subject'])}: {t('plan_state_' + state)}")
    if view["version"]:
        say("plan_version", n=view["version"])
    if view["remarks"]:
        say("plan_remarks", text=view["remarks"])
    updates: dict[str, dict[str, Any]] = {}
    if view["progress"] is not None:
        for u in view["progress"]["progress"]["updates"]:
            updates[u["item"]] = u
    for item in view["items"]:
        click.echo("\n" + t("plan_item", id=item["id"], deadline=item["deadline"]))
        if "criterion" in item:
            say("plan_criterion", text=criteria.get(item["criterion"], item["criterion"]))
        if "shortcoming" in item:
            say("plan_shortcoming", text=item["shortcoming"])
        say("plan_actions", text=item["actions"])
        say("plan_check", text=item["check"])
        last = updates.get(item["id"])
        if last is not None:
            status = t("progress_" + last["status"])
            say("plan_progress", date=last["date"], status=status, note=last["note"])
    if not view["items"]:
        say("plan_no_items")


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
    say("plan_accepted", subject=subject, version=view["version"])


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
    say("plan_returned", subject=subject)


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
            raise InputError(t("bad_date", value=day)) from None
    body = {"item": item, "status": status, "note": note, "date": day}
    with _client(server, token_file) as api:
        api.post(f"/api/admin/rounds/{round_id}/plans/{subject}/progress", json=body)
    say("progress_recorded", item=item, subject=subject, status=t("progress_" + status), date=day)


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
        raise InputError(t("exists", path=out), code="exists")
    with _client(server, token_file) as api:
        value = api.get(f"/api/rounds/{round_id}/plans")
        manifest = Manifest.from_signed(api.get(f"/api/rounds/{round_id}/manifest"))
    export = PlanExport.from_json(value, manifest)  # every signature checked before writing
    out.write_bytes(jcs(export.to_json()) + b"\n")
    say("plans_exported", plans=len(export.plans), progress=len(export.progress), path=out)


COMMANDS: tuple[click.Command, ...] = (access, leaders, plan)
"""The commands this module adds to ``anonballot`` (cli/main.py adds them)."""
