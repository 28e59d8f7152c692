"""National round benchmark: a demo country, its manifest of per-ward keys, and the audit.

::

    .venv/bin/python bench/national.py            # 10,000 wards x 100 ballots: 1,000,000
    .venv/bin/python bench/national.py --quick    # 50 wards x 20 ballots: a smoke test
    .venv/bin/python bench/national.py --wards 1000 --per-ward 100 --out /tmp/national

What it does (everything is cached under ``--out``, default ``bench/out/national/``, so a
rerun is cheap and a larger country only adds what is missing):

1. Generates a demo country: ``--wards`` wards (made-up Vietnamese names) grouped into
   districts of 8 to 20 wards, the district in each ward's id and name (``q012-phu-my``,
   "Phường Phú Mỹ, Quận 12 ..."); two people rated per ward (the Party committee secretary
   and the People's Committee chairman, placeholder names), the default questionnaire, three
   national trustees (threshold 2).
2. Generates one fresh issuer key per ward (3,072 bits by default) with OpenSSL on all
   cores, **once**: the keys are cached in ``keys-k<bits>.jsonl`` and reused by every later
   run and size (10,000 keys: about 15 minutes on two idle cores). ``--keys pairs`` makes
   them instead from pairs of the primes of a few OpenSSL keys (``keys-k<bits>-pairs.jsonl``,
   seconds): distinct keys of the same size, verified at the same cost, but NOT safe keys
   (two keys that share a prime break each other); the output says so.
3. Builds the round: :class:`~anonballot.manifest.RoundConfig`, the signed
   :class:`~anonballot.manifest.Manifest` (roster ``--per-ward`` + 5%), and measures it: its
   size (JCS), the time to parse and verify it (:meth:`Manifest.from_signed`) and to load it
   into an auditor's opener and into a participant, in a fresh process, and the memory it
   takes.
4. Builds ``--per-ward`` leaves per ward (honest random answers, sealed for the trustees,
   ward ``i % wards`` for leaf ``i``) with bench/audit.py's pool builder. **Tokens are signed
   directly with the ward's issuer key** (:meth:`IssuerKey.sign_token_directly`, no
   blinding round trip): faster to build, verified exactly like blind-issued tokens.
5. Writes the complete record (bench/audit.py's record writer: board, final checkpoint,
   close statement, issuance ledger, two releases, signed results) for each size, reports
   the sizes of the issuance ledger and the close statement, measures the primitive floor
   and audits each record with 1 and 2 workers in fresh processes (bench/audit.py's
   measurement: wall time, peak RSS, ratio to the floor measured in the same run).

The internal ``--manifest-check`` mode is what the fresh process of step 3 runs.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import math
import multiprocessing
import os
import random
import subprocess
import sys
import time
import unicodedata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import audit as bench  # noqa: E402 (bench/audit.py: the pool, records and measurements)

DEFAULT_OUT = HERE / "out" / "national"
COUNTRY_FORMAT = 1
"""Bump when the country's content changes: old pools are then rebuilt."""
ROUND_ID = "national-demo"
KEYGEN_TASK = 10
"""Keys per key generation task."""

