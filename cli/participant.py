"""Participants: ``anonballot vote`` and ``anonballot receipt verify``.

``vote`` follows protocol section 5.2: it saves the participant's state (voter key, blinding
inverse) to a private state file *before* it asks for a token, and again after each step, so
that running the same command again after a lost answer resumes with the same request and the
same sealed ballot, and never casts twice. At the end the token secrets are removed from the
state file; it keeps only the receipt.

``receipt verify`` checks a saved receipt against the server or a round record with
:func:`anonballot.receipt.verify_receipt` (the checkpoint's signature and the inclusion
proof, the consistency of the receipt's checkpoint with the latest or final one, the close
statement, and after the tally how the ballot was counted) and prints its report.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from anonballot.checkpoint import Checkpoint
from anonballot.codes import code_hash, normalize_code
from anonballot.encoding import b64u_decode, b64u_encode, jcs
from anonballot.errors import (
    AnonBallotError,
    BallotContentError,
    InputError,
    NotFound,
    StateError,
)
from anonballot.keyfile import read_json_file, write_private
from anonballot.manifest import Manifest
from anonballot.participant import Participant
from anonballot.receipt import (
    MAX_RECEIPT,
    Receipt,
    ReceiptReport,
    RecordSource,
    read_receipt,
    verify_receipt,
)
from anonballot.record import Record

from .common import (
    LANGS,
    ApiClient,
    ApiError,
    CheckFailed,
    NotNow,
    TryAgain,
    access_token_option,
    clean_errors,
    current_lang,
    error_line,
    message,
    read_access_token,
    set_lang,
)
from .transfer import TransferError

__all__ = [
    "STATE_VERSION",
    "ask_ballot",
    "load_state",
    "receipt",
    "resolve_round",
    "save_state",
    "vote",
]

STATE_VERSION = 1

YES = {"c", "co", "có", "y", "yes"}
NO = {"k", "khong", "không", "n", "no"}


@dataclass(frozen=True)
class Lang:
    code: str

    def __call__(self, key: str, **kwargs: object) -> str:
        return message(self.code, key, **kwargs)

    def label(self, label: Mapping[str, str]) -> str:
        return label.get(self.code) or label["vi"]


LANG_OPTION = click.option(
    "--lang",
    type=click.Choice(LANGS),
    default=None,
    callback=lambda ctx, param, value: _chosen_lang(value),
    help="Language of the text: Vietnamese (vi, the default) or English (en); or ANONBALLOT_LANG.",
)


def _chosen_lang(value: str | None) -> str:
    """A command's own ``--lang`` counts for the whole run, as ``anonballot --lang`` does."""
    set_lang(value)
    return current_lang()


def console() -> Console:
    return Console(highlight=False, soft_wrap=True)


# -- the server's round list ---------------------------------------------------------------------


def resolve_round(api: ApiClient, wanted: str) -> tuple[str, str]:
    """``(round_id, mid)`` of the server's round named by its round id or its mid."""
    rounds = api.get("/api/rounds")
    if not isinstance(rounds, list):
        raise StateError("the server's round list is not a list")
    for entry in rounds:
        if not isinstance(entry, dict) or wanted not in (entry.get("round_id"), entry.get("mid")):
            continue
        round_id, mid = entry.get("round_id"), entry.get("mid")
        if not isinstance(mid, str) or not isinstance(round_id, str):
            raise StateError(f"round {wanted} is not open yet", code="round_not_open")
        return round_id, mid
    raise NotFound(f"the server at {api.base} has no round {wanted}", code="unknown_round")


# -- the state file ------------------------------------------------------------------------------


def default_state_path(round_id: str, normalized_code: str) -> Path:
    tag = code_hash(normalized_code).hex()[:8]
    return Path(f"anonballot-vote-{round_id}-{tag}.json")


def save_state(path: Path, state: Mapping[str, Any]) -> None:
    """Write the state file (mode 600, atomically): it holds the token secrets."""
    write_private(path, jcs(dict(state)))


