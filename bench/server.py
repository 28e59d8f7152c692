"""Server benchmark: issuances and casts per second, p50 and p99 latency, durability on.

::

    .venv/bin/python bench/server.py                 # 1, 16 and 64 clients, 3072-bit keys
    .venv/bin/python bench/server.py --quick         # small counts: a smoke test
    .venv/bin/python bench/server.py --clients 64 --casts 8000 --issuances 0
    .venv/bin/python bench/server.py --profile       # py-spy the server: raw stacks (--gil)
    .venv/bin/python bench/server.py --witnesses 3   # the round names 3 witness processes
    .venv/bin/python bench/server.py --database auto --instances 2   # PostgreSQL, 2 servers

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

With ``--witnesses N`` the round's manifest names N witnesses (quorum ``min(2, N)``), each
an ``anonballot witness serve`` process of its own on 127.0.0.1 (as a trustee's machine
would be: they do not share the server's GIL). The server's cosigner pushes its newest
checkpoint to them while the casts arrive; during each level the driver samples twice a
second the served checkpoint (``/log/<round>/checkpoint``) and each witness's latest
cosigned size (read from its ``witness.db``), and after the load stops it times how long
until the served checkpoint carries every witness's cosignature.

With ``--database`` the state is in PostgreSQL (``auto``: a throwaway cluster started for
the run, with fsync on, as a district's would be; or a ``postgresql://`` URL) and
``--instances N`` starts N ``anonballot serve --database`` processes on it; the load
generator's clients take the instances in turn (client ``i`` talks to instance ``i % N``),
as a reverse proxy spreading connections would.

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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from anonballot.witness import WitnessPolicy

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


def setup_office(
    data: Path,
    *,
    wards: int,
    codes: int,
    key_bits: int,
    witnesses: WitnessPolicy | None = None,
    database: str | None = None,
) -> list[tuple[str, str]]:
    """A data directory with an open round and ``codes`` invitation codes; (code, ward)."""
    import dataclasses

    from anonballot.server.roster import RosterEntry
    from anonballot.server.service import Service
    from anonballot.testing import demo_config

    if data.exists():
        shutil.rmtree(data)
    service = Service(data, key_bits=key_bits, database=database)
    try:
        service.new_admin_token()
        config, _ = demo_config(wards=wards, round_id=ROUND_ID)
        if witnesses is not None:
            config = dataclasses.replace(config, witnesses=witnesses)
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


def round_secrets(
    data: Path, database: str | None = None
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The signed manifest and the issuer keys' PEM of the bench round (read directly)."""
    from anonballot.server.service import Service

    service = Service(data, database=database)
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
    data: Path, codes: list[tuple[str, str]], casts: int, workers: int, database: str | None
) -> tuple[list[bytes], list[bytes]]:
    """Token request bodies for ``codes`` and ``casts`` leaves, built on ``workers`` cores."""
    manifest, pems = round_secrets(data, database)
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


def start_server(
    data: Path, port: int, tiles: Path | None = None, database: str | None = None
) -> subprocess.Popen[bytes]:
    extra = [] if tiles is None else ["--tiles-dir", str(tiles)]
    extra += [] if database is None else ["--database", database]
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


# -- witnesses (--witnesses N) ------------------------------------------------------------------


@dataclass
class Witnesses:
    """The witness processes of the bench round and how to read their state."""

    names: list[str]
    ports: list[int]
    keys: list[Path]
    dirs: list[Path]
    procs: list[subprocess.Popen[bytes]]


def make_witnesses(out: Path, count: int) -> tuple[Witnesses, WitnessPolicy]:
    """``count`` fresh witness keys (files under ``out``) and the round's policy naming them."""
    from anonballot.keyfile import write_private
    from anonballot.witness import PolicyWitness, WitnessKey, WitnessPolicy

    root = out / "witnesses"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    w = Witnesses([], [], [], [], [])
    listed = []
    for i in range(count):
        key = WitnessKey.generate(f"witness.bench/w{i + 1}")
        port = free_port()
        path = root / f"w{i + 1}.key"
        write_private(path, key.private_text())
        w.names.append(key.name)
        w.ports.append(port)
        w.keys.append(path)
        w.dirs.append(root / f"w{i + 1}")
        listed.append(PolicyWitness(key.verifier, f"http://{HOST}:{port}"))
    return w, WitnessPolicy(tuple(listed), min(2, count))