# Words of Vietnamese place names, combined two by two into made-up ward and district names.
WORDS = (
    "An", "Bình", "Phú", "Tân", "Hòa", "Thạnh", "Long", "Phước", "Đông", "Tây", "Trung",
    "Nam", "Bắc", "Hưng", "Thịnh", "Lợi", "Mỹ", "Quang", "Minh", "Thành", "Hiệp", "Phúc",
    "Xuân", "Hải", "Sơn", "Lâm", "Giang", "Hà", "Vĩnh", "Khánh", "Thuận", "Đức", "Nghĩa",
    "Hiếu", "Lộc", "Thọ", "Cường", "Quý", "Yên", "Định", "Thủy", "Châu", "Lạc", "Thái",
    "Việt", "Hồng", "Ngọc", "Kim", "Cát", "Tiến", "Đạt", "Hợp", "Hạnh", "Điền", "Thượng",
    "Hạ", "Tường", "Dương", "Quảng", "Bảo",
)  # fmt: skip
DISTRICT_KINDS = (
    # prefix of the ids, district name, ward name, its English words
    ("q", "Quận", "Phường", "district", "ward"),
    ("h", "Huyện", "Xã", "rural district", "commune"),
    ("tx", "Thị xã", "Phường", "town", "ward"),
    ("tp", "Thành phố", "Phường", "city", "ward"),
)
TRUSTEES = (
    ("tuyen-giao", {"vi": "Ban Tuyên giáo Trung ương", "en": "Central Propaganda commission"}),
    ("to-chuc", {"vi": "Ban Tổ chức Trung ương", "en": "Central Organization commission"}),
    ("kiem-tra", {"vi": "Ủy ban Kiểm tra Trung ương", "en": "Central Inspection commission"}),
)


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def slug(text: str) -> str:
    """``"Phú Mỹ"`` -> ``"phu-my"``."""
    plain = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    ascii_ = "".join(c for c in plain if unicodedata.category(c) != "Mn")
    return "-".join(ascii_.lower().split())


# -- the country -------------------------------------------------------------------------------


def country_wards(wards: int, seed: int = 2026) -> list[tuple[str, dict[str, str]]]:
    """``wards`` (id, name) pairs grouped into districts of 8 to 20 wards, reproducible; the
    first ``n`` of a larger country are the same as those of a country of ``n`` wards."""
    rng = random.Random(seed)
    out: list[tuple[str, dict[str, str]]] = []
    k = 0
    while len(out) < wards:
        k += 1
        prefix, dkind, wkind, den, wen = DISTRICT_KINDS[rng.choices(range(4), (5, 8, 1, 1))[0]]
        dname = " ".join(rng.sample(WORDS, 2))
        district = f"{dkind} {dname}"
        used: set[str] = set()
        for _ in range(rng.randint(8, 20)):
            while True:
                wname = " ".join(rng.sample(WORDS, 2))
                wid = f"{prefix}{k:04d}-{slug(wname)}"
                if wid not in used:
                    break
            used.add(wid)
            out.append(
                (
                    wid,
                    {
                        "vi": unicodedata.normalize("NFC", f"{wkind} {wname}, {district}"),
                        "en": unicodedata.normalize("NFC", f"{wname} {wen}, {dname} {den}"),
                    },
                )
            )
    return out[:wards]


def country_config(wards: int, trustees: list[Any]) -> Any:
    """The round configuration of the demo country (:class:`RoundConfig`)."""
    import datetime as dt

    from anonballot.district import District, Subject, Ward
    from anonballot.manifest import RESTRICTED, RoundConfig, Window
    from anonballot.questionnaire import default_questionnaire
    from anonballot.testing.district import ROLES

    ward_list = country_wards(wards)
    subjects = []
    for wid, name in ward_list:
        where = name["vi"].split(",")[0]
        where = where[0].lower() + where[1:]  # "Bí thư Đảng ủy phường Phú Mỹ"
        where_en = name["en"].split(",")[0]
        subjects.append(
            Subject(
                f"{wid}-secretary",
                wid,
                "secretary",
                {
                    "vi": f"Bí thư Đảng ủy {where} (tên mẫu)",
                    "en": f"Party secretary of {where_en} (placeholder)",
                },
            )
        )
        subjects.append(
            Subject(
                f"{wid}-chairman",
                wid,
                "chairman",
                {
                    "vi": f"Chủ tịch UBND {where} (tên mẫu)",
                    "en": f"People's Committee chairman of {where_en} (placeholder)",
                },
            )
        )
    district = District(
        {"vi": "Toàn quốc (mô phỏng)", "en": "The whole country (simulation)"},
        tuple(Ward(wid, name) for wid, name in ward_list),
        ROLES,
        tuple(subjects),
    )
    names = dict(TRUSTEES)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    window = Window(
        start.isoformat().replace("+00:00", "Z"),
        (start + dt.timedelta(days=3650)).isoformat().replace("+00:00", "Z"),
    )
    return RoundConfig(
        round_id=ROUND_ID,
        title={
            "vi": "Lấy ý kiến góp ý người đứng đầu các xã, phường toàn quốc (mô phỏng)",
            "en": "Rating the heads of the country's communes and wards (simulation)",
        },
        origin=f"national.example/log/{ROUND_ID}",
        issuance=window,
        voting=window,
        questionnaire=default_questionnaire(),
        district=district,
        trustees=tuple(t.public(names[t.id]) for t in trustees),
        threshold=bench.THRESHOLD,
        results_access=RESTRICTED,
    )