def load_state(path: Path) -> dict[str, Any]:
    state = read_json_file(path, limit=16 * 1024 * 1024)
    if not isinstance(state, dict) or state.get("anonballot_vote_state") != STATE_VERSION:
        raise InputError(f"{path} is not an anonballot vote state file", code="bad_state")
    return state


def participant_state(round_id: str, normalized_code: str, p: Participant) -> dict[str, Any]:
    return {
        "anonballot_vote_state": STATE_VERSION,
        "round_id": round_id,
        "mid": p.manifest.mid,
        "code_hash": b64u_encode(code_hash(normalized_code)),
        "participant": p.to_json(),
    }


def finished_state(round_id: str, p: Participant) -> dict[str, Any]:
    """What stays in the state file after the vote: no key, no token, no blinding inverse."""
    if p.receipt is None:
        raise StateError("no receipt yet")
    return {
        "anonballot_vote_state": STATE_VERSION,
        "round_id": round_id,
        "mid": p.manifest.mid,
        "done": True,
        "receipt": p.receipt.to_json(),
    }


# -- the ballot in the terminal ------------------------------------------------------------------


def ask_ballot(
    manifest: Manifest,
    ward: str,
    t: Lang,
    previous: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Ask every rating and comment of ``ward``'s ballot, show a review, ask to confirm."""
    out = console()
    q = manifest.questionnaire
    levels = [*q.scale, *([q.abstain] if q.abstain else [])]
    roles = {r.id: r for r in manifest.roles}
    subjects = manifest.subjects_of(ward)
    while True:
        answers: dict[str, Any] = {}
        for si, subject in enumerate(subjects, start=1):
            before = (previous or {}).get(subject.id, {})
            out.print()
            out.print("─" * 40)
            heading = t(
                "subject",
                i=si,
                n=len(subjects),
                name=t.label(subject.name),
                role=t.label(roles[subject.role].title),
            )
            out.print(Text(heading, style="bold"))
            ratings: dict[str, str] = {}
            for ci, criterion in enumerate(q.criteria, start=1):
                out.print(t("criterion", i=ci, n=len(q.criteria), label=t.label(criterion.label)))
                choices = "   ".join(
                    f"{li}. {t.label(lv.label)}" for li, lv in enumerate(levels, 1)
                )
                out.print(f"   {choices}")
                ids = [lv.id for lv in levels]
                old = before.get("ratings", {}).get(criterion.id)
                default = ids.index(old) + 1 if old in ids else None
                ratings[criterion.id] = ids[_ask_number(t, len(levels), default) - 1]
            comments: dict[str, str] = {}
            if q.comments:
                out.print(t("comments"))
            for comment in q.comments:
                old_text = before.get("comments", {}).get(comment.id, "")
                text = _ask_text(t, t.label(comment.label), comment.max_chars, old_text)
                if text:
                    comments[comment.id] = text
            answers[subject.id] = {"ratings": ratings, "comments": comments}
        show_review(manifest, ward, answers, t)
        if _ask_yes(t):
            return answers
        previous = answers
        out.print(t("again"))


def _ask_number(t: Lang, count: int, default: int | None) -> int:
    while True:
        raw: str = click.prompt(
            t("choose", n=count),
            default=str(default) if default else None,
            show_default=default is not None,
        )
        raw = raw.strip()
        if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= count:  # "²".isdigit()
            return int(raw)
        click.echo(t("bad_choice", n=count))


def _ask_text(t: Lang, prompt: str, max_chars: int, default: str) -> str:
    while True:
        raw: str = click.prompt(f"  {prompt}", default=default, show_default=bool(default))
        text = unicodedata.normalize("NFC", raw).strip()
        if len(text) <= max_chars:
            return text
        click.echo(t("too_long", n=max_chars))


def _ask_yes(t: Lang) -> bool:
    while True:
        raw: str = click.prompt(t("confirm"))
        answer = unicodedata.normalize("NFC", raw).strip().lower()
        if answer in YES:
            return True
        if answer in NO:
            return False
        click.echo(t("yes_no"))


def show_review(
    manifest: Manifest,
    ward: str,
    answers: Mapping[str, Any],
    t: Lang,
    heading: str | None = "review",
) -> None:
    """The ballot as a table per person rated (ratings, then comments)."""
    out = console()
    q = manifest.questionnaire
    levels = {lv.id: lv for lv in [*q.scale, *([q.abstain] if q.abstain else [])]}
    roles = {r.id: r for r in manifest.roles}
    fields = {c.id: c for c in q.comments}
    if heading:
        out.print()
        out.rule(t(heading))
    for subject in manifest.subjects_of(ward):
        answer = answers.get(subject.id, {})
        title = f"{t.label(subject.name)} ({t.label(roles[subject.role].title)})"
        table = Table(title=title, box=box.SIMPLE, title_justify="left")
        table.add_column(t("criterion_col"))
        table.add_column(t("rating_col"))
        for criterion in q.criteria:
            level = answer.get("ratings", {}).get(criterion.id)
            shown = t.label(levels[level].label) if level in levels else str(level)
            table.add_row(t.label(criterion.label), shown)
        out.print(table)
        comments = answer.get("comments", {})
        if not comments:
            out.print(f"  {t('no_comment')}")
        for name, text in comments.items():
            field_label = t.label(fields[name].label) if name in fields else name
            out.print(f"  {field_label}: {text}")


def show_receipt_code(code: str, t: Lang) -> None:
    """The receipt code, large: spaced out in a double box."""
    big = Text("  ".join(code.split("-")), style="bold", justify="center")
    console().print(
        Panel(big, title=t("receipt_title"), box=box.DOUBLE, padding=(1, 4), expand=False)
    )
    click.echo(f"{t('receipt_title')}: {code}")


def read_answers(path: Path) -> dict[str, Any]:
    """``{subject: {"ratings": {...}, "comments": {...}}}`` from a JSON file (comments in NFC)."""
    value = read_json_file(path)
    if not isinstance(value, dict):
        raise InputError(f"{path}: expected an object from subject id to its answer")
    for answer in value.values():
        comments = answer.get("comments") if isinstance(answer, dict) else None
        if isinstance(comments, dict):
            for name, text in list(comments.items()):
                if isinstance(text, str):
                    comments[name] = unicodedata.normalize("NFC", text)
    return value


# -- vote ----------------------------------------------------------------------------------------


@click.command()
@click.option(
    "--server",
    envvar="ANONBALLOT_SERVER",
    required=True,
    help="The server's URL (or ANONBALLOT_SERVER).",
)
@click.option("--round", "round_", required=True, help="The round: its round id (or its mid).")
@click.option("--code", required=True, help="Your invitation code, as printed on your slip.")
@click.option(
    "--answers",
    "answers_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help='The answers as JSON: {subject: {"ratings": {...}, "comments": {...}}}.',
)
@LANG_OPTION
@click.option(
    "--state",
    "state_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The state file that makes a rerun resume (default: anonballot-vote-ROUND-....json).",
)
@click.option(
    "--receipt",
    "receipt_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Where to save the receipt (default: receipt-ROUND-CODE.json).",
)
@clean_errors
def vote(
    server: str,
    round_: str,
    code: str,
    answers_file: Path | None,
    lang: str,
    state_file: Path | None,
    receipt_file: Path | None,
) -> None:
    """Vote: get an anonymous token, fill the ballot, cast it and save the receipt.

    If anything fails on the way, run the same command again: it resumes where it stopped
    and never casts twice.
    """
    import httpx

    t = Lang(lang)
    normalized = normalize_code(code)
    with ApiClient(server) as api:
        round_id, mid = resolve_round(api, round_)
        state_path = state_file or default_state_path(round_id, normalized)
        try:
            _vote(api, t, round_id, mid, normalized, answers_file, state_path, receipt_file)
        except ApiError as exc:
            if exc.status >= 500 and state_path.exists():
                raise TryAgain(exc.detail, state_path) from exc
            raise
        except (httpx.TransportError, TransferError) as exc:
            if state_path.exists():
                why = (
                    exc.detail
                    if isinstance(exc, TransferError)
                    else f"cannot reach the server: {exc}"
                )
                raise TryAgain(why, state_path) from exc
            raise


def _vote(
    api: ApiClient,
    t: Lang,
    round_id: str,
    mid: str,
    normalized: str,
    answers_file: Path | None,
    state_path: Path,
    receipt_file: Path | None,
) -> None:
    base = f"/api/rounds/{round_id}"
    fresh = not state_path.exists()
    if not fresh:
        state = load_state(state_path)
        if state.get("mid") != mid:
            raise InputError(f"{state_path} is the state of another round", code="bad_state")
        if state.get("done"):
            _finished_again(t, round_id, state, receipt_file, api.base)
            return
        if state.get("code_hash") != b64u_encode(code_hash(normalized)):
            raise InputError(
                f"{state_path} is the state of another invitation code", code="bad_state"
            )
        if not isinstance(state.get("participant"), dict):
            raise InputError(f"{state_path}: the participant's state is missing", code="bad_state")
        p = Participant.from_json(state["participant"])
        click.echo(t("resume", path=state_path))
    else:
        signed = api.get(f"{base}/manifest")
        ward = api.post(f"{base}/ward", json={"code": normalized})
        if not isinstance(ward, dict) or not isinstance(ward.get("ward"), str):
            raise StateError("the server did not name the ward of this code")
        p = Participant(signed, ward["ward"])  # verifies the signed manifest
    if p.manifest.mid != mid:
        raise StateError("the server's manifest does not match its own round list")
    click.echo(t("round", title=t.label(p.manifest.title)))
    click.echo(t("ward", ward=t.label(p.manifest.ward(p.ward).name)))

    answers: dict[str, Any] | None = None
    if answers_file is not None and p.leaf is None:
        answers = read_answers(answers_file)
        p.ballot(answers)  # a bad answers file fails here, before the code is used

    def save() -> None:
        save_state(state_path, participant_state(round_id, normalized, p))

    if p.token is None:
        blinded = p.request_token()
        save()  # protocol 5.2 step 4: persist before sending
        try:
            issued = api.post(
                f"{base}/tokens", json={"code": normalized, "blinded": b64u_encode(blinded)}
            )
        except ApiError as exc:
            if fresh and exc.code in ("code_used", "outside_window"):
                state_path.unlink(missing_ok=True)  # this request was never served
            if exc.code == "outside_window":
                raise _not_now(api, base, p.manifest, t, "issuance", state_path) from exc
            raise
        if not isinstance(issued, dict):
            raise StateError("the server's token answer is not an object")
        p.finish_token(b64u_decode(issued.get("blind_sig"), what="blind_sig"))
        save()
        click.echo(t("token"))

    if p.leaf is None:
        if answers is None:
            answers = ask_ballot(p.manifest, p.ward, t)
        while True:
            try:
                p.make_leaf(answers)
                break
            except BallotContentError as exc:
                # Too long for a leaf (protocol section 6.3), found before sealing: the
                # answers are asked again, as they were, for the comments to be shortened.
                if exc.code != "ballot_too_large" or answers_file is not None:
                    raise
                click.echo(error_line(exc))
                answers = ask_ballot(p.manifest, p.ward, t, previous=answers)
        save()  # the same sealed ballot is sent on every retry
    elif answers_file is not None or not fresh:
        click.echo(t("already_sealed"))

    if p.receipt is None:
        click.echo(t("sending"))
        try:
            answer = api.post(
                f"{base}/ballots", content=p.leaf, headers={"content-type": "application/json"}
            )
        except ApiError as exc:
            if exc.code == "outside_window":
                raise _not_now(api, base, p.manifest, t, "voting", state_path) from exc
            raise
        p.check_receipt(answer)
        save()
    receipt = p.receipt
    if receipt is None:  # check_receipt sets it
        raise StateError("no receipt")
    path = receipt_file or Path(f"receipt-{round_id}-{receipt.code}.json")
    write_private(path, jcs(receipt.to_json()))
    proof = _write_tlog_proof(path, _cosigned(api, round_id, p.manifest, receipt, t))
    save_state(state_path, finished_state(round_id, p))
    click.echo(t("cast"))
    show_receipt_code(receipt.code, t)
    click.echo(t("receipt_saved", path=path))
    click.echo(t("tlog_proof_saved", path=proof))
    click.echo(t("check_later", path=path, server=api.base))


def _not_now(
    api: ApiClient, base: str, manifest: Manifest, t: Lang, step: str, state_path: Path
) -> NotNow:
    """The server refused a step outside its window: say plainly, in the district's time,
    whether to come back (and when, on this same device) or that it is too late."""
    from anonballot.district import DISTRICT_TIME
    from anonballot.encoding import parse_time

    status = api.get(f"{base}/status")
    now = parse_time(str(status["now"])) if isinstance(status, dict) else None
    window = manifest.issuance if step == "issuance" else manifest.voting

    def local(text: str) -> str:
        return f"{parse_time(text).astimezone(DISTRICT_TIME):%H:%M %d/%m/%Y}"

    opens, closes = local(window.opens), local(window.closes)
    early = now is not None and now < parse_time(window.opens)
    if step == "issuance":
        key = "not_yet_issuance" if early else "too_late_issuance"
        return NotNow(t(key, opens=opens, closes=closes))
    if early:
        return NotNow(t("not_yet_voting", opens=opens, closes=closes, path=state_path))
    return NotNow(t("too_late_voting", closes=closes))


COSIGN_WAIT = 10.0
"""Seconds ``vote`` waits for the witnesses to cosign a board holding the new ballot."""


def _cosigned(
    api: ApiClient, round_id: str, manifest: Manifest, receipt: Receipt, t: Lang
) -> Receipt:
    """The receipt proven in the first checkpoint a quorum of the round's witnesses cosigned
    that holds the ballot (the server pushes its checkpoints every few seconds: protocol
    section 6.9), for the tlog-proof; the receipt itself when the round names no witnesses,
    or when none came within :data:`COSIGN_WAIT` seconds (said)."""
    import time

    from anonballot.receipt import with_checkpoint

    policy = manifest.witnesses
    if policy is None:
        return receipt
    click.echo(t("waiting_witnesses"))
    size = Checkpoint.parse(receipt.checkpoint, manifest.origin, manifest.log_key).size
    deadline = time.monotonic() + COSIGN_WAIT
    while time.monotonic() < deadline:
        note = api.get(f"/log/{round_id}/checkpoint")
        text = note.decode("utf-8") if isinstance(note, bytes) else str(note)
        latest = Checkpoint.parse(text, manifest.origin, manifest.log_key)
        if latest.size >= size and policy.vouched(text):
            answer = api.get(f"/api/rounds/{round_id}/proof/inclusion",
                             params={"index": receipt.leaf_index, "size": latest.size})  # fmt: skip
            hashes = answer.get("proof") if isinstance(answer, dict) else None
            if not isinstance(hashes, list):
                raise StateError("the server's answer has no proof")
            proof = [b64u_decode(h, length=32, what="proof") for h in hashes]
            try:
                return with_checkpoint(receipt, manifest, text, proof)
            except AnonBallotError as exc:
                raise CheckFailed(f"inclusion: {exc.detail}") from exc
        time.sleep(0.5)
    click.echo(t("witnesses_later"))
    return receipt


def _write_tlog_proof(path: Path, receipt: Receipt) -> Path:
    """The receipt also as a c2sp.org/tlog-proof beside it (``.tlog-proof``): the same proof
    in the transparency logs' own format, checked offline with the round's manifest."""
    proof = path.with_suffix(".tlog-proof")
    write_private(proof, receipt.to_tlog_proof())
    return proof


def _finished_again(
    t: Lang, round_id: str, state: Mapping[str, Any], receipt_file: Path | None, server: str
) -> None:
    receipt = Receipt.from_json(state.get("receipt"))
    path = receipt_file or Path(f"receipt-{round_id}-{receipt.code}.json")
    if not path.exists():
        write_private(path, jcs(receipt.to_json()))
    click.echo(t("already_voted"))
    show_receipt_code(receipt.code, t)
    click.echo(t("receipt_saved", path=path))
    click.echo(t("check_later", path=path, server=server))


# -- receipt verify ------------------------------------------------------------------------------


@click.group()
def receipt() -> None:
    """Receipts of cast ballots."""


@receipt.command("verify")
@click.argument("receipt_file", type=click.Path(path_type=Path, dir_okay=False), required=False)
@click.option(
    "--code",
    default=None,
    help="Instead of a receipt file: the receipt code written down (20 hex digits), looked "
    "up privately in the board's tiles (with --server and --round).",
)
@click.option("--round", "round_", default=None, help="With --code: the round (id or mid).")
@click.option(
    "--server",
    default=None,
    envvar="ANONBALLOT_SERVER",
    help="Check against the server at this URL (or ANONBALLOT_SERVER).",
)
@click.option(
    "--record",
    "record_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Check against a round record (folder or .zip) instead.",
)
@click.option(
    "--manifest",
    "manifest_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Offline: check the receipt's own proof against the round's signed manifest "
    "(manifest.json) alone.",
)
@access_token_option
@LANG_OPTION
@clean_errors
def verify(
    receipt_file: Path | None, code: str | None, round_: str | None, server: str | None,
    record_path: Path | None, manifest_file: Path | None, access_token_file: Path | None,
    lang: str,
) -> None:  # fmt: skip
    """Check a receipt: inclusion, consistency, and after the tally how it was counted.

    RECEIPT_FILE is the receipt as JSON or as a c2sp.org/tlog-proof (.tlog-proof). With
    --manifest, offline: the board's signature and the proof that the ballot is on it, from
    the receipt and the round's manifest alone. A restricted round's results need an access
    token (--access-token-file or ANONBALLOT_ACCESS_TOKEN); without one, every other check
    is made. Exit 0 when every check passes, 1 when one fails, 2 on bad input.
    """
    t = Lang(lang)
    if code is not None:
        if receipt_file is not None or server is None or round_ is None:
            raise InputError(t("code_needs"))
        _verify_code(code, server, round_, t)
        click.echo(t("all_good"))
        return
    if receipt_file is None:
        raise InputError(t("receipt_needed"))
    source = click.get_current_context().get_parameter_source("server")
    if (record_path is not None or manifest_file is not None) and (
        source is click.core.ParameterSource.ENVIRONMENT
    ):
        server = None  # an explicit --record or --manifest wins over the environment's server
    if [server, record_path, manifest_file].count(None) != 2:
        raise InputError(t("receipt_where"))
    try:
        rc = read_receipt(receipt_file.read_bytes()[: MAX_RECEIPT + 1])
    except AnonBallotError as exc:
        raise InputError(f"{receipt_file}: {exc.detail}", code="bad_receipt") from exc
    if manifest_file is not None:
        _verify_offline(rc, manifest_file, t)
    elif server is not None:
        with ApiClient(server, read_access_token(access_token_file)) as api:
            _verify_with_server(api, rc, t)
    elif record_path is not None:
        with Record(record_path) as record:
            _verify_with_record(record, rc, t)
    click.echo(t("all_good"))


def _ok(t: Lang, text: str) -> None:
    click.echo(f"{t('ok')} {text}")


class ServerSource:
    """The server's API as the source of :func:`~anonballot.receipt.verify_receipt`."""

    def __init__(self, api: ApiClient, round_id: str) -> None:
        self.api = api
        self.round_id = round_id
        self.base = f"/api/rounds/{round_id}"
        self.note: str | None = None
        """The latest checkpoint, as the server gave it (with its witnesses' cosignatures)."""
        self.restricted = False
        """Whether the server refused the results as restricted (no access token)."""

    def _optional(self, path: str) -> object | None:
        try:
            value: object = self.api.get(f"{self.base}/{path}")
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        return value

    def signed_manifest(self) -> object:
        value: object = self.api.get(f"{self.base}/manifest")
        return value

    def checkpoint(self) -> str | bytes:
        note = self.api.get(f"{self.base}/checkpoint")
        if not isinstance(note, str | bytes):
            raise StateError("the server's checkpoint is not text")
        self.note = note.decode("utf-8", errors="replace") if isinstance(note, bytes) else note
        return note

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        answer = self.api.get(f"{self.base}/proof/consistency", params={"old": old, "new": new})
        hashes = answer.get("proof") if isinstance(answer, dict) else None
        if not isinstance(hashes, list):
            raise StateError("the server's answer has no proof")
        return [b64u_decode(h, length=32, what="proof") for h in hashes]

    def close_statement(self) -> object | None:
        return self._optional("close")

    def leaf(self, index: int) -> bytes:
        """Leaf ``index``, read with the whole entry bundle of the log's tiles that holds it
        (protocol section 6.8): the server learns which 256 ballots were read, never which
        one, as a request for the leaf alone would tell it."""
        from anonballot.board import TILE_WIDTH, TilePath
        from anonballot.hazmat.tiles import MAX_ENTRY_SIZE, decode_entry_bundle

        if self.note is None:
            self.checkpoint()
        lines = (self.note or "").split("\n", 2)
        # the checkpoint's size line (a hostile server's note may have none: then no leaf)
        size = int(lines[1]) if len(lines) > 1 and lines[1].isascii() and lines[1].isdigit() else 0
        if not 0 <= index < size:
            raise NotFound(f"leaf {index} is not on the board of {size}")
        tile = index // TILE_WIDTH
        width = min(TILE_WIDTH, size - tile * TILE_WIDTH)
        path = TilePath(None, tile, None if width == TILE_WIDTH else width).path()
        try:
            _, body = self.api.fetch(
                "GET", f"/log/{self.round_id}/{path}", limit=width * (MAX_ENTRY_SIZE + 2)
            )
            entries = decode_entry_bundle(body)
            if len(entries) != width:
                raise NotFound(f"{path}: {len(entries)} entries, not {width}")
            return entries[index % TILE_WIDTH]
        except ApiError as exc:
            raise NotFound(f"the server did not give the entries of leaf {index}") from exc
        except AnonBallotError as exc:
            raise NotFound(f"{path}: {exc.detail}") from exc

    def releases(self) -> list[object]:
        try:
            releases = self.api.get(f"{self.base}/releases")
        except ApiError as exc:
            if exc.code != "restricted":
                raise
            self.restricted = True  # the receipt's other checks need no release
            return []
        if not isinstance(releases, dict):
            raise StateError("the server's releases are not an object")
        return list(releases.values())

    def results(self) -> object | None:
        try:
            return self._optional("results")
        except ApiError as exc:
            if exc.code != "restricted":
                raise
            self.restricted = True
            return None


def _verify_with_server(api: ApiClient, rc: Receipt, t: Lang) -> None:
    round_id, _ = resolve_round(api, rc.round)
    source = ServerSource(api, round_id)
    _render(verify_receipt(rc, source), t, restricted=source.restricted, note=source.note)


def _say_witnesses(t: Lang, manifest: Manifest | None, note: str | None) -> None:
    """Which of the round's witnesses (``M.witnesses``) cosigned the checkpoint ``note``."""
    policy = manifest.witnesses if manifest is not None else None
    if policy is None or note is None:
        return
    names = [w.name for w in policy.cosigners(note)]
    fields = {"count": len(names), "total": len(policy.witnesses), "quorum": policy.quorum,
              "names": ", ".join(names) or "-"}  # fmt: skip
    if len(names) >= policy.quorum:
        _ok(t, t("witnesses_ok", **fields))
    else:
        click.echo(t("witnesses_pending", **fields))


MAX_TILE = 256 * 32
"""A level-0 hash tile: at most 256 hashes of 32 bytes (protocol section 6.8)."""


def _verify_code(code: str, server: str, round_: str, t: Lang) -> None:
    """Find a written-down receipt code on the board without telling the server which: every
    level-0 tile of the latest checkpoint's tree is fetched (all leaf hashes, 32 bytes a
    ballot) and the code is looked for here (receipt_for_code). The receipt built from them
    is then checked as a receipt file is, up to how the ballot was counted; its leaf is read
    with its whole entry bundle (:meth:`ServerSource.leaf`), so no request names it."""
    from anonballot.board import TILE_WIDTH, TilePath
    from anonballot.receipt import normalize_receipt_code, receipt_for_code

    normalize_receipt_code(code)  # a mistyped code fails before any download
    with ApiClient(server) as api:
        round_id, mid = resolve_round(api, round_)
        manifest = Manifest.from_signed(api.get(f"/api/rounds/{round_id}/manifest"))
        if manifest.mid != mid:
            raise StateError("the server's manifest does not match its own round list")
        note = api.get(f"/log/{round_id}/checkpoint")
        text = note.decode("utf-8") if isinstance(note, bytes) else str(note)
        size = Checkpoint.parse(text, manifest.origin, manifest.log_key).size
        hashes: list[bytes] = []
        for index in range(-(-size // TILE_WIDTH)):
            width = min(TILE_WIDTH, size - index * TILE_WIDTH)
            tile = TilePath(0, index, None if width == TILE_WIDTH else width)
            data = api.get(f"/log/{round_id}/{tile.path()}")
            if not isinstance(data, bytes) or len(data) != 32 * width:
                raise CheckFailed(t("bad_tile", path=tile.path()))
            hashes += [data[i : i + 32] for i in range(0, len(data), 32)]
        try:
            rc = receipt_for_code(code, manifest, text, hashes)
        except NotFound as exc:
            raise CheckFailed(exc.detail) from exc
        except AnonBallotError as exc:
            raise CheckFailed(f"inclusion: {exc.detail}") from exc
        _verify_with_server(api, rc, t)
    click.echo(t("code_private"))


def _verify_offline(rc: Receipt, manifest_file: Path, t: Lang) -> None:
    """The receipt's own proof, against the signed manifest alone: nothing from a server."""
    manifest = Manifest.from_signed(read_json_file(manifest_file))
    try:
        checkpoint = rc.verify(manifest)
    except AnonBallotError as exc:
        raise CheckFailed(f"inclusion: {exc.detail}") from exc
    click.echo(t("receipt_head", code=rc.code, n=rc.leaf_index + 1, round=manifest.round_id))
    _ok(t, t("inclusion", size=checkpoint.size))
    _say_witnesses(t, manifest, rc.checkpoint)
    click.echo(t("offline_only"))


def _verify_with_record(record: Record, rc: Receipt, t: Lang) -> None:
    report = verify_receipt(rc, RecordSource(record))
    failure, manifest = report.failure, report.manifest
    if failure is not None and failure.code == "wrong_round" and manifest is not None:
        raise InputError(
            f"the record is of round {manifest.round_id} ({manifest.mid}), "
            f"the receipt of round {rc.round}",
            code="wrong_round",
        )
    note = record.read("checkpoint.txt").decode("utf-8", errors="replace")
    _render(report, t, note=note)


def _render(
    report: ReceiptReport, t: Lang, *, restricted: bool = False, note: str | None = None
) -> None:
    """Print each check of ``report`` that passed; the first that failed is the error;
    ``note``, the board's latest (or final) checkpoint: which witnesses vouch for it."""
    rc = report.receipt
    checks = {c.id: c for c in report.checks}
    for check in report.checks:
        if not check.passed:
            raise CheckFailed(f"{check.id}: {check.detail}")
        if check.id == "manifest" and report.manifest is not None:
            head = t("receipt_head", code=rc.code, n=rc.leaf_index + 1, round=check.detail)
            click.echo(head)
        elif check.id == "inclusion":
            _ok(t, t("inclusion", size=report.receipt_size))
        elif check.id == "consistency" and "close" not in checks:
            _ok(t, t("latest", size=report.board_size))
        elif check.id == "close":
            _ok(t, t("final", size=report.board_size))
    _say_witnesses(t, report.manifest, note)
    counted = report.counted
    if counted is None:
        click.echo(t("restricted") if restricted else t("not_tallied"))
    elif counted.answers is None:
        _ok(t, t("counted_invalid", reason=counted.reason))
    else:
        _ok(t, t("counted_valid"))
        if report.manifest is not None:
            show_review(report.manifest, counted.ward, counted.answers, t, heading=None)


COMMANDS: tuple[click.Command, ...] = (vote, receipt)
"""The commands this module adds to ``anonballot`` (cli/main.py adds them)."""
