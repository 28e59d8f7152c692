"""The organizer's commands: district, roster, rounds, invitation slips and turnout.

Every command that reads or changes the district office's state talks to the running server
(``--server URL``) with the admin token (``--token-file FILE`` or ``ANONBALLOT_TOKEN``).
Configuration files are YAML or JSON (by the file's suffix: ``.json`` is JSON, anything
else YAML); every string read from them is normalized to NFC.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import os
import re
import sys
import unicodedata
from collections.abc import Hashable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import yaml

from anonballot.district import DISTRICT_TIME, District, Subject, compare_subjects
from anonballot.encoding import parse_json
from anonballot.errors import AnonBallotError, InputError
from anonballot.manifest import PUBLIC, RESTRICTED, PreviousRound, RoundConfig, Window
from anonballot.trustee import Trustee

from .common import (
    ApiClient,
    access_token_option,
    clean_errors,
    current_lang,
    problem_line,
    read_access_token,
    read_token,
    say,
    server_option,
    t,
    token_options,
)

__all__ = ["dump_yaml", "load_config_file"]

# -- configuration files -------------------------------------------------------------------------

_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_BOOL = "tag:yaml.org,2002:bool"


class _ConfigLoader(yaml.SafeLoader):
    """YAML for configuration files: times stay text (RFC 3339 strings, as the formats want),
    only ``true``/``false`` are booleans (a ward id ``no`` or ``on`` stays text), and a key
    given twice is an error instead of the last one silently winning."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} appears twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


_ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_TIMESTAMP, _BOOL)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ConfigLoader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _nfc(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {_nfc(k): _nfc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nfc(v) for v in value]
    return value


def load_config_file(path: Path) -> Any:
    """A YAML or JSON configuration file as JSON values (strings in NFC)."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})", code="bad_config") from exc
    if path.suffix.lower() == ".json":
        try:
            value = parse_json(text)
        except AnonBallotError as exc:
            raise InputError(f"{path}: {exc.detail}", code="bad_config") from exc
    else:
        try:
            value = yaml.load(text, Loader=_ConfigLoader)  # noqa: S506 (a SafeLoader subclass)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f"line {mark.line + 1} column {mark.column + 1}: " if mark else ""
            raise InputError(
                f"{path}: not valid YAML: {where}{exc.problem or exc.context}", code="bad_config"
            ) from exc
        except yaml.YAMLError as exc:
            raise InputError(f"{path}: not valid YAML: {exc}", code="bad_config") from exc
    if not isinstance(value, dict):
        raise InputError(f"{path}: expected a mapping of names to values", code="bad_config")
    return _nfc(value)


def _parsed(path: Path, parse: Any) -> Any:
    """``parse(load_config_file(path))`` with the file's name in front of any error."""
    value = load_config_file(path)
    try:
        return parse(value)
    except AnonBallotError as exc:
        hint = _comma_hint(value)
        raise InputError(f"{path}: {exc.detail}{hint}", code=exc.code) from exc


def _comma_hint(value: Any) -> str:
    """A hint when a text in ``{...}`` was cut at a comma: YAML reads ``{vi: Nguyễn Văn A,
    Bí thư}`` as two members, the second a name with no value."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, item in node.items():
                if item is None and isinstance(key, str) and " " in key.strip():
                    found.append(key)
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(value)
    return t("comma_hint", text=found[0]) if found else ""


def _vi_first(value: Any) -> Any:
    """Labels with the Vietnamese text first (the server's JSON has its keys sorted)."""
    if isinstance(value, list):
        return [_vi_first(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "vi" in value and all(isinstance(v, str) for v in value.values()):
        return {"vi": value["vi"], **{k: v for k, v in value.items() if k != "vi"}}
    return {k: _vi_first(v) for k, v in value.items()}


def dump_yaml(value: Any, comments: dict[str, str] | None = None, header: str = "") -> str:
    """YAML text (Vietnamese kept as is); ``comments`` go above top-level keys."""
    text = yaml.safe_dump(
        _vi_first(value), allow_unicode=True, sort_keys=False, default_flow_style=False, width=100
    )
    out = [f"# {line}".rstrip() for line in header.splitlines()] if header else []
    for line in text.splitlines():
        key = line.split(":", 1)[0]
        if comments and not line.startswith((" ", "-")) and key in comments:
            out.extend(f"# {c}".rstrip() for c in comments[key].splitlines())
        out.append(line)
    return "\n".join(out) + "\n"


def _client(server: str, token_file: Path | None) -> ApiClient:
    return ApiClient(server, read_token(token_file))


def _ward_names(wards: Any) -> dict[str, str]:
    return {w.id: w.name.get("vi") or w.id for w in wards}


# -- district ------------------------------------------------------------------------------------

DISTRICT_KEYS = ("name", "wards", "roles", "subjects")


def _comments(kind: str, keys: tuple[str, ...]) -> dict[str, str]:
    """The comments above a configuration file's keys, in this run's language."""
    return {k: t(f"cfg.{kind}.{k}") for k in keys}


@click.group()
def district() -> None:
    """The district: wards, roles and the people rated (set once, on the server)."""


@district.command("set")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@server_option
@token_options
@clean_errors
def district_set(file: Path, server: str, token_file: Path | None) -> None:
    """Set the district from a YAML or JSON FILE (see `anonballot district example`)."""
    value = _parsed(file, District.from_json)
    with _client(server, token_file) as api:
        api.put("/api/admin/district", json=value.to_json())
    say(
        "district_set", name=value.name.get("vi"), wards=len(value.wards),
        roles=len(value.roles), subjects=len(value.subjects),
    )  # fmt: skip


@district.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of YAML.")
@server_option
@token_options
@clean_errors
def district_show(as_json: bool, server: str, token_file: Path | None) -> None:
    """Print the server's district (YAML, the format `district set` reads)."""
    import json

    with _client(server, token_file) as api:
        value = api.get("/api/admin/district")
    if as_json:
        click.echo(json.dumps(value, ensure_ascii=False, indent=2))
    else:
        click.echo(dump_yaml(value, _comments("district", DISTRICT_KEYS)), nl=False)


@district.command("example")
@clean_errors
def district_example() -> None:
    """Print the Long Biên demo district as YAML: a starting point to edit."""
    from anonballot.testing import long_bien_district

    comments = _comments("district", DISTRICT_KEYS)
    text = dump_yaml(long_bien_district().to_json(), comments, t("cfg.district_header"))
    click.echo(text, nl=False)


# -- roster --------------------------------------------------------------------------------------


@click.group()
def roster() -> None:
    """The participants of each ward (the roster), imported from CSV or XLSX."""


@roster.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--replace", is_flag=True, help="Replace the whole roster.")
@click.option(
    "--append", is_flag=True, help="Add to the people already on the roster of these wards."
)
@click.option(
    "--ward",
    default=None,
    help="Every row is of this ward (its id or name): for a ward's own list without a ward column.",
)
@server_option
@token_options
@clean_errors
def roster_import(
    file: Path, replace: bool, append: bool, ward: str | None, server: str,
    token_file: Path | None,
) -> None:  # fmt: skip
    """Import a roster FILE (.csv in UTF-8, or .xlsx): columns ward, name, position.

    The header row may come below a title (a ward's own spreadsheet), and an STT column is
    ignored; in a workbook, the first sheet with a header row is read (its name is shown).
    Every row is checked first; if any is bad, every bad row is listed (line number and
    reason) and nothing is imported. A roster that already has people in these wards needs
    --append (to add) or --replace; a row already on the roster, or twice in the file, is
    refused: the same file imported twice, or the same person twice.
    """
    from anonballot.server.roster import RosterError, read_roster

    if replace and append:
        raise InputError(t("replace_or_append"))
    with _client(server, token_file) as api:
        current = District.from_json(api.get("/api/admin/district"))
        try:
            found = read_roster(file, current.wards, ward=ward)
        except RosterError as exc:
            for line, reason in exc.lines(current_lang()):
                click.echo(problem_line(t("roster_line", file=file, line=line, reason=reason)),
                           err=True)  # fmt: skip
            click.echo(problem_line(t("roster_bad", file=file, n=len(exc.found))), err=True)
            sys.exit(2)
        if found.sheet is not None:
            say("roster_sheet", sheet=found.sheet, file=file.name)
        entries = found.entries
        rows = [{"ward": e.ward, "name": e.name, "position": e.position} for e in entries]
        answer = api.post(
            "/api/admin/roster", json={"rows": rows, "replace": replace, "append": append}
        )
    added: dict[str, int] = {}
    for e in entries:
        added[e.ward] = added.get(e.ward, 0) + 1
    names = _ward_names(current.wards)
    totals = answer["wards"]
    say("roster_replaced" if replace else "roster_imported", n=answer["imported"])
    for ward_id in names:
        if ward_id in added or ward_id in totals:
            say(
                "roster_ward", name=names[ward_id], ward=ward_id, added=added.get(ward_id, 0),
                total=totals.get(ward_id, 0),
            )  # fmt: skip


@roster.command("show")
@server_option
@token_options
@clean_errors
def roster_show(server: str, token_file: Path | None) -> None:
    """How many participants each ward has on the roster."""
    with _client(server, token_file) as api:
        names = _ward_names(District.from_json(api.get("/api/admin/district")).wards)
        counts = api.get("/api/admin/roster")
    for ward, name in names.items():
        click.echo(f"{name} ({ward}): {counts.get(ward, 0)}")
    say("roster_total", n=sum(counts.values()))


# -- rounds --------------------------------------------------------------------------------------

VN = DISTRICT_TIME


def local_time(text: str) -> str:
    """An RFC 3339 time as people in the district read it: ``07:00 04/05/2026`` in Hà Nội
    time (UTC+7; Việt Nam has one time zone and no summer time)."""
    from anonballot.encoding import parse_time

    return f"{parse_time(text).astimezone(VN):%H:%M %d/%m/%Y}"


def local_window(window: Window) -> str:
    return t("window", opens=local_time(window.opens), closes=local_time(window.closes))


def _overlap_warning(issuance: Window, voting: Window) -> None:
    """Say so when the windows overlap: a two-phase round protects participants better."""
    from anonballot.encoding import parse_time

    if parse_time(voting.opens) < parse_time(issuance.closes):
        click.echo(problem_line_warning(t("overlap_warning")), err=True)


def problem_line_warning(text: str) -> str:
    return f"{t('warning_prefix')}: {text}"


def _time(value: str, what: str) -> dt.datetime:
    from anonballot.encoding import parse_time

    try:
        return parse_time(value.strip(), what)
    except AnonBallotError as exc:
        raise InputError(t("bad_time", what=what, value=value)) from exc


def _rfc3339(moment: dt.datetime) -> str:
    text = moment.replace(microsecond=0).isoformat()
    return text[: -len("+00:00")] + "Z" if text.endswith("+00:00") else text


def _window(text: str, what: str) -> Window:
    opens, sep, closes = text.partition("/")
    if not sep:
        raise InputError(t("bad_window", what=what))
    _time(opens, f"{what} opens")
    _time(closes, f"{what} closes")
    return Window(opens.strip(), closes.strip())


def _phases(opens: dt.datetime, days: int, issuance_days: int | None) -> tuple[Window, Window]:
    """Both windows from ``opens`` for ``days`` days; with ``issuance_days``, a two-phase
    round: tokens are issued first, and voting opens when issuance closes."""
    closes = _rfc3339(opens + dt.timedelta(days=days))
    if issuance_days is None:
        window = Window(_rfc3339(opens), closes)
        return window, window
    if not 1 <= issuance_days < days:
        raise InputError(t("bad_issuance_days", most=days - 1))
    switch = _rfc3339(opens + dt.timedelta(days=issuance_days))
    return Window(_rfc3339(opens), switch), Window(switch, closes)


def _windows(
    issuance: str | None,
    voting: str | None,
    start: str | None,
    days: int | None,
    issuance_days: int | None = None,
) -> tuple[Window, Window]:
    if issuance or voting:
        if start or days or issuance_days:
            raise InputError(t("windows_either"))
        if not (issuance and voting):
            raise InputError(t("windows_both"))
        return _window(issuance, "--issuance"), _window(voting, "--voting")
    if not start:
        raise InputError(t("windows_missing"))
    if days is not None and days < 1:
        raise InputError(t("bad_days"))
    return _phases(_time(start, "--start"), days or 7, issuance_days)


ROUND_KEYS = (
    "round_id",
    "title",
    "district",
    "origin",
    "issuance",
    "voting",
    "questionnaire",
    "roles",
    "trustees",
    "threshold",
    "min_group",
    "results_access",
    "previous",
    "witnesses",
)

PLACEHOLDER = "REPLACE-with-the-trustee-public-key"
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip


@click.group(name="round")
def round_group() -> None:
    """Rounds: create, clone, open, close, tally, export, list."""


@round_group.command("example-config")
@click.option("--id", "round_id", default=None, help="The round id (default: round-YYYY-MM).")
@click.option(
    "--district",
    "district_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The district (YAML or JSON); default: the Long Biên demo district.",
)
@click.option(
    "--trustee",
    "trustee_files",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="A trustee's public key file from `trustee keygen` (repeat for each trustee).",
)
@click.option("--threshold", type=int, default=None, help="Releases needed (default: majority).")
@click.option(
    "--witness",
    "witness_entries",
    multiple=True,
    metavar="FILE=URL",
    help="A witness: the .pub file of `witness keygen` and the address where it runs (repeat "
    "for each witness).",
)
@click.option(
    "--witness-quorum", type=int, default=None, help="Cosignatures needed (default: majority)."
)
@click.option("--start", default=None, help="When the round opens (RFC 3339; default: tomorrow).")
@click.option("--days", default=7, show_default=True, help="How many days the round is open.")
@click.option(
    "--issuance-days",
    type=int,
    default=None,
    help="Tokens only for this many days, then voting (default: the first half of --days, "
    "at least one day).",
)
@click.option(
    "--single-phase",
    is_flag=True,
    help="Both windows at once (tokens and ballots on the same days): weaker, see "
    "docs/operations.md#the-two-phase-round.",
)
@clean_errors
def round_example_config(
    round_id: str | None, district_file: Path | None, trustee_files: tuple[Path, ...],
    threshold: int | None, witness_entries: tuple[str, ...], witness_quorum: int | None,
    start: str | None, days: int, issuance_days: int | None, single_phase: bool,
) -> None:  # fmt: skip
    """Print a commented YAML round configuration to edit, for `round create --config`."""
    from anonballot.questionnaire import default_questionnaire
    from anonballot.testing import DEMO_TRUSTEES, long_bien_district

    the_district = (
        _parsed(district_file, District.from_json) if district_file else long_bien_district()
    )
    if start is None:
        tomorrow = dt.datetime.now(VN).date() + dt.timedelta(days=1)
        opens = dt.datetime.combine(tomorrow, dt.time(7, 0), VN)
    else:
        opens = _time(start, "--start")
    if days < 1:
        raise InputError(t("bad_days"))
    round_id = round_id or f"round-{opens:%Y-%m}"
    if single_phase:
        if issuance_days is not None:
            raise InputError(t("single_phase_or_days"))
    elif issuance_days is None:
        if days < 2:
            raise InputError(t("two_phase_days"))
        issuance_days = max(1, days // 2)  # a two-phase round: tokens first, then ballots
    issuance_window, voting_window = _phases(opens, days, issuance_days)
    trustees: list[dict[str, Any]] = [
        _parsed(f, lambda v, f=f: Trustee.from_json(v, f"trustee {f.name}")).to_json()
        for f in trustee_files
    ] or [
        {"id": tid, "name": dict(name), "hpke_key": PLACEHOLDER, "signing_key": PLACEHOLDER}
        for tid, name in DEMO_TRUSTEES
    ]
    count = len(trustees)
    value: dict[str, Any] = {
        "round_id": round_id,
        "title": {
            "vi": f"Lấy ý kiến góp ý người đứng đầu các phường, tháng {opens:%m/%Y}",
            "en": f"Rating the heads of the wards, {MONTHS[opens.month - 1]} {opens.year}",
        },
        "district": dict(the_district.name),
        # The log's URL prefix without the scheme (protocol section 4.2): the server
        # publishes the round's tiles at https://HOST/log/ROUND_ID/ (section 6.8).
        "origin": f"district.example/log/{round_id}",
        "issuance": issuance_window.to_json(),
        "voting": voting_window.to_json(),
        "questionnaire": default_questionnaire().to_json(),
        "roles": [r.to_json() for r in the_district.roles],
        "wards": [{"id": w.id, "name": dict(w.name)} for w in the_district.wards],
        "subjects": [s.to_json() for s in the_district.subjects],
        "trustees": trustees,
        "threshold": threshold if threshold is not None else count // 2 + 1,
        "min_group": 5,
        "results_access": RESTRICTED,
    }
    if witness_entries:
        value["witnesses"] = _witness_policy(witness_entries, witness_quorum)
    if trustee_files:
        try:
            RoundConfig.from_json(value)
        except AnonBallotError as exc:
            raise InputError(exc.detail, code=exc.code) from exc
    else:
        click.echo(problem_line_warning(t("placeholder_keys")), err=True)
    if single_phase:
        _overlap_warning(issuance_window, voting_window)
    click.echo(dump_yaml(value, _comments("round", ROUND_KEYS), t("cfg.round_header")), nl=False)


def _witness_policy(entries: tuple[str, ...], quorum: int | None) -> dict[str, Any]:
    """``--witness FILE=URL`` options as ``M.witnesses`` (protocol section 4.2)."""
    from anonballot.witness import PolicyWitness, WitnessPolicy, WitnessVerifier

    listed = []
    for entry in entries:
        name, sep, url = entry.partition("=")
        if not sep:
            raise InputError(t("witness_entry", entry=entry))
        path = Path(name)
        try:
            vkey = path.read_text(encoding="utf-8")[:1000].strip()
            listed.append(PolicyWitness(WitnessVerifier.parse(vkey), url))
        except OSError as exc:
            raise InputError(f"--witness {entry}: {exc.strerror}") from exc
        except AnonBallotError as exc:
            raise InputError(f"--witness {entry}: {exc.detail}") from exc
    try:
        policy = WitnessPolicy(tuple(listed), quorum or len(listed) // 2 + 1)
    except AnonBallotError as exc:
        raise InputError(exc.detail) from exc
    return dict(policy.to_json())


@round_group.command("create")
@click.option(
    "--config",
    "config_file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The round configuration (YAML or JSON; see `round example-config`).",
)
@click.option(
    "--previous",
    "previous_id",
    default=None,
    metavar="ROUND",
    help="The server's closed or tallied round this one follows in the series.",
)
@server_option
@token_options
@clean_errors
def round_create(
    config_file: Path, previous_id: str | None, server: str, token_file: Path | None
) -> None:
    """Create a draft round from a configuration file.

    With --previous ROUND, the new round names ROUND (its round_id and mid) as the round it
    follows, so that reports compare the two. ROUND must have closed (closed or tallied):
    a draft has no mid yet, and an open round's board is not final.
    """
    config = _parsed(config_file, RoundConfig.from_json)
    with _client(server, token_file) as api:
        if previous_id is not None:
            previous = _previous_round(api, previous_id)
            if config.previous not in (None, previous):
                raise InputError(
                    t("previous_other", previous=previous_id, file=config_file,
                      named=config.previous.round_id if config.previous else "")
                )  # fmt: skip
            try:
                config = dataclasses.replace(config, previous=previous)
            except AnonBallotError as exc:
                raise InputError(f"--previous {previous_id}: {exc.detail}") from exc
        answer = api.post("/api/admin/rounds", json=config.to_json())
    say(
        "round_created", round=config.round_id, wards=len(config.district.wards),
        trustees=len(config.trustees), threshold=config.threshold,
        access=t(f"access_{config.results_access or PUBLIC}"),
    )  # fmt: skip
    say("windows", issuance=local_window(config.issuance), voting=local_window(config.voting))
    if config.previous is not None:
        say("follows", round=config.previous.round_id, mid=config.previous.mid)
    _overlap_warning(config.issuance, config.voting)
    _say_witness_log(config, answer)
    say("next_invitations", round=config.round_id)


def _say_witness_log(config: RoundConfig, answer: object) -> None:
    """For a round with witnesses: the line each witness follows the round's board by."""
    line = answer.get("log") if isinstance(answer, dict) else None
    if config.witnesses is not None and isinstance(line, str):
        say("witness_log", count=len(config.witnesses.witnesses), round=config.round_id)
        click.echo(line)


def _previous_round(api: ApiClient, round_id: str) -> PreviousRound:
    """The server's round ``round_id`` as a predecessor: it must exist and have closed."""
    rounds = {r["round_id"]: r for r in api.get("/api/rounds")}
    found = rounds.get(round_id)
    if found is None:
        raise InputError(t("previous_missing", round=round_id))
    if found["state"] not in ("closed", "tallied"):
        raise InputError(t("previous_not_closed", round=round_id, state=found["state"]))
    return PreviousRound(round_id, found["mid"])


@round_group.command("clone")
@click.argument("previous")
@click.option("--id", "new_id", required=True, help="The new round's id.")
@click.option("--title", required=True, help="The new round's title, in Vietnamese.")
@click.option("--title-en", default=None, help="The title in English (optional).")
@click.option("--issuance", default=None, help="OPENS/CLOSES, two RFC 3339 times.")
@click.option("--voting", default=None, help="OPENS/CLOSES, two RFC 3339 times.")
@click.option("--start", default=None, help="Both windows open then (RFC 3339) ...")
@click.option("--days", type=int, default=None, help="... for this many days (default 7).")
@click.option(
    "--issuance-days",
    type=int,
    default=None,
    help="With --start: a two-phase round, tokens only for this many days first.",
)
@server_option
@token_options
@clean_errors
def round_clone(
    previous: str, new_id: str, title: str, title_en: str | None, issuance: str | None,
    voting: str | None, start: str | None, days: int | None, issuance_days: int | None,
    server: str, token_file: Path | None,
) -> None:  # fmt: skip
    """Create a draft round NEW like the round PREVIOUS: new title, new windows.

    It keeps PREVIOUS's questionnaire, trustees, threshold, min_group and results access,
    and rates the district as it is now on the server (`district set`); each person rated
    who changed since PREVIOUS is listed. When PREVIOUS has closed, NEW follows it in the
    series (its manifest names PREVIOUS's round_id and mid).
    """
    issuance_window, voting_window = _windows(issuance, voting, start, days, issuance_days)
    label = {"vi": unicodedata.normalize("NFC", title)}
    if title_en:
        label["en"] = unicodedata.normalize("NFC", title_en)
    body = {
        "round_id": new_id,
        "title": label,
        "issuance": issuance_window.to_json(),
        "voting": voting_window.to_json(),
    }
    with _client(server, token_file) as api:
        answer = api.post(f"/api/admin/rounds/{previous}/clone", json=body)
        old = RoundConfig.from_json(api.get(f"/api/admin/rounds/{previous}/config"))
        new = RoundConfig.from_json(api.get(f"/api/admin/rounds/{new_id}/config"))
    say("round_cloned", round=new_id, previous=previous)
    say("windows", issuance=local_window(issuance_window), voting=local_window(voting_window))
    if new.previous is not None:
        say("follows", round=new.previous.round_id, mid=new.previous.mid)
    else:
        say("not_following", previous=previous, round=new_id)
    for warn, line in _changes(old.district, new.district):
        click.echo(problem_line_warning(line) if warn else line, err=warn)
    _overlap_warning(issuance_window, voting_window)
    _say_witness_log(new, answer)
    say("next_invitations", round=new_id)


def _changes(old: District, new: District) -> list[tuple[bool, str]]:
    """One line per person rated or post that differs between two rounds' districts, each
    with whether it is a warning."""
    wards = {**_ward_names(old.wards), **_ward_names(new.wards)}
    roles = {r.id: r.title.get("vi") or r.id for r in (*old.roles, *new.roles)}

    def who(s: Subject) -> str:
        return f"{s.name.get('vi') or s.id} ({s.id})"

    def post(s: Subject) -> str:
        return f"{roles.get(s.role, s.role)}, {wards.get(s.ward, s.ward)}"

    lines: list[tuple[bool, str]] = []
    for change in compare_subjects(old.subjects, new.subjects):
        before, after = change.old, change.new
        if change.kind == "changed" and before is not None and after is not None:
            what = []
            if before.name != after.name:
                what.append(t("changed_name", old=before.name.get("vi"), new=after.name.get("vi")))
            if before.ward != after.ward:
                what.append(t("changed_ward", old=before.ward, new=after.ward))
            if before.role != after.role:
                what.append(t("changed_role", old=before.role, new=after.role))
            lines.append((True, t("kept_id", id=after.id, what="; ".join(what))))
        elif change.kind == "new_in_post" and after is not None:
            since = t("after_whom", who=who(before)) if before is not None else ""
            lines.append((False, t("new_in_post", post=post(after), who=who(after), since=since)))
        elif change.kind == "new_post" and after is not None:
            lines.append((False, t("new_post", post=post(after), who=who(after))))
        elif change.kind == "gone" and before is not None:
            lines.append((True, t("gone", who=who(before), post=post(before))))
    return lines


def _act(
    action: str, round_id: str, server: str, token_file: Path | None, body: Any = None
) -> None:
    with _client(server, token_file) as api:
        answer = api.post(f"/api/admin/rounds/{round_id}/{action}", json=body)
    state = answer["state"]
    say("round_state", round=round_id, state=t(f"state_{state}"))
    if state in ("open", "closed", "tallied"):
        say(f"next_{state}", r=round_id)


@round_group.command("open")
@click.argument("round_id", metavar="ROUND")
@server_option
@token_options
@clean_errors
def round_open(round_id: str, server: str, token_file: Path | None) -> None:
    """Open a draft ROUND: fixes the roster counts and signs the manifest."""
    _act("open", round_id, server, token_file)


@round_group.command("close")
@click.argument("round_id", metavar="ROUND")
@click.option(
    "--force",
    is_flag=True,
    help="Close before the voting window ends (the server says how many tokens are not cast).",
)
@server_option
@token_options
@clean_errors
def round_close(round_id: str, force: bool, server: str, token_file: Path | None) -> None:
    """Close ROUND: signs the final checkpoint and the issuance ledger.

    Before the voting window has ended the server refuses, saying how many participants
    took a token and have not voted yet; --force closes all the same.
    """
    _act("close", round_id, server, token_file, {"force": True} if force else None)


@round_group.command("tally")
@click.argument("round_id", metavar="ROUND")
@server_option
@token_options
@clean_errors
def round_tally(round_id: str, server: str, token_file: Path | None) -> None:
    """Tally a closed ROUND once enough trustees have released their keys."""
    _act("tally", round_id, server, token_file)


@round_group.command("export")
@click.argument("round_id", metavar="ROUND")
@click.option(
    "--out", required=True, type=click.Path(path_type=Path, dir_okay=False), help="FILE.zip"
)
@click.option("--force", is_flag=True, help="Replace an existing file.")
@click.option(
    "--public-part",
    is_flag=True,
    help="Only the public part (no releases, no results), once the round is closed.",
)
@server_option
@access_token_option
@token_options
@clean_errors
def round_export(
    round_id: str, out: Path, force: bool, public_part: bool, server: str,
    access_token_file: Path | None, token_file: Path | None,
) -> None:  # fmt: skip
    """Download the round record of a tallied round (.zip), for the archive and the audit.

    A restricted round's full record needs an access token (--access-token-file or
    ANONBALLOT_ACCESS_TOKEN) or the admin token (--token-file or ANONBALLOT_TOKEN).
    """
    if out.exists() and not force:
        raise InputError(t("exists", path=out), code="exists")
    token = read_access_token(access_token_file)
    if token is None:
        try:
            token = read_token(token_file)
        except InputError:
            token = None  # a public round's record needs no token
    with ApiClient(server, token) as api:
        data = api.get(
            f"/api/rounds/{round_id}/record", params={"part": "public" if public_part else "full"}
        )
    if not isinstance(data, bytes) or not data.startswith(b"PK"):
        raise InputError(t("not_a_record"))
    out.write_bytes(data)
    say("record_written", path=out, size=len(data))


@round_group.command("list")
@server_option
@clean_errors
def round_list(server: str) -> None:
    """The server's rounds and their states."""
    with ApiClient(server) as api:
        rounds = api.get("/api/rounds")
    if not rounds:
        say("no_rounds")
    for r in rounds:
        click.echo(f"{r['round_id']}\t{r['state']}\t{r['mid'] or '-'}")


@round_group.command("witness-log")
@click.argument("round_id", metavar="ROUND")
@server_option
@token_options
@clean_errors
def round_witness_log(round_id: str, server: str, token_file: Path | None) -> None:
    """Print ORIGIN=VKEY: the line the round's witnesses follow its board by (a line of the
    file of `witness serve --logs`)."""
    with _client(server, token_file) as api:
        answer = api.get(f"/api/admin/rounds/{round_id}/log")
    click.echo(answer["log"] if isinstance(answer, dict) else answer)


@round_group.command("show")
@click.argument("round_id", metavar="ROUND")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of YAML.")
@server_option
@token_options
@clean_errors
def round_show(round_id: str, as_json: bool, server: str, token_file: Path | None) -> None:
    """Print a round's configuration (the format `round create --config` reads)."""
    import json

    with _client(server, token_file) as api:
        value = api.get(f"/api/admin/rounds/{round_id}/config")
    if as_json:
        click.echo(json.dumps(value, ensure_ascii=False, indent=2))
    else:
        click.echo(dump_yaml(value, _comments("round", ROUND_KEYS)), nl=False)


# -- invitations and turnout ---------------------------------------------------------------------


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@click.argument("round_id", metavar="ROUND")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The slips to print (.html); the codes also go to a .csv beside it.",
)
@click.option(
    "--booth-url",
    default=None,
    help="The voting booth's public address for the QR codes (default: --server).",
)
@click.option("--force", is_flag=True, help="Replace existing files.")
@server_option
@token_options
@clean_errors
def invitations(
    round_id: str, out: Path, booth_url: str | None, force: bool, server: str,
    token_file: Path | None,
) -> None:  # fmt: skip
    """Make the invitation codes of a draft ROUND and write the printable slips.

    OUT gets A4 sheets of 8 cut-out slips (ward, code, and a QR code of
    BOOTH/r/ROUND#code=CODE, the code without dashes, only in the URL's fragment) and a CSV
    beside it gets ward,participant,code; both are readable only by you. The server shows
    the codes only once.
    """
    import json

    from anonballot.keyfile import write_private
    from anonballot.server.slips import SLIPS_PER_SHEET, make_slips, render_slips, slips_csv
    from anonballot.server.slips import booth_url as slip_url

    if out.suffix.lower() not in (".html", ".htm"):
        raise InputError(t("slips_html", path=out))
    csv_path = out.with_suffix(".csv")
    for path in (out, csv_path):
        if path.exists() and not force:
            raise InputError(t("exists", path=path), code="exists")
    if not out.parent.is_dir() or not os.access(out.parent, os.W_OK):
        raise InputError(t("not_writable", path=out.parent))
    booth = booth_url or server
    slip_url(booth, round_id, "0" * 16)  # a bad booth URL fails before any code is made
    token = read_token(token_file)
    with ApiClient(server, token) as api:
        config = RoundConfig.from_json(api.get(f"/api/admin/rounds/{round_id}/config"))
        made = api.post(f"/api/admin/rounds/{round_id}/invitations")
    try:
        write_private(csv_path, slips_csv(made))
        slips = make_slips(config, made, booth)
        write_private(out, render_slips(config, slips))
    except (OSError, AnonBallotError, KeyError, TypeError):
        # The codes exist nowhere else: print them rather than lose them.
        click.echo(json.dumps(made, ensure_ascii=False, indent=1))
        click.echo(problem_line(t("codes_above")), err=True)
        raise
    wards = _ward_names(config.district.wards)
    counts: dict[str, int] = {}
    for s in slips:
        counts[s.ward] = counts.get(s.ward, 0) + 1
    sheets = sum(-(-n // SLIPS_PER_SHEET) for n in counts.values())
    say("slips_written", n=len(slips), sheets=sheets, path=out)
    say("slips_csv", path=csv_path)
    for ward, n in counts.items():
        click.echo(f"  {wards.get(ward, ward)} ({ward}): {n}")
    say("windows", issuance=local_window(config.issuance), voting=local_window(config.voting))
    click.echo(problem_line_warning(t("codes_once")), err=True)
    if _is_loopback(booth):
        click.echo(problem_line_warning(t("loopback_booth", url=booth)), err=True)


@click.command()
@click.argument("round_id", metavar="ROUND")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@server_option
@token_options
@clean_errors
def turnout(round_id: str, as_json: bool, server: str, token_file: Path | None) -> None:
    """Per ward: eligible participants, tokens issued, ballots cast, and the turnout."""
    import json

    from rich.console import Console
    from rich.table import Table

    with _client(server, token_file) as api:
        counts = api.get(f"/api/admin/rounds/{round_id}/turnout")
        config = RoundConfig.from_json(api.get(f"/api/admin/rounds/{round_id}/config"))
    if as_json:
        click.echo(json.dumps(counts, ensure_ascii=False, indent=2))
        return

    def pct(row: dict[str, int]) -> str:
        return f"{100 * row['cast'] / row['eligible']:.1f} %" if row["eligible"] else "-"

    now = local_time(dt.datetime.now(dt.UTC).isoformat())
    title = config.title.get(current_lang()) or config.title.get("vi", round_id)
    state = t(f"state_{counts['state']}")
    table = Table(title=t("turnout_title", title=title, round=round_id, state=state, now=now))
    table.add_column(t("turnout_ward"))
    for key in ("turnout_eligible", "turnout_issued", "turnout_cast", "turnout_share"):
        table.add_column(t(key), justify="right")
    names = _ward_names(config.district.wards)
    for ward, row in counts["wards"].items():
        table.add_row(
            names.get(ward, ward), str(row["eligible"]), str(row["issued"]), str(row["cast"]),
            pct(row),
        )  # fmt: skip
    total = counts["total"]
    table.add_section()
    table.add_row(
        t("turnout_total"), str(total["eligible"]), str(total["issued"]), str(total["cast"]),
        pct(total), style="bold",
    )  # fmt: skip
    Console(highlight=False, soft_wrap=False).print(table)
    say("windows", issuance=local_window(config.issuance), voting=local_window(config.voting))


COMMANDS: tuple[click.Command, ...] = (district, roster, round_group, invitations, turnout)
"""The commands this module adds to ``anonballot`` (cli/main.py adds them)."""