# -- issuer keys (cached once, shared by every size) -------------------------------------------


def _keygen(count: int, bits: int) -> bytes:
    from anonballot.tokens import IssuerKey

    lines = []
    for _ in range(count):
        key = IssuerKey.generate(bits)
        lines.append(
            json.dumps({"pem": key.to_pem().decode("ascii"), "pub": key.public_key.to_b64u()})
        )
    return ("\n".join(lines) + "\n").encode("ascii")


def keys_path(out: Path, bits: int, source: str = "openssl") -> Path:
    return out / (f"keys-k{bits}.jsonl" if source == "openssl" else f"keys-k{bits}-{source}.jsonl")


def _complete_lines(path: Path) -> int:
    """The complete lines of ``path``; a line an interrupted run left half-written is cut."""
    data = path.read_bytes() if path.exists() else b""
    complete = data[: data.rfind(b"\n") + 1]
    if len(complete) != len(data):
        path.write_bytes(complete)
    return complete.count(b"\n")


def _primes(count: int, bits: int) -> list[str]:
    """The primes of ``count`` fresh OpenSSL keys of ``bits`` bits, in hex."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    out = []
    for _ in range(count):
        numbers = rsa.generate_private_key(public_exponent=65537, key_size=bits).private_numbers()
        out += [f"{numbers.p:x}", f"{numbers.q:x}"]
    return out


def _pair_key(p: int, q: int) -> str:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from anonballot.tokens import IssuerKey

    n, e = p * q, 65537
    d = pow(e, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q),
        rsa.RSAPublicNumbers(e, n),
    )  # fmt: skip
    key = IssuerKey(numbers.private_key(unsafe_skip_rsa_key_validation=True))
    return json.dumps({"pem": key.to_pem().decode("ascii"), "pub": key.public_key.to_b64u()})


def ensure_pair_keys(out: Path, bits: int, need: int, processes: int) -> tuple[float, int]:
    """``--keys pairs``: key ``k`` has the modulus ``p_i * p_j`` of the ``k``-th pair
    (``i < j``, by ``j`` then ``i``) of primes of fresh OpenSSL keys: 142 primes (71 keys)
    give 10,011 distinct keys of exactly ``bits`` bits. Same size and same verification
    cost as independent keys, but not safe keys (two keys that share a prime break each
    other): a benchmark's shortcut for a machine where 10,000 key generations take too long.
    """
    path = keys_path(out, bits, "pairs")
    have = _complete_lines(path)
    if have >= need:
        return 0.0, 0
    t0 = time.perf_counter()
    primes_file = out / f"primes-k{bits}.txt"
    m = 2
    while m * (m - 1) // 2 < need:
        m += 1
    m += m % 2
    have_primes = _complete_lines(primes_file)
    if have_primes < m:
        _log(f"generating {(m - have_primes) // 2} {bits}-bit OpenSSL keys for their primes")
        with (
            cf.ProcessPoolExecutor(
                processes, mp_context=multiprocessing.get_context("forkserver")
            ) as ex,
            primes_file.open("a") as f,
        ):
            for chunk in ex.map(_primes, [1] * ((m - have_primes) // 2), [bits] * m):
                f.write("".join(p + "\n" for p in chunk))
    primes = [int(line, 16) for line in primes_file.read_text().split()]
    pairs = [(i, j) for j in range(1, m) for i in range(j)][have:need]
    _log(f"making {len(pairs):,} issuer keys of pairs of {m} primes (--keys pairs)")
    with path.open("a") as f:
        for i, j in pairs:
            f.write(_pair_key(primes[i], primes[j]) + "\n")
    return time.perf_counter() - t0, need - have


def ensure_keys(
    out: Path, bits: int, need: int, processes: int, source: str = "openssl"
) -> tuple[float, int]:
    """At least ``need`` issuer keys in the cache; (seconds spent, keys made now)."""
    if source == "pairs":
        return ensure_pair_keys(out, bits, need, processes)
    path = keys_path(out, bits)
    have = _complete_lines(path)
    if have >= need:
        return 0.0, 0
    _log(
        f"generating {need - have:,} {bits}-bit issuer keys on {processes} processes "
        f"(once: cached in {path})"
    )
    t0 = time.perf_counter()
    counts = [min(KEYGEN_TASK, need - s) for s in range(have, need, KEYGEN_TASK)]
    done = have
    with (
        cf.ProcessPoolExecutor(
            processes, mp_context=multiprocessing.get_context("forkserver")
        ) as ex,
        path.open("ab") as f,
    ):
        for i, chunk in enumerate(ex.map(_keygen, counts, [bits] * len(counts))):
            f.write(chunk)
            f.flush()
            done += chunk.count(b"\n")
            if i % 50 == 49 or done == need:
                rate = (done - have) / (time.perf_counter() - t0)
                _log(f"  {done:,} of {need:,} keys ({rate:.1f} keys/s)")
    return time.perf_counter() - t0, need - have


def read_keys(out: Path, bits: int, n: int, source: str = "openssl") -> list[dict[str, str]]:
    with keys_path(out, bits, source).open("rb") as f:
        return [json.loads(line) for _, line in zip(range(n), f, strict=False)]


class _LazyIssuers(dict[str, Any]):
    """Ward id -> IssuerKey, each loaded from the key cache on first use. The keys are our
    own, freshly generated: loaded without OpenSSL's RSA key check, which costs 0.1 s a key
    (20 minutes for 10,000 keys in every build process)."""

    def __init__(self, pems: dict[str, str]) -> None:
        super().__init__()
        self.pems = pems

    def __missing__(self, ward: str) -> Any:
        from cryptography.hazmat.primitives import serialization

        from anonballot.tokens import IssuerKey

        pem = self.pems[ward].encode("ascii")
        key = serialization.load_pem_private_key(pem, None, unsafe_skip_rsa_key_validation=True)
        issuer = IssuerKey(key)  # type: ignore[arg-type]
        self[ward] = issuer
        return issuer


def _init_national_builder(arg: str) -> None:
    """bench/audit.py's builder state, with the issuer keys read from the key cache."""
    from anonballot.encoding import parse_json
    from anonballot.manifest import Manifest
    from anonballot.trustee import TrusteePublic

    pool_dir, keys_file = arg.split("\n")
    manifest = Manifest.from_signed(parse_json((Path(pool_dir) / "manifest.json").read_bytes()))
    wards = [w.id for w in manifest.wards]
    with open(keys_file, "rb") as f:
        pems = {w: json.loads(line)["pem"] for w, line in zip(wards, f, strict=False)}
    bench._BUILDER.update(
        manifest=manifest,
        mid=manifest.mid,
        wards=wards,
        issuers=_LazyIssuers(pems),
        trustees=[TrusteePublic(t.id, t.hpke_key) for t in manifest.trustees],
    )


