"""Audit throughput benchmark: ballots per second, peak memory, and the primitive floor.

::

    .venv/bin/python bench/audit.py            # 10,000 and 100,000 ballots, 1 and 2 workers
    .venv/bin/python bench/audit.py --quick    # 1,000 ballots: a smoke test
    .venv/bin/python bench/audit.py --sizes 20000 --workers 1 --repeat 3

What it does:

1. Builds (once, cached under ``--out``, default ``bench/out/``) a pool of leaves for one
   benchmark round: a manifest of the demo district, fresh issuer keys of ``--key-bits``
   bits, three trustees with threshold 2. Each leaf carries honest random answers, sealed
   with :func:`anonballot.sealing.seal` and signed with :func:`anonballot.leaf.build_leaf`.
   **Tokens are signed directly with the issuer key** (:meth:`IssuerKey.sign_token_directly`,
   no blinding round trip): that only makes the build faster; such a token verifies exactly
   like a blind-issued one. The build is spread over all cores.
2. For each size N writes a complete round record of the first N leaves of the pool:
   manifest, board, final checkpoint, close statement, issuance ledger, two releases and
   signed results (counted with :class:`anonballot.tally.TallyBuilder` from the known
   plaintexts). Every record must pass the audit (A1 to A13), or the benchmark fails.
3. Measures the primitive floor in a fresh process, on one core: per ballot one RSA-PSS
   verify, one Ed25519 verify, ``threshold`` HPKE opens, one AES-GCM open and one leaf hash,
   on real leaves of the pool, in a tight loop.
4. Audits each record with each worker count in a fresh process
   (:func:`anonballot.audit.audit_record`) and reports the wall time, ballots per second,
   the peak RSS of the auditing process and of its workers, and the ratio of the time per
   ballot to the floor.

The internal ``--measure`` and ``--floor`` modes are what the fresh processes run.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures as cf
import itertools
import json
import math
import multiprocessing
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "out"
POOL_FORMAT = 1
"""Bump when the pool's content changes: old pools are then rebuilt."""
CAPACITY = 200_000
"""Ballots a pool's manifest has room for (its eligible counts); more make a new pool."""
ROUND_ID = "bench-audit"
TRUSTEES = 3
THRESHOLD = 2
BUILD_TASK = 250
"""Leaves per build task."""


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- the leaf pool ---------------------------------------------------------------------------


