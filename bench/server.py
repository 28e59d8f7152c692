"""Server benchmark: issuances and casts per second, p50 and p99 latency, durability on.

::

    .venv/bin/python bench/server.py                 # 1, 16 and 64 clients, 3072-bit keys
    .venv/bin/python bench/server.py --quick         # small counts: a smoke test
    .venv/bin/python bench/server.py --clients 64 --casts 8000 --issuances 0
    .venv/bin/python bench/server.py --profile       # py-spy the server: raw stacks (--gil)

Results and findings: bench/README.md, section "Server benchmark".

What it does:

1. Sets up a fresh data directory (under ``--out``, default ``bench/out/server/``) like an
   office would: the first ``--wards`` demo wards, fresh ``--key-bits`` issuer keys, a roster
   with one invitation code per planned issuance, and an open round.
2. Prepares all the work before the server starts, so that the load generator only sends:
   a blinded token request per invitation code (:class:`anonballot.tokens.TokenRequest`),
   and the leaves for the casts. **The casts' tokens are signed directly with the issuer
   key** (:meth:`IssuerKey.sign_token_directly`, no blinding round trip): that only makes
   the preparation faster; such a token verifies exactly like a blind-issued one. Each leaf
   carries honest random answers, sealed for the round's trustees and signed by its voter
   key, as :class:`anonballot.participant.Participant` makes them.
3. Starts ``anonballot serve`` on 127.0.0.1 (a separate process, the real CLI, SQLite with
   ``synchronous=FULL``: every answer is given only after its data is on disk).
4. For each client count runs the load generator in another separate process: that many
   HTTP/1.1 keep-alive connections over raw asyncio streams, each sending its next request
   as soon as the previous answer arrived (a closed loop), bounded by the number of prepared
   requests and by ``--seconds``. Every answer must be a 200, or the benchmark fails.
5. Prints a table (clients, operations per second, p50, p99, server CPU per operation) and
   writes it as JSON next to the data directory.

The internal ``--load`` mode is what the load generator process runs. Everything is on the
loopback interface only.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures as cf
import contextlib
import json
import os
import platform
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "out" / "server"
ROUND_ID = "bench-server"
HOST = "127.0.0.1"
KEEP_RESULTS = bool(os.environ.get("BENCH_KEEP_RESULTS"))
"""Keep each level's raw answers (latencies and start times) under ``--out``/tmp."""
ANSWER_TIMEOUT = 30.0
"""Seconds the load generator waits for one answer (a request never answered is counted
as status 0, and the benchmark fails)."""
WARMUP = 32
"""Requests of each kind sent (and not measured) before the first measured level."""


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- prepared requests on disk: length-prefixed byte strings ----------------------------------


def write_items(path: Path, items: Sequence[bytes]) -> None:
    with path.open("wb") as out:
        for item in items:
            out.write(struct.pack(">I", len(item)))
            out.write(item)