# -- the pool: manifest and leaves ---------------------------------------------------------


def ensure_pool(
    out: Path,
    *,
    wards: int,
    per_ward: int,
    bits: int,
    processes: int,
    source: str = "openssl",
    need: int | None = None,
) -> tuple[bench.Pool, dict[str, Any]]:
    """The country's pool (bench/audit.py's format): manifest, keys.json and at least
    ``need`` leaves (default all, ``wards * per_ward``; the first ``n`` leaves are the same
    whatever ``need``, so a smaller size is audited on a prefix of the pool)."""
    from anonballot.encoding import jcs
    from anonballot.manifest import Manifest
    from anonballot.signing import SigningKey
    from anonballot.tokens import IssuerPublicKey
    from anonballot.trustee import TrusteeKey

    stats: dict[str, Any] = {}
    stats["keygen_seconds"], stats["keys_made"] = ensure_keys(out, bits, wards, processes, source)
    suffix = "" if source == "openssl" else f"-{source}"
    pool = bench.Pool(out / f"pool-k{bits}-w{wards}-p{per_ward}{suffix}")
    ok = False
    if pool.meta_path.exists():
        meta = pool.meta()
        ok = meta.get("format") == bench.POOL_FORMAT and meta.get("country") == COUNTRY_FORMAT
    if not ok:
        _log(f"creating the country's round {pool.path} ({wards:,} wards)")
        t0 = time.perf_counter()
        if pool.path.exists():
            import shutil

            shutil.rmtree(pool.path)
        pool.path.mkdir(parents=True)
        trustees = [TrusteeKey.generate(tid) for tid, _ in TRUSTEES]
        config = country_config(wards, trustees)
        keys = read_keys(out, bits, wards, source)
        ward_ids = [w.id for w in config.district.wards]
        organizer, log = SigningKey.generate(), SigningKey.generate()
        manifest = Manifest.build(
            config,
            eligible=dict.fromkeys(ward_ids, math.ceil(per_ward * 1.05)),
            issuer_keys={
                w: IssuerPublicKey.from_b64u(k["pub"]) for w, k in zip(ward_ids, keys, strict=True)
            },
            organizer_key=organizer.public_key,
            log_key=log.public_key,
        )
        (pool.path / "manifest.json").write_bytes(jcs(manifest.sign(organizer)))
        (pool.path / "config.json").write_bytes(jcs(config.to_json()))
        secrets = {
            "organizer": bench._b64u(organizer.seed),
            "log": bench._b64u(log.seed),
            "trustees": [t.to_json() for t in trustees],
            "issuers_file": str(keys_path(out, bits, source)),
        }
        (pool.path / "keys.json").write_text(json.dumps(secrets))
        (pool.path / "leaves.jsonl").write_bytes(b"")
        (pool.path / "plain.txt").write_bytes(b"")
        pool._write_meta(
            {
                "format": bench.POOL_FORMAT,
                "country": COUNTRY_FORMAT,
                "id": bench._b64u(os.urandom(9)),
                "wards": wards,
                "per_ward": per_ward,
                "key_bits": bits,
                "key_source": source,
                "capacity": wards * per_ward,
                "count": 0,
                "leaves_bytes": 0,
                "plain_bytes": 0,
            }
        )
        _log(f"  round configuration and signed manifest: {time.perf_counter() - t0:.1f} s")
    need = wards * per_ward if need is None else need
    have = pool.count()
    stats["leaves_built"] = max(0, need - have)
    stats["build_seconds"] = 0.0
    if have < need:
        _log(
            f"building {need - have:,} leaves on {processes} processes "
            "(tokens signed directly with the ward issuer keys, no blinding)"
        )
        init_arg = f"{pool.path}\n{keys_path(out, bits, source)}"
        stats["build_seconds"] = pool.grow(need, processes, _init_national_builder, init_arg)
        _log(f"  {need - have:,} leaves in {stats['build_seconds']:.1f} s")
    return pool, stats