class Pool:
    """A folder of keys, a signed manifest and leaves (with their plaintexts) for one round."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def meta_path(self) -> Path:
        return self.path / "meta.json"

    def meta(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.meta_path.read_text())
        return data

    def count(self) -> int:
        return int(self.meta()["count"]) if self.meta_path.exists() else 0

    def create(self, *, wards: int, key_bits: int, capacity: int) -> None:
        from anonballot.encoding import jcs
        from anonballot.manifest import Manifest
        from anonballot.signing import SigningKey
        from anonballot.testing import DEMO_TRUSTEES, demo_config
        from anonballot.tokens import IssuerKey
        from anonballot.trustee import TrusteeKey

        if self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True)
        t0 = time.perf_counter()
        trustees = [TrusteeKey.generate(tid) for tid, _ in DEMO_TRUSTEES[:TRUSTEES]]
        config, _ = demo_config(
            wards=wards, trustees=trustees, threshold=THRESHOLD, round_id=ROUND_ID, days=3650
        )
        ward_ids = [w.id for w in config.district.wards]
        issuers = {w: IssuerKey.generate(key_bits) for w in ward_ids}
        organizer, log = SigningKey.generate(), SigningKey.generate()
        per_ward = math.ceil(capacity * 1.05 / len(ward_ids))
        manifest = Manifest.build(
            config,
            eligible=dict.fromkeys(ward_ids, per_ward),
            issuer_keys={w: k.public_key for w, k in issuers.items()},
            organizer_key=organizer.public_key,
            log_key=log.public_key,
        )
        (self.path / "manifest.json").write_bytes(jcs(manifest.sign(organizer)))
        keys = {
            "organizer": _b64u(organizer.seed),
            "log": _b64u(log.seed),
            "trustees": [t.to_json() for t in trustees],
            "issuers": {w: k.to_pem().decode("ascii") for w, k in issuers.items()},
        }
        (self.path / "keys.json").write_text(json.dumps(keys))
        (self.path / "leaves.jsonl").write_bytes(b"")
        (self.path / "plain.txt").write_bytes(b"")
        self._write_meta(
            {
                "format": POOL_FORMAT,
                "id": _b64u(os.urandom(9)),
                "wards": wards,
                "key_bits": key_bits,
                "capacity": capacity,
                "count": 0,
                "leaves_bytes": 0,
                "plain_bytes": 0,
            }
        )
        _log(f"  pool keys and manifest: {time.perf_counter() - t0:.1f} s")

    def _write_meta(self, meta: dict[str, Any]) -> None:
        tmp = self.meta_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(meta, indent=1))
        tmp.replace(self.meta_path)

    def grow(
        self, target: int, processes: int, initializer: Any = None, init_arg: str | None = None
    ) -> float:
        """Build leaves until the pool holds ``target``; return the seconds it took.

        ``initializer(init_arg)`` (default :func:`_init_builder` of the pool's folder) sets
        up each build process; bench/national.py passes its own."""
        meta = self.meta()
        have = meta["count"]
        if have >= target:
            return 0.0
        # Drop anything written after the last complete batch (an interrupted build).
        with (self.path / "leaves.jsonl").open("r+b") as f:
            f.truncate(meta["leaves_bytes"])
        with (self.path / "plain.txt").open("r+b") as f:
            f.truncate(meta["plain_bytes"])
        t0 = time.perf_counter()
        starts = list(range(have, target, BUILD_TASK))
        ctx = multiprocessing.get_context("forkserver" if os.name == "posix" else "spawn")
        with (
            cf.ProcessPoolExecutor(
                processes,
                mp_context=ctx,
                initializer=initializer or _init_builder,
                initargs=(init_arg or str(self.path),),
            ) as pool,
            (self.path / "leaves.jsonl").open("ab") as leaves_out,
            (self.path / "plain.txt").open("ab") as plain_out,
        ):
            window: deque[cf.Future[tuple[bytes, bytes]]] = deque()
            pending = iter(starts)
            for s in itertools.islice(pending, 4 * processes):
                window.append(pool.submit(_build_range, s, min(BUILD_TASK, target - s)))
            n = 0
            while window:
                leaves, plain = window.popleft().result()
                for s in itertools.islice(pending, 1):
                    window.append(pool.submit(_build_range, s, min(BUILD_TASK, target - s)))
                n += 1
                leaves_out.write(leaves)
                plain_out.write(plain)
                leaves_out.flush()
                plain_out.flush()
                meta["count"] = min(target, starts[n - 1] + BUILD_TASK)
                meta["leaves_bytes"] = leaves_out.tell()
                meta["plain_bytes"] = plain_out.tell()
                self._write_meta(meta)
                if n % 20 == 0 or n == len(starts):
                    rate = (meta["count"] - have) / (time.perf_counter() - t0)
                    _log(f"  built {meta['count']:,} of {target:,} leaves ({rate:,.0f}/s)")
        return time.perf_counter() - t0

    def lines(self, path: str, n: int) -> Iterator[bytes]:
        """The first ``n`` lines of ``leaves.jsonl`` or ``plain.txt``, without newline."""
        with (self.path / path).open("rb") as f:
            for _, line in zip(range(n), f, strict=False):
                yield line.rstrip(b"\n")


_BUILDER: dict[str, Any] = {}


def _init_builder(pool_dir: str) -> None:
    from anonballot.encoding import parse_json
    from anonballot.manifest import Manifest
    from anonballot.tokens import IssuerKey
    from anonballot.trustee import TrusteePublic

    path = Path(pool_dir)
    manifest = Manifest.from_signed(parse_json((path / "manifest.json").read_bytes()))
    keys = json.loads((path / "keys.json").read_text())
    _BUILDER.update(
        manifest=manifest,
        mid=manifest.mid,
        wards=[w.id for w in manifest.wards],
        issuers={w: IssuerKey.from_pem(pem.encode("ascii")) for w, pem in keys["issuers"].items()},
        trustees=[TrusteePublic(t.id, t.hpke_key) for t in manifest.trustees],
    )


def _build_range(start: int, count: int) -> tuple[bytes, bytes]:
    """Leaves ``start`` to ``start + count``: their lines and their plaintext lines."""
    from anonballot.ballot import make_ballot
    from anonballot.encoding import jcs
    from anonballot.leaf import build_leaf
    from anonballot.sealing import seal
    from anonballot.signing import SigningKey
    from anonballot.testing import random_answers

    b = _BUILDER
    manifest, mid, wards = b["manifest"], b["mid"], b["wards"]
    leaves: list[bytes] = []
    plain: list[bytes] = []
    for i in range(start, start + count):
        ward = wards[i % len(wards)]
        answers = random_answers(manifest, ward, random.Random(i))
        plaintext = jcs(make_ballot(ward, answers))
        voter = SigningKey.generate()
        token = b["issuers"][ward].sign_token_directly(os.urandom(32) + voter.public_key.to_bytes())
        sealed = seal(
            plaintext, round_id=mid, ward=ward, trustees=b["trustees"], threshold=THRESHOLD
        )
        leaves.append(build_leaf(mid, ward, token, sealed, voter) + b"\n")
        plain.append(ward.encode("ascii") + b"\t" + plaintext + b"\n")
    return b"".join(leaves), b"".join(plain)


def ensure_pool(out: Path, *, wards: int, key_bits: int, need: int, processes: int) -> Pool:
    capacity = max(CAPACITY, need)
    pool = Pool(out / f"pool-k{key_bits}-w{wards}")
    ok = False
    if pool.meta_path.exists():
        meta = pool.meta()
        ok = (
            meta.get("format") == POOL_FORMAT
            and meta.get("capacity", 0) >= need
            and meta.get("wards") == wards
            and meta.get("key_bits") == key_bits
        )
    if not ok:
        _log(f"creating the leaf pool {pool.path} ({wards} wards, {key_bits}-bit issuer keys)")
        pool.create(wards=wards, key_bits=key_bits, capacity=capacity)
    have = pool.count()
    if have < need:
        _log(
            f"building {need - have:,} leaves on {processes} processes "
            "(tokens signed directly with the issuer keys, no blinding)"
        )
        seconds = pool.grow(need, processes)
        _log(f"  {need - have:,} leaves in {seconds:.1f} s")
    return pool


# -- records -------------------------------------------------------------------------------


def ensure_record(out: Path, pool: Pool, n: int) -> Path:
    """The record of the first ``n`` leaves of ``pool`` (built once, then cached)."""
    meta = pool.meta()
    dest = out / f"record-k{meta['key_bits']}-w{meta['wards']}-n{n}"
    stamp = dest / ".bench.json"
    if stamp.exists() and json.loads(stamp.read_text()).get("pool") == meta["id"]:
        return dest
    _log(f"writing the record of {n:,} ballots to {dest}")
    t0 = time.perf_counter()
    files = record_files(pool, n)

    from anonballot.record import write_record

    write_record(dest, ROUND_ID, files, pool.lines("leaves.jsonl", n))
    stamp.write_text(json.dumps({"pool": meta["id"], "n": n}))
    _log(f"  record written in {time.perf_counter() - t0:.1f} s")
    return dest


def record_files(pool: Pool, n: int) -> dict[str, bytes]:
    """Every file of the record but the board, consistent with the first ``n`` leaves."""
    from anonballot.checkpoint import Checkpoint
    from anonballot.encoding import jcs, parse_json, sha256
    from anonballot.hazmat.merkle import CompactRange, leaf_hash
    from anonballot.manifest import Manifest
    from anonballot.signing import SigningKey
    from anonballot.statements import CloseStatement, IssuanceLedger
    from anonballot.tally import TallyBuilder
    from anonballot.trustee import TrusteeKey

    signed_manifest = (pool.path / "manifest.json").read_bytes()
    manifest = Manifest.from_signed(parse_json(signed_manifest))
    mid = manifest.mid
    keys = json.loads((pool.path / "keys.json").read_text())
    organizer = SigningKey(base64.urlsafe_b64decode(keys["organizer"] + "="))
    log = SigningKey(base64.urlsafe_b64decode(keys["log"] + "="))
    trustees = [TrusteeKey.from_json(t) for t in keys["trustees"]]

    tree = CompactRange()
    count = 0
    for line in pool.lines("leaves.jsonl", n):
        tree.append(leaf_hash(line))
        count += 1
    if count != n:
        raise SystemExit(f"the pool has {count} leaves, {n} are needed")
    root = tree.root()

    tally = TallyBuilder(manifest)
    for line in pool.lines("plain.txt", n):
        ward, _, plaintext = line.partition(b"\t")
        w = ward.decode("ascii")
        tally.cast[w] = tally.cast.get(w, 0) + 1
        tally.add_valid(w, parse_json(plaintext))

    # A few participants took a token and never cast: issued = ballots + 2%.
    served: list[tuple[str, str]] = []
    for ward in manifest.wards:
        k = tally.cast.get(ward.id, 0)
        served.extend(
            (ward.id, _b64u(sha256(f"{mid}/{ward.id}/{j}".encode()))) for j in range(k + k // 50)
        )
    ledger = IssuanceLedger.build(manifest, served)
    final = Checkpoint(manifest.origin, n, root)
    close = CloseStatement.build(final, ledger)
    releasing = trustees[:THRESHOLD]
    results = tally.results(
        mid=mid, tree_size=n, root=root, trustees=[t.id for t in releasing], issued=close.issued
    )
    files = {
        "manifest.json": signed_manifest,
        "checkpoint.txt": final.sign(log).encode("utf-8"),
        "close.json": jcs(close.sign(organizer)),
        "issuance.json": jcs(ledger.to_json()),
        "results.json": jcs(results.sign(organizer)),
    }
    for t in releasing:
        files[f"releases/{t.id}.json"] = jcs(t.release(mid))
    return files


# -- measuring: the audit (in a fresh process) ------------------------------------------------


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out: list[int] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        for child in children.get(pid, []):
            out.append(child)
            todo.append(child)
    return out


def _hwm_kib(pid: int) -> int | None:
    """The RSS high-water mark (VmHWM) of a live process, in KiB."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_pressure() -> float | None:
    """The share of the last 10 s in which some runnable task waited for a CPU (Linux PSI):
    other load on the machine, which makes every time here longer."""
    try:
        with open("/proc/pressure/cpu") as f:
            return float(f.readline().split()[1].split("=")[1])
    except (OSError, IndexError, ValueError):
        return None


def measure_audit(record: Path, workers: int) -> dict[str, Any]:
    """Run the audit in a fresh process; sample its workers' VmHWM from this one."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--measure", str(record), str(workers)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)  # noqa: S603
    hwm: dict[int, int] = {}
    while proc.poll() is None:
        for pid in _descendants(proc.pid):
            kib = _hwm_kib(pid)
            if kib is not None:
                hwm[pid] = max(hwm.get(pid, 0), kib)
        time.sleep(0.05)
    out, _ = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"the audit of {record} with {workers} workers failed:\n{out}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    # Sampled VmHWM of the workers (the forkserver is a small idle process: left out).
    sampled = sorted(hwm.values(), reverse=True)
    result["workers_hwm_kib"] = sampled[:workers] if workers > 1 else []
    result["cpu_pressure"] = cpu_pressure()
    return result


def run_measure(record: str, workers: int) -> None:
    from anonballot.audit import audit_record, render_report

    t0 = time.perf_counter()
    c0 = time.process_time()
    report = audit_record(record, workers=workers)
    seconds = time.perf_counter() - t0
    cpu_seconds = time.process_time() - c0
    if not report.passed:
        print(render_report(report))
        raise SystemExit(1)
    # VmHWM, not RUSAGE_SELF: Linux carries ru_maxrss across exec, so a child of a big
    # parent would report the parent's size.
    self_rss = _hwm_kib(os.getpid()) or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    leaves = report.checks["A2"].counts["leaves"]
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "leaves": leaves,
                "self_maxrss_kib": self_rss,
                "children_maxrss_kib": children_rss,
            }
        )
    )


# -- measuring: the primitive floor (in a fresh process, one core) ---------------------------


def measured_floor(record: Path, seconds: float) -> dict[str, float]:
    """:func:`measure_floor`, printed with its parts (seconds per ballot, ``total`` too)."""
    _log("measuring the primitive floor (one core)")
    floor = measure_floor(record, seconds)
    floor_us = floor["total"] * 1e6
    print(
        "floor per ballot, one core: "
        + ", ".join(f"{k} {v * 1e6:.1f} us" for k, v in floor.items() if k != "total")
        + f"; total {floor_us:.1f} us"
    )
    return floor


def measure_floor(record: Path, seconds: float) -> dict[str, float]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--floor", str(record), str(seconds)]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout  # noqa: S603
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def run_floor(record: str, seconds: float) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from anonballot.audit import audit_record  # noqa: F401 (same imports as the audit)
    from anonballot.encoding import parse_json
    from anonballot.hazmat import blind_rsa, shamir
    from anonballot.hazmat.merkle import leaf_hash
    from anonballot.leaf import parse_leaf
    from anonballot.manifest import Manifest
    from anonballot.record import Record
    from anonballot.sealing import HPKE_SUITE, KEY_SIZE, ballot_aad, share_info
    from anonballot.trustee import verify_release

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    sample_size = 256
    with Record(record) as rec:
        manifest = Manifest.from_signed(parse_json(rec.read("manifest.json")))
        mid = manifest.mid
        secrets = sorted(
            (verify_release(parse_json(rec.read(n)), manifest, mid) for n in rec.names("releases")),
            key=lambda s: s.index,
        )[: manifest.threshold]
        board = zip(range(sample_size), rec.board(), strict=False)
        lines = [line.rstrip(b"\n") for _, line in board]
    leaves = [parse_leaf(line, manifest, mid) for line in lines]
    keys = {w.id: manifest.issuer_key(w.id).to_cryptography() for w in manifest.wards}
    hpke_keys = [
        (s.index - 1, s.private_key.to_cryptography(), share_info(mid, s.id)) for s in secrets
    ]
    weights = shamir.lagrange_weights([s.index for s in secrets], 0)
    # Precomputed inputs, so that each loop times only its primitive.
    rsa_in = [(keys[x.ward], x.token.sig, x.token.msg) for x in leaves]
    ed_in = [(x.voter_key.to_bytes(), x.signed_bytes(), x.voter_sig) for x in leaves]
    hpke_in = [(x.ballot.shares[pos], key, info) for x in leaves for pos, key, info in hpke_keys]
    aes_in = []
    for x in leaves:
        ys = [
            int.from_bytes(HPKE_SUITE.decrypt(x.ballot.shares[pos], key, info=info), "big")
            for pos, key, info in hpke_keys
        ]
        k = sum(w * y for w, y in zip(weights, ys, strict=True)) % shamir.PRIME
        aes_in.append(
            (k.to_bytes(KEY_SIZE, "big"), x.ballot.nonce, x.ballot.ct, ballot_aad(mid, x.ward))
        )

    import nacl.signing

    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=blind_rsa.SALT_LENGTH)
    sha384 = hashes.SHA384()
    decrypt = HPKE_SUITE.decrypt

    def rsa_loop() -> None:
        for key, sig, msg in rsa_in:
            key.verify(sig, msg, pss, sha384)

    def ed_loop() -> None:
        for pk, msg, sig in ed_in:
            nacl.signing.VerifyKey(pk).verify(msg, sig)

    def hpke_loop() -> None:
        for share, key, info in hpke_in:
            decrypt(share, key, info=info)

    def aes_loop() -> None:
        for key, nonce, ct, aad in aes_in:
            AESGCM(key).decrypt(nonce, ct, aad)

    def hash_loop() -> None:
        for line in lines:
            leaf_hash(line)

    def per_ballot(loop: Any) -> float:
        loop()  # warm up
        best = math.inf
        deadline = time.perf_counter() + seconds
        while True:
            t0 = time.perf_counter()
            loop()
            best = min(best, time.perf_counter() - t0)
            if time.perf_counter() > deadline:
                break
        return best / len(leaves)

    result = {
        "rsa_pss_verify": per_ballot(rsa_loop),
        "ed25519_verify": per_ballot(ed_loop),
        "hpke_open_x_threshold": per_ballot(hpke_loop),
        "aes_gcm_open": per_ballot(aes_loop),
        "leaf_hash": per_ballot(hash_loop),
    }
    result["total"] = sum(result.values())
    print(json.dumps(result))


# -- the report ------------------------------------------------------------------------------


def machine() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", help="ballot counts, comma-separated (default 10000,100000)")
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--key-bits", type=int, default=3072, help="issuer key size (3072)")
    parser.add_argument("--wards", type=int, help="wards of the demo district (14; --quick 3)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="cache folder (bench/out)")
    parser.add_argument("--quick", action="store_true", help="1,000 ballots: a smoke test")
    parser.add_argument("--repeat", type=int, default=1, help="audits per row; the best counts")
    parser.add_argument("--build-processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    parser.add_argument("--measure", nargs=2, metavar=("RECORD", "WORKERS"), help=argparse.SUPPRESS)
    parser.add_argument("--floor", nargs=2, metavar=("RECORD", "SECONDS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.measure:
        run_measure(args.measure[0], int(args.measure[1]))
        return 0
    if args.floor:
        run_floor(args.floor[0], float(args.floor[1]))
        return 0

    sizes = [int(s) for s in (args.sizes or ("1000" if args.quick else "10000,100000")).split(",")]
    worker_counts = [int(w) for w in args.workers.split(",")]
    wards = args.wards or (3 if args.quick else 14)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    print(f"machine: {machine()}")
    print(
        f"round: {wards} wards, {TRUSTEES} trustees, threshold {THRESHOLD}, "
        f"{args.key_bits}-bit issuer keys; tokens signed directly with the issuer key "
        "(no blinding: faster to build, verified exactly like blind-issued tokens)"
    )
    pool = ensure_pool(
        out, wards=wards, key_bits=args.key_bits, need=max(sizes), processes=args.build_processes
    )
    records = {n: ensure_record(out, pool, n) for n in sizes}

    floor = measured_floor(records[min(sizes)], 0.3 if args.quick else 2.0)
    floor_us = floor["total"] * 1e6

    rows: list[dict[str, Any]] = []
    for n in sizes:
        for w in worker_counts:
            _log(f"auditing {n:,} ballots with {w} worker(s)")
            results = [measure_audit(records[n], w) for _ in range(max(1, args.repeat))]
            for result in results:
                if result["leaves"] != n:
                    raise SystemExit(f"audited {result['leaves']} leaves, expected {n}")
            best = min(results, key=lambda result: result["seconds"])
            per_ballot = best["seconds"] / n
            rows.append(
                {
                    "n": n,
                    "workers": w,
                    "seconds": best["seconds"],
                    "ballots_per_s": n / best["seconds"],
                    "us_per_ballot": per_ballot * 1e6,
                    "main_rss_mib": best["self_maxrss_kib"] / 1024,
                    "worker_rss_mib": [k / 1024 for k in best["workers_hwm_kib"]],
                    "floor_us": floor_us,
                    "ratio": per_ballot * 1e6 / floor_us,
                    "cpu_us_per_ballot": best["cpu_seconds"] / n * 1e6,
                    "cpu_pressure": best["cpu_pressure"],
                }
            )

    header = (
        f"{'N':>8} {'workers':>7} {'seconds':>8} {'ballots/s':>10} {'us/ballot':>9} "
        f"{'peak RSS MiB (main + workers)':>30} {'floor us':>8} {'ratio':>6} {'speedup':>7}"
    )
    print()
    print(header)
    one: dict[int, float] = {r["n"]: r["seconds"] for r in rows if r["workers"] == 1}
    for r in rows:
        rss = f"{r['main_rss_mib']:.0f}" + "".join(f" + {k:.0f}" for k in r["worker_rss_mib"])
        total = r["main_rss_mib"] + sum(r["worker_rss_mib"])
        rss += f" = {total:.0f}" if r["worker_rss_mib"] else ""
        speedup = f"{one[r['n']] / r['seconds']:.2f}x" if r["n"] in one else "-"
        r["peak_rss_mib"] = total
        print(
            f"{r['n']:>8,} {r['workers']:>7} {r['seconds']:>8.2f} {r['ballots_per_s']:>10,.0f} "
            f"{r['us_per_ballot']:>9.1f} {rss:>30} {r['floor_us']:>8.1f} "
            f"{r['ratio']:>6.2f} {speedup:>7}"
        )
    print("ratio = audit time per ballot / primitive floor per ballot (one core)")
    for r in rows:
        if r["workers"] == 1:
            print(
                f"N={r['n']:,}, 1 worker: CPU time of the auditing process "
                f"{r['cpu_us_per_ballot']:.1f} us/ballot "
                f"(ratio {r['cpu_us_per_ballot'] / r['floor_us']:.2f})"
            )
    busy = [r["cpu_pressure"] for r in rows if r["cpu_pressure"] is not None]
    if busy and max(busy) > 10:
        print(
            f"warning: the machine was busy (CPU pressure up to {max(busy):.0f}% over 10 s): "
            "other load makes these times longer; run again on a quiet machine"
        )

    print()
    for r in rows:
        if r["workers"] == 1:
            verdict = "meets" if r["ratio"] <= 1.3 else "MISSES"
            print(f"target ratio <= 1.3 (N={r['n']:,}, 1 worker): {r['ratio']:.2f}, {verdict}")
    for r in rows:
        if r["workers"] == 2 and r["n"] in one:
            s = one[r["n"]] / r["seconds"]
            verdict = "meets" if s >= 1.8 else "MISSES"
            print(f"target speedup >= 1.8x (N={r['n']:,}, 2 workers): {s:.2f}x, {verdict}")
    print_memory_by_n(rows, sizes, worker_counts)
    if args.json:
        args.json.write_text(
            json.dumps({"machine": machine(), "floor": floor, "rows": rows}, indent=1)
        )
    return 0


def print_memory_by_n(
    rows: list[dict[str, Any]], sizes: list[int], worker_counts: list[int]
) -> None:
    """Peak memory at the smallest and the largest N, per worker count: flat in N or not."""
    if len(sizes) < 2:
        return
    for w in worker_counts:
        by_n = {r["n"]: r["peak_rss_mib"] for r in rows if r["workers"] == w}
        lo, hi = min(sizes), max(sizes)
        print(
            f"memory N={lo:,} vs N={hi:,} ({w} worker(s)): {by_n[lo]:.0f} MiB vs "
            f"{by_n[hi]:.0f} MiB ({by_n[hi] / by_n[lo]:.2f}x)"
        )


if __name__ == "__main__":
    sys.exit(main())