def read_items(path: Path) -> list[bytes]:
    data = path.read_bytes()
    items = []
    pos = 0
    while pos < len(data):
        (size,) = struct.unpack_from(">I", data, pos)
        items.append(data[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return items


def http_request(path: str, body: bytes, content_type: str) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


# -- setup -----------------------------------------------------------------------------------


def setup_office(data: Path, *, wards: int, codes: int, key_bits: int) -> list[tuple[str, str]]:
    """A data directory with an open round and ``codes`` invitation codes; (code, ward)."""
    from anonballot.server.roster import RosterEntry
    from anonballot.server.service import Service
    from anonballot.testing import demo_config

    if data.exists():
        shutil.rmtree(data)
    service = Service(data, key_bits=key_bits)
    try:
        service.new_admin_token()
        config, _ = demo_config(wards=wards, round_id=ROUND_ID)
        service.set_district(config.district)
        ward_ids = [w.id for w in config.district.wards]
        service.import_roster(
            [RosterEntry(ward_ids[i % len(ward_ids)], f"Người {i:06d}") for i in range(codes)]
        )
        service.create_round(config)
        invitations = service.make_invitations(ROUND_ID)
        service.round(ROUND_ID).open()
    finally:
        service.close()
    return [(inv.code, inv.ward) for inv in invitations]


def round_secrets(data: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The signed manifest and the issuer keys' PEM of the bench round (read directly)."""
    from anonballot.server.service import Service

    service = Service(data)
    try:
        engine = service.round(ROUND_ID)
        manifest = engine.signed_manifest()
        pems = {}
        for ward in engine.manifest.wards:
            pem = engine.store.get_secret(f"issuer/{ward.id}")
            if pem is None:
                raise RuntimeError(f"no issuer key for ward {ward.id}")
            pems[ward.id] = pem
    finally:
        service.close()
    return manifest, pems


_WORKER: dict[str, Any] = {}


def _init_worker(manifest: dict[str, Any], pems: dict[str, bytes]) -> None:
    from anonballot.manifest import Manifest
    from anonballot.tokens import IssuerKey

    _WORKER["signed"] = manifest
    _WORKER["manifest"] = Manifest.from_signed(manifest)
    _WORKER["issuers"] = {w: IssuerKey.from_pem(p) for w, p in pems.items()}


def _blinded_requests(items: list[tuple[str, str]]) -> list[bytes]:
    """JSON bodies ``{"code", "blinded"}`` for (code, ward) pairs."""
    from anonballot.encoding import b64u_encode
    from anonballot.signing import SigningKey
    from anonballot.tokens import TokenRequest

    manifest = _WORKER["manifest"]
    out = []
    for code, ward in items:
        request = TokenRequest.create(manifest.issuer_key(ward), SigningKey.generate().public_key)
        body = {"code": code, "blinded": b64u_encode(request.blinded)}
        out.append(json.dumps(body, separators=(",", ":")).encode())
    return out


def _leaves(task: tuple[list[str], int]) -> list[bytes]:
    """One leaf per ward in ``wards``, tokens signed directly with the issuer key."""
    from anonballot.hazmat.blind_rsa import prepare_randomize
    from anonballot.participant import Participant
    from anonballot.signing import SigningKey
    from anonballot.testing import random_answers

    wards, seed = task
    rng = random.Random(seed)
    out = []
    for ward in wards:
        p = Participant(_WORKER["signed"], ward)
        p.voter_key = SigningKey.generate()
        msg = prepare_randomize(p.voter_key.public_key.to_bytes())
        p.token = _WORKER["issuers"][ward].sign_token_directly(msg)
        out.append(p.make_leaf(random_answers(p.manifest, ward, rng)))
    return out


def _chunks(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def prepare(
    data: Path, codes: list[tuple[str, str]], casts: int, workers: int
) -> tuple[list[bytes], list[bytes]]:
    """Token request bodies for ``codes`` and ``casts`` leaves, built on ``workers`` cores."""
    manifest, pems = round_secrets(data)
    ward_ids = sorted(pems)
    cast_wards = [ward_ids[i % len(ward_ids)] for i in range(casts)]
    with cf.ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(manifest, pems)) as ex:
        bodies = [b for part in ex.map(_blinded_requests, _chunks(codes, 200)) for b in part]
        tasks = [(chunk, i) for i, chunk in enumerate(_chunks(cast_wards, 100))]
        leaves = [leaf for part in ex.map(_leaves, tasks) for leaf in part]
    return bodies, leaves


# -- the server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


SERVE = "import sys; from anonballot.cli.main import main; sys.exit(main())"
"""``anonballot serve`` with this interpreter (``python -m anonballot.cli.main`` does not
register the ``serve`` command: there the module runs as ``__main__``)."""


def start_server(data: Path, port: int, tiles: Path | None = None) -> subprocess.Popen[bytes]:
    extra = [] if tiles is None else ["--tiles-dir", str(tiles)]
    proc = subprocess.Popen(  # noqa: S603 (our own entry point, fixed arguments)
        [sys.executable, "-c", SERVE, "serve", "--data", str(data), "--host", HOST,
         "--port", str(port), *extra],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the server did not come up")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children that were waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    total = ticks / os.sysconf("SC_CLK_TCK")
    # Live children (a signing pool) are not in cutime/cstime until they exit.
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        for child in children.read_text().split():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                total += cpu_seconds(int(child))
    return total


# -- the load generator (a separate process) ------------------------------------------------------


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = await reader.readexactly(length)
    return status, body


async def _load(port: int, requests: list[bytes], clients: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    starts: list[float] = []
    statuses: dict[int, int] = {}
    samples: list[str] = []
    next_index = 0
    deadline = time.monotonic() + seconds

    async def client() -> None:
        nonlocal next_index
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while next_index < len(requests) and time.monotonic() < deadline:
                request = requests[next_index]
                next_index += 1
                t0 = time.perf_counter()
                writer.write(request)
                try:
                    status, body = await asyncio.wait_for(_read_answer(reader), ANSWER_TIMEOUT)
                except TimeoutError:
                    statuses[0] = statuses.get(0, 0) + 1  # no answer: the level fails
                    return
                latencies.append(time.perf_counter() - t0)
                starts.append(t0)
                statuses[status] = statuses.get(status, 0) + 1
                if status != 200 and len(samples) < 5:
                    samples.append(f"{status} {body[:200]!r}")
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - t0
    return {
        "latencies": latencies,
        "starts": [s - t0 for s in starts],
        "statuses": statuses,
        "samples": samples,
        "elapsed": elapsed,
    }


def run_load_process(args: argparse.Namespace) -> None:
    requests = read_items(Path(args.load))
    start = time.process_time()
    result = asyncio.run(_load(args.port, requests, args.clients[0], args.seconds))
    result["load_cpu"] = time.process_time() - start
    Path(args.result).write_text(json.dumps(result))


@dataclass
class Level:
    kind: str
    clients: int
    ops: int
    elapsed: float
    p50_ms: float
    p99_ms: float
    server_cpu_ms: float
    load_cpu_ms: float
    loadavg: float
    """The machine's 1-minute load average when the level started (other work shows here)."""

    @property
    def rate(self) -> float:
        return self.ops / self.elapsed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(
    kind: str,
    server: subprocess.Popen[bytes],
    port: int,
    requests: list[bytes],
    clients: int,
    seconds: float,
    tmp: Path,
) -> Level:
    load_file, result_file = tmp / f"{kind}-{clients}.bin", tmp / f"{kind}-{clients}.json"
    write_items(load_file, requests)
    loadavg = os.getloadavg()[0]
    cpu0 = cpu_seconds(server.pid)
    subprocess.run(  # noqa: S603 (this script, fixed arguments)
        [sys.executable, __file__, "--load", str(load_file), "--port", str(port),
         "--clients", str(clients), "--seconds", str(seconds), "--result", str(result_file)],
        check=True,
        timeout=seconds + 120,
    )  # fmt: skip
    server_cpu = cpu_seconds(server.pid) - cpu0
    result = json.loads(result_file.read_text())
    load_file.unlink()
    if not KEEP_RESULTS:
        result_file.unlink()
    statuses = {int(k): v for k, v in result["statuses"].items()}
    if set(statuses) != {200}:
        raise RuntimeError(f"{kind} at {clients} clients: answers {statuses}: {result['samples']}")
    ops = statuses[200]
    latencies = result["latencies"]
    return Level(
        kind,
        clients,
        ops,
        result["elapsed"],
        percentile(latencies, 0.50) * 1000,
        percentile(latencies, 0.99) * 1000,
        server_cpu / ops * 1000,
        result["load_cpu"] / ops * 1000,
        loadavg,
    )


# -- the driver --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--key-bits", type=int, default=3072)
    parser.add_argument("--wards", type=int, default=4)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument(
        "--issuances", type=int, nargs="+", default=[600, 3000, 4000],
        help="issuances sent at each client count (one value, or one per --clients)",
    )  # fmt: skip
    parser.add_argument(
        "--casts", type=int, nargs="+", default=[1000, 6000, 12000],
        help="casts sent at each client count (one value, or one per --clients)",
    )  # fmt: skip
    parser.add_argument("--seconds", type=float, default=15.0, help="time bound of each level")
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke test")
    parser.add_argument("--profile", action="store_true", help="py-spy record the server")
    parser.add_argument(
        "--tiles", action="store_true", help="serve with --tiles-dir (the log written as tiles)"
    )
    # the load generator process
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load:
        run_load_process(args)
        return 0
    if args.quick:
        args.issuances, args.casts, args.seconds = [60], [200], 10.0
    clients: list[int] = args.clients
    issuances = _per_level(args.issuances, clients, "--issuances")
    casts = _per_level(args.casts, clients, "--casts")

    args.out.mkdir(parents=True, exist_ok=True)
    data = args.out / "data"
    tmp = args.out / "tmp"
    tmp.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    n_codes = sum(issuances) + WARMUP
    codes = setup_office(data, wards=args.wards, codes=n_codes, key_bits=args.key_bits)
    _log(f"set up {len(codes)} invitation codes in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    bodies, leaves = prepare(data, codes, sum(casts) + WARMUP, os.cpu_count() or 1)
    _log(
        f"prepared {len(bodies)} token requests and {len(leaves)} leaves "
        f"(tokens signed directly) in {time.perf_counter() - t0:.1f} s"
    )
    tokens_path = f"/api/rounds/{ROUND_ID}/tokens"
    ballots_path = f"/api/rounds/{ROUND_ID}/ballots"
    token_requests = [http_request(tokens_path, b, "application/json") for b in bodies]
    cast_requests = [http_request(ballots_path, leaf, "application/json") for leaf in leaves]

    port = free_port()
    tiles = args.out / "tiles" if args.tiles else None
    if tiles is not None and tiles.exists():
        shutil.rmtree(tiles)
    server = start_server(data, port, tiles)
    profiler = None
    levels: list[Level] = []
    try:
        measure("issuance", server, port, token_requests[:WARMUP], 4, 60, tmp)
        measure("cast", server, port, cast_requests[:WARMUP], 4, 60, tmp)
        if args.profile:
            profiler = subprocess.Popen(  # noqa: S603
                [str(Path(sys.executable).parent / "py-spy"), "record", "--pid",
                 str(server.pid), "--gil", "--format", "raw", "--rate", "100",
                 "--output", str(args.out / "profile.txt")],
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(1)
        pos_i = pos_c = WARMUP
        for n, count in zip(clients, issuances, strict=True):
            if count:
                level = measure(
                    "issuance", server, port, token_requests[pos_i : pos_i + count], n,
                    args.seconds, tmp,
                )  # fmt: skip
                levels.append(level)
                _log(_row(level))
            pos_i += count
        for n, count in zip(clients, casts, strict=True):
            if count:
                level = measure(
                    "cast", server, port, cast_requests[pos_c : pos_c + count], n,
                    args.seconds, tmp,
                )  # fmt: skip
                levels.append(level)
                _log(_row(level))
            pos_c += count
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(timeout=60)
        stop_server(server)

    print(f"server benchmark: {args.key_bits}-bit issuer keys, {args.wards} wards, durability on")
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    print(f"machine: {machine}, Python {platform.python_version()}")
    print("(the load generator runs on the same machine, in its own process)")
    print()
    print(f"{'operation':<10} {'clients':>7} {'ops':>6} {'ops/s':>8} {'p50 ms':>8} {'p99 ms':>8}"
          f" {'server CPU ms/op':>17} {'load avg':>9}")  # fmt: skip
    for level in levels:
        print(_row(level))
    report = [level.__dict__ | {"rate": level.rate} for level in levels]
    (args.out / "results.json").write_text(json.dumps(report, indent=2))
    return 0


def _per_level(values: list[int], clients: list[int], what: str) -> list[int]:
    if len(values) == 1:
        return values * len(clients)
    if len(values) != len(clients):
        raise SystemExit(f"{what}: give one value or one per --clients")
    return values


def _row(level: Level) -> str:
    return (
        f"{level.kind:<10} {level.clients:>7} {level.ops:>6} {level.rate:>8.0f} "
        f"{level.p50_ms:>8.1f} {level.p99_ms:>8.1f} {level.server_cpu_ms:>17.2f} "
        f"{level.loadavg:>9.2f}"
    )


if __name__ == "__main__":
    sys.exit(main())