# -- measuring the manifest (in a fresh process) -----------------------------------------------


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def run_manifest_check(pool_dir: str, repeat: int) -> None:
    """Parse and verify the signed manifest, load it into an auditor's opener and a
    participant; print the times (best of ``repeat``) and the memory as JSON."""
    import gc
    import tracemalloc

    from anonballot.encoding import jcs, parse_json
    from anonballot.manifest import Manifest
    from anonballot.opening import LeafOpener
    from anonballot.participant import Participant
    from anonballot.tokens import _parse_issuer_der
    from anonballot.trustee import TrusteeKey, verify_release

    data = (Path(pool_dir) / "manifest.json").read_bytes()
    keys = json.loads((Path(pool_dir) / "keys.json").read_text())
    trustees = [TrusteeKey.from_json(t) for t in keys["trustees"]][: bench.THRESHOLD]
    result: dict[str, Any] = {"signed_bytes": len(data)}
    result["manifest_bytes"] = len(jcs(parse_json(data)["manifest"]))

    # Memory: what parsing takes at its peak (the JSON tree and the manifest) and what the
    # parsed manifest holds once the JSON tree is gone, as an auditor keeps it. Python's own
    # allocations (tracemalloc); the RSS also counts OpenSSL's keys and freed memory the
    # allocator keeps.
    gc.collect()
    rss0 = _rss_kib()
    tracemalloc.start()
    obj = parse_json(data)
    manifest = Manifest.from_signed(obj)
    _, peak = tracemalloc.get_traced_memory()
    del obj
    gc.collect()
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    result["python_alloc_mib"] = current / 2**20
    result["python_peak_mib"] = peak / 2**20
    result["rss_growth_mib"] = (_rss_kib() - rss0) / 1024
    del manifest

    times: dict[str, list[float]] = {"parse_json": [], "from_signed": [], "mid": []}
    times.update(opener=[], participant=[])
    for _ in range(repeat):
        _parse_issuer_der.cache_clear()  # each round checks every key again, as a fresh reader
        gc.collect()
        t0 = time.perf_counter()
        obj = parse_json(data)
        t1 = time.perf_counter()
        manifest = Manifest.from_signed(obj)
        t2 = time.perf_counter()
        mid = manifest.mid
        t3 = time.perf_counter()
        released = [verify_release(t.release(mid), manifest, mid) for t in trustees]
        t4 = time.perf_counter()  # the releases are not the manifest's cost
        opener = LeafOpener(manifest, released, mid)
        t5 = time.perf_counter()
        _parse_issuer_der.cache_clear()
        t6 = time.perf_counter()
        participant = Participant(obj, manifest.wards[-1].id)
        participant.request_token()
        t7 = time.perf_counter()
        del opener, participant, manifest, obj
        for name, seconds in (
            ("parse_json", t1 - t0), ("from_signed", t2 - t1), ("mid", t3 - t2),
            ("opener", t5 - t4), ("participant", t7 - t6),
        ):  # fmt: skip
            times[name].append(seconds)
    result.update({k: min(v) for k, v in times.items()})
    print(json.dumps(result))