def wait_port(proc: subprocess.Popen[bytes], port: int, what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{what} did not come up")


def start_witnesses(w: Witnesses, manifest: dict[str, Any], out: Path) -> None:
    """``anonballot witness serve`` for each witness, following the bench round's log."""
    from anonballot.hazmat.note import verifier_key
    from anonballot.manifest import Manifest

    m = Manifest.from_signed(manifest)
    follow = f"{m.origin}={verifier_key(m.origin, m.log_key)}"
    for key, data, port in zip(w.keys, w.dirs, w.ports, strict=True):
        with (out / "witnesses" / f"{data.name}.log").open("ab") as log:
            proc = subprocess.Popen(  # noqa: S603 (our own entry point, fixed arguments)
                [sys.executable, "-c", SERVE, "witness", "serve", "--key", str(key),
                 "--data", str(data), "--host", HOST, "--port", str(port), "--log", follow],
                stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
        w.procs.append(proc)
        wait_port(proc, port, f"witness {data.name}")


def witness_sizes(w: Witnesses) -> list[int]:
    """Each witness's latest cosigned size (0 before its first), read from its database."""
    import sqlite3

    sizes = []
    for data in w.dirs:
        db = data / "witness.db"
        size = 0
        if db.exists():
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
            try:
                rows = conn.execute("SELECT size FROM latest").fetchall()
                size = max((int(r[0]) for r in rows), default=0)
            except sqlite3.Error:
                pass
            finally:
                conn.close()
        sizes.append(size)
    return sizes


def served_checkpoint(port: int) -> tuple[int, int]:
    """The size of ``/log/<round>/checkpoint`` and how many cosignature lines it carries
    (signature lines other than the log's own, whose name is the origin)."""
    import httpx

    note = httpx.get(f"http://{HOST}:{port}/log/{ROUND_ID}/checkpoint", timeout=10).text
    body, _, sigs = note.partition("\n\n")
    origin, size = body.split("\n")[:2]
    lines = [line for line in sigs.split("\n") if line.startswith("\u2014 ")]
    return int(size), sum(1 for line in lines if not line.startswith(f"\u2014 {origin} "))


class Watch:
    """Samples the served checkpoint and the witnesses' sizes while a level runs."""

    PERIOD = 0.5

    def __init__(self, w: Witnesses, port: int) -> None:
        self.w = w
        self.port = port
        self.samples: list[tuple[float, int, int, list[int]]] = []  # t, size, cosigs, sizes
        self.t0 = time.monotonic()

    def sample(self) -> None:
        size, cosigs = served_checkpoint(self.port)
        self.samples.append((time.monotonic() - self.t0, size, cosigs, witness_sizes(self.w)))

    def settle(self, timeout: float = 60.0) -> float:
        """Seconds from now until the served checkpoint carries every witness's cosignature."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            size, cosigs = served_checkpoint(self.port)
            if cosigs >= len(self.w.names):
                return time.monotonic() - t0
            time.sleep(0.05)
        raise RuntimeError(f"the checkpoint of size {size} lacks cosignatures after {timeout} s")

    def report(self, elapsed: float, trailing: float) -> dict[str, Any]:
        """What the samples say: how many sizes each witness cosigned during the load, how
        many leaves the witnesses were behind the served checkpoint, the trailing time."""
        during = [s for s in self.samples if s[0] <= elapsed]
        seen: list[set[int]] = [set() for _ in self.w.names]
        behind = []
        for _, size, _, sizes in during:
            for i, wsize in enumerate(sizes):
                seen[i].add(wsize)
            behind.append(size - min(sizes))
        first = during[0][3] if during else []
        cosigned = [len(s - {first[i]}) for i, s in enumerate(seen)] if first else []
        return {
            "samples": len(during),
            "cosigned_sizes": cosigned,
            "pushes_per_s": [c / elapsed for c in cosigned],
            "served_cosigned": sum(1 for s in during if s[2] >= len(self.w.names)),
            "behind_median": percentile([float(b) for b in behind], 0.5),
            "behind_max": max(behind, default=0),
            "trailing_s": trailing,
        }


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


async def _load(
    ports: list[int], requests: list[bytes], clients: int, seconds: float
) -> dict[str, Any]:
    latencies: list[float] = []
    starts: list[float] = []
    statuses: dict[int, int] = {}
    samples: list[str] = []
    next_index = 0
    deadline = time.monotonic() + seconds

    async def client(port: int) -> None:
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
    await asyncio.gather(*(client(ports[i % len(ports)]) for i in range(clients)))
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
    ports = [int(p) for p in str(args.port).split(",")]
    result = asyncio.run(_load(ports, requests, args.clients[0], args.seconds))
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
    witnesses: dict[str, Any] | None = None
    """With ``--witnesses``: :meth:`Watch.report` of the level."""

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
    servers: list[subprocess.Popen[bytes]],
    ports: list[int],
    requests: list[bytes],
    clients: int,
    seconds: float,
    tmp: Path,
    watch: Watch | None = None,
) -> Level:
    load_file, result_file = tmp / f"{kind}-{clients}.bin", tmp / f"{kind}-{clients}.json"
    write_items(load_file, requests)
    loadavg = os.getloadavg()[0]
    cpu0 = sum(cpu_seconds(server.pid) for server in servers)
    load = subprocess.Popen(  # noqa: S603 (this script, fixed arguments)
        [sys.executable, __file__, "--load", str(load_file),
         "--port", ",".join(str(p) for p in ports),
         "--clients", str(clients), "--seconds", str(seconds), "--result", str(result_file)],
    )  # fmt: skip
    if watch is not None:
        watch.t0 = time.monotonic()
        while load.poll() is None:
            watch.sample()
            with contextlib.suppress(subprocess.TimeoutExpired):
                load.wait(Watch.PERIOD)
    if load.wait(timeout=seconds + 120) != 0:
        raise RuntimeError(f"the load generator exited with {load.returncode}")
    server_cpu = sum(cpu_seconds(server.pid) for server in servers) - cpu0
    trailing = watch.settle() if watch is not None else 0.0
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
        None if watch is None else watch.report(result["elapsed"], trailing),
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
    parser.add_argument(
        "--witnesses", type=int, default=0, metavar="N",
        help="the round names N witnesses (quorum min(2, N)), each a witness serve process",
    )  # fmt: skip
    # the load generator process
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument(
        "--database", default=None,
        help="PostgreSQL instead of SQLite: 'auto' (a throwaway cluster, fsync on) or a URL",
    )  # fmt: skip
    parser.add_argument("--instances", type=int, default=1, help="servers on one --database")
    parser.add_argument("--port", help=argparse.SUPPRESS)
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
    n_codes = sum(issuances) + WARMUP
    witnesses, policy = make_witnesses(args.out, args.witnesses) if args.witnesses else (None, None)
    cluster = None
    database: str | None = args.database
    if database == "auto":
        from anonballot.testing.postgres import PgCluster

        cluster = PgCluster(durable=True)
        database = cluster.fresh_url()
    if args.instances > 1 and database is None:
        raise SystemExit("--instances: several servers need --database")
    try:
        return _run(
            args, clients, issuances, casts, data, tmp, n_codes, witnesses, policy, database
        )
    finally:
        if cluster is not None:
            cluster.stop()


def _run(
    args: argparse.Namespace,
    clients: list[int],
    issuances: list[int],
    casts: list[int],
    data: Path,
    tmp: Path,
    n_codes: int,
    witnesses: Witnesses | None,
    policy: WitnessPolicy | None,
    database: str | None,
) -> int:
    t0 = time.perf_counter()
    codes = setup_office(
        data, wards=args.wards, codes=n_codes, key_bits=args.key_bits, witnesses=policy,
        database=database,
    )  # fmt: skip
    _log(f"set up {len(codes)} invitation codes in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    bodies, leaves = prepare(data, codes, sum(casts) + WARMUP, os.cpu_count() or 1, database)
    _log(
        f"prepared {len(bodies)} token requests and {len(leaves)} leaves "
        f"(tokens signed directly) in {time.perf_counter() - t0:.1f} s"
    )
    tokens_path = f"/api/rounds/{ROUND_ID}/tokens"
    ballots_path = f"/api/rounds/{ROUND_ID}/ballots"
    token_requests = [http_request(tokens_path, b, "application/json") for b in bodies]
    cast_requests = [http_request(ballots_path, leaf, "application/json") for leaf in leaves]

    ports = [free_port() for _ in range(args.instances)]
    port = ports[0]
    tiles = args.out / "tiles" if args.tiles else None
    if tiles is not None and tiles.exists():
        shutil.rmtree(tiles)
    if witnesses is not None:
        start_witnesses(witnesses, round_secrets(data, database)[0], args.out)
    servers = [start_server(data, p, tiles, database) for p in ports]
    server = servers[0]
    watch = None if witnesses is None else Watch(witnesses, port)
    profiler = None
    levels: list[Level] = []
    try:
        if watch is not None:
            _log(f"witnesses up; the empty board cosigned after {watch.settle():.2f} s")
        measure("issuance", servers, ports, token_requests[:WARMUP], 4, 60, tmp)
        measure("cast", servers, ports, cast_requests[:WARMUP], 4, 60, tmp)
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
                    "issuance", servers, ports, token_requests[pos_i : pos_i + count], n,
                    args.seconds, tmp,
                )  # fmt: skip
                levels.append(level)
                _log(_row(level))
            pos_i += count
        for n, count in zip(clients, casts, strict=True):
            if count:
                level = measure(
                    "cast", servers, ports, cast_requests[pos_c : pos_c + count], n,
                    args.seconds, tmp, watch,
                )  # fmt: skip
                levels.append(level)
                _log(_row(level))
            pos_c += count
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(timeout=60)
        for proc in servers:
            stop_server(proc)
        for proc in witnesses.procs if witnesses is not None else []:
            stop_server(proc)

    store = "SQLite" if database is None else f"PostgreSQL, {args.instances} instance(s)"
    print(
        f"server benchmark: {args.key_bits}-bit issuer keys, {args.wards} wards, {store}, "
        "durability on"
    )
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    print(f"machine: {machine}, Python {platform.python_version()}")
    print("(the load generator runs on the same machine, in its own process)")
    print()
    print(f"{'operation':<10} {'clients':>7} {'ops':>6} {'ops/s':>8} {'p50 ms':>8} {'p99 ms':>8}"
          f" {'server CPU ms/op':>17} {'load avg':>9}")  # fmt: skip
    for level in levels:
        print(_row(level))
    if witnesses is not None:
        print()
        n = len(witnesses.names)
        print(f"witnesses: {n} witness serve processes, quorum {min(2, n)}, "
              f"Cosigner.INTERVAL {_cosigner_interval()} s")  # fmt: skip
        print(f"{'operation':<10} {'clients':>7} {'cosigned sizes':>15} {'pushes/s':>9}"
              f" {'leaves behind p50':>18} {'max':>6} {'cosigned after stop s':>22}")  # fmt: skip
        for level in levels:
            if level.witnesses is not None:
                print(_witness_row(level))
    report = [level.__dict__ | {"rate": level.rate} for level in levels]
    (args.out / "results.json").write_text(json.dumps(report, indent=2))
    return 0


def _per_level(values: list[int], clients: list[int], what: str) -> list[int]:
    if len(values) == 1:
        return values * len(clients)
    if len(values) != len(clients):
        raise SystemExit(f"{what}: give one value or one per --clients")
    return values


def _cosigner_interval() -> float:
    from anonballot.server.cosigner import Cosigner

    return Cosigner.INTERVAL


def _witness_row(level: Level) -> str:
    w = level.witnesses or {}
    cosigned = "/".join(str(c) for c in w["cosigned_sizes"])
    pushes = sum(w["pushes_per_s"]) / max(1, len(w["pushes_per_s"]))
    return (
        f"{level.kind:<10} {level.clients:>7} {cosigned:>15} {pushes:>9.2f}"
        f" {w['behind_median']:>18.0f} {w['behind_max']:>6} {w['trailing_s']:>22.2f}"
    )


def _row(level: Level) -> str:
    return (
        f"{level.kind:<10} {level.clients:>7} {level.ops:>6} {level.rate:>8.0f} "
        f"{level.p50_ms:>8.1f} {level.p99_ms:>8.1f} {level.server_cpu_ms:>17.2f} "
        f"{level.loadavg:>9.2f}"
    )


if __name__ == "__main__":
    sys.exit(main())