def measure_manifest(pool: bench.Pool, repeat: int) -> dict[str, Any]:
    cmd = [
        sys.executable, str(Path(__file__).resolve()),
        "--manifest-check", str(pool.path), str(repeat),
    ]  # fmt: skip
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout  # noqa: S603
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


# -- the report ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wards", type=int, help="wards of the country (10000; --quick 50)")
    parser.add_argument("--per-ward", type=int, help="ballots per ward (100; --quick 20)")
    parser.add_argument("--key-bits", type=int, default=3072, help="issuer key size (3072)")
    parser.add_argument(
        "--keys",
        choices=("openssl", "pairs"),
        default="openssl",
        help="openssl: one fresh OpenSSL key per ward (default); pairs: keys made of pairs "
        "of 142 OpenSSL primes, same size and cost, not safe keys (a fast build)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="cache folder")
    parser.add_argument("--quick", action="store_true", help="50 wards x 20 ballots: a smoke test")
    parser.add_argument(
        "--sizes", help="ballot counts to audit, comma-separated (default: a tenth and all)"
    )
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument(
        "--build-only", action="store_true", help="build and cache, measure nothing"
    )
    parser.add_argument("--build-processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    parser.add_argument(
        "--manifest-check", nargs=2, metavar=("POOL", "REPEAT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)

    if args.manifest_check:
        run_manifest_check(args.manifest_check[0], int(args.manifest_check[1]))
        return 0

    wards = args.wards or (50 if args.quick else 10_000)
    per_ward = args.per_ward or (20 if args.quick else 100)
    total = wards * per_ward
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else sorted({total // 10, total})
    if max(sizes) > total:
        raise SystemExit(f"--sizes: at most {total:,} ballots ({wards} wards x {per_ward})")
    worker_counts = [int(w) for w in args.workers.split(",")]
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    print(f"machine: {bench.machine()}")
    print(
        f"country: {wards:,} wards in districts of 8 to 20, 2 people rated per ward, "
        f"{per_ward} ballots per ward ({total:,}), {bench.TRUSTEES} trustees, threshold "
        f"{bench.THRESHOLD}, {args.key_bits}-bit issuer keys, one per ward, made once and "
        f"cached in {keys_path(out, args.key_bits, args.keys)}; tokens signed directly with the "
        "ward issuer keys (no blinding: faster to build, verified exactly like blind-issued "
        "tokens)"
    )
    if args.keys == "pairs":
        print(
            "issuer keys --keys pairs: the moduli are products of pairs of primes of a few "
            "OpenSSL keys: distinct keys of the same size and verification cost, NOT safe keys "
            "(keys that share a prime break each other); only to build the benchmark faster"
        )
    pool, stats = ensure_pool(
        out,
        wards=wards,
        per_ward=per_ward,
        bits=args.key_bits,
        processes=args.build_processes,
        source=args.keys,
        need=max(sizes),
    )
    if stats["keys_made"]:
        print(
            f"issuer keys: {stats['keys_made']:,} generated in {stats['keygen_seconds']:.0f} s "
            f"({stats['keys_made'] / stats['keygen_seconds']:.1f} keys/s on "
            f"{args.build_processes} processes)"
        )
    else:
        print("issuer keys: from the cache")
    if stats["leaves_built"]:
        print(
            f"leaves: {stats['leaves_built']:,} built in {stats['build_seconds']:.0f} s "
            f"({stats['leaves_built'] / stats['build_seconds']:,.0f} leaves/s on "
            f"{args.build_processes} processes)"
        )
    else:
        print("leaves: from the cache")
    if args.build_only:
        for n in sizes:
            bench.ensure_record(pool.path, pool, n)
        return 0

    _log("measuring the manifest (fresh process)")
    m = measure_manifest(pool, 2 if args.quick else 3)
    print()
    print(
        f"manifest: {m['signed_bytes']:,} bytes signed (JCS; M itself {m['manifest_bytes']:,}), "
        f"{m['signed_bytes'] / wards:,.0f} per ward"
    )
    print(
        f"  parse JSON {m['parse_json'] * 1e3:.0f} ms, Manifest.from_signed (every rule, every "
        f"issuer key checked, signature) {m['from_signed'] * 1e3:.0f} ms, mid "
        f"{m['mid'] * 1e3:.0f} ms"
    )
    print(
        f"  auditor's LeafOpener {m['opener'] * 1e3:.0f} ms; Participant (from the parsed "
        f"JSON: check, verify, token request) {m['participant'] * 1e3:.0f} ms"
    )
    print(
        f"  memory (Python): {m['python_alloc_mib']:.0f} MiB held by the parsed manifest, "
        f"{m['python_peak_mib']:.0f} MiB at the peak of parsing (JSON tree and manifest); "
        f"process RSS +{m['rss_growth_mib']:.0f} MiB after one parse"
    )

    records = {n: bench.ensure_record(pool.path, pool, n) for n in sizes}
    big = records[max(sizes)]
    files = {
        name: (big / name).stat().st_size
        for name in (
            "manifest.json",
            "issuance.json",
            "close.json",
            "checkpoint.txt",
            "results.json",
        )
    }
    print(f"record of {max(sizes):,}: " + ", ".join(f"{k} {v:,} bytes" for k, v in files.items()))

    floor = bench.measured_floor(records[min(sizes)], 0.3 if args.quick else 2.0)
    floor_us = floor["total"] * 1e6
    rows: list[dict[str, Any]] = []
    for n in sizes:
        for w in worker_counts:
            _log(f"auditing {n:,} ballots with {w} worker(s)")
            r = bench.measure_audit(records[n], w)
            if r["leaves"] != n:
                raise SystemExit(f"audited {r['leaves']} leaves, expected {n}")
            main_mib = r["self_maxrss_kib"] / 1024
            worker_mib = [k / 1024 for k in r["workers_hwm_kib"]]
            rows.append(
                {
                    "n": n,
                    "workers": w,
                    "seconds": r["seconds"],
                    "us_per_ballot": r["seconds"] / n * 1e6,
                    "main_rss_mib": main_mib,
                    "worker_rss_mib": worker_mib,
                    "peak_rss_mib": main_mib + sum(worker_mib),
                    "ratio": r["seconds"] / n * 1e6 / floor_us,
                    "cpu_pressure": r["cpu_pressure"],
                }
            )
    print()
    print(
        f"{'N':>9} {'workers':>7} {'seconds':>8} {'ballots/s':>10} {'us/ballot':>9} "
        f"{'peak RSS MiB (main + workers)':>30} {'ratio':>6} {'speedup':>7}"
    )
    one = {r["n"]: r["seconds"] for r in rows if r["workers"] == 1}
    for r in rows:
        rss = f"{r['main_rss_mib']:.0f}" + "".join(f" + {k:.0f}" for k in r["worker_rss_mib"])
        rss += f" = {r['peak_rss_mib']:.0f}" if r["worker_rss_mib"] else ""
        speedup = f"{one[r['n']] / r['seconds']:.2f}x" if r["n"] in one else "-"
        print(
            f"{r['n']:>9,} {r['workers']:>7} {r['seconds']:>8.1f} {r['n'] / r['seconds']:>10,.0f} "
            f"{r['us_per_ballot']:>9.1f} {rss:>30} {r['ratio']:>6.2f} {speedup:>7}"
        )
    print(
        f"ratio = audit time per ballot / primitive floor per ballot ({floor_us:.1f} us, one core)"
    )
    busy = [r["cpu_pressure"] for r in rows if r["cpu_pressure"] is not None]
    if busy and max(busy) > 10:
        print(
            f"warning: the machine was busy (CPU pressure up to {max(busy):.0f}% over 10 s): "
            "other load makes these times longer"
        )
    print()
    top = max(sizes)
    for r in rows:
        if r["n"] != top:
            continue
        if r["workers"] == 1:
            verdict = "meets" if r["ratio"] <= 1.3 else "MISSES"
            print(f"target ratio <= 1.3 (N={top:,}, 1 worker): {r['ratio']:.2f}, {verdict}")
        if r["workers"] == 2 and top in one:
            s = one[top] / r["seconds"]
            print(f"target speedup >= 1.8x (N={top:,}, 2 workers): {s:.2f}x, "
                  + ("meets" if s >= 1.8 else "MISSES"))  # fmt: skip
        verdict = "meets" if r["seconds"] < 180 else "MISSES"
        print(
            f"target {top:,} ballots < 3 min ({r['workers']} worker(s)): "
            f"{r['seconds']:.0f} s{'' if top >= 1_000_000 else ' (N below 1,000,000)'}, {verdict}"
        )
        verdict = "meets" if r["peak_rss_mib"] < 300 else "MISSES"
        print(
            f"target peak memory < 300 MiB ({r['workers']} worker(s)): "
            f"{r['peak_rss_mib']:.0f} MiB, {verdict}"
        )
    bench.print_memory_by_n(rows, sizes, worker_counts)
    if args.json:
        args.json.write_text(
            json.dumps(
                {"machine": bench.machine(), "build": stats, "manifest": m, "files": files,
                 "floor": floor, "rows": rows},
                indent=1,
            )
        )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
