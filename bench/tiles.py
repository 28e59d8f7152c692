"""Tiles benchmark: the public log (c2sp.org/tlog-tiles) of a 100,000-leaf board, served and
written.

::

    .venv/bin/python bench/tiles.py                  # 100,000 leaves
    .venv/bin/python bench/tiles.py --quick          # 3,000 leaves: a smoke test
    .venv/bin/python bench/tiles.py --leaves 1000000 # a country

Results and findings: bench/README.md, section "Tiles".

What it does:

1. Sets up a data directory (under ``--out``, default ``bench/out/tiles/``) with an open
   round of one demo ward, and appends ``--leaves`` made-up leaves of ``--leaf-bytes``
   (2,600: a real leaf with 3 trustees, a 3072-bit issuer key and a few short comments) in
   group commits of ``--group`` leaves (32), each with its signed checkpoint, straight into
   the store as the engine's group commits write them. The tiles do not look inside a leaf,
   so made-up leaves cost the same to serve as real ones.
2. **Start**: a fresh :class:`~server.service.Service` loads the round (the engine rebuilds
   its tree from the database, as at every server start).
3. **Served, in process**: ``Round.tile`` (no cache) and ``server.tiles.serve_tile`` (with
   the cache of full tiles) for random full level-0 hash tiles, full entry bundles, and the
   right edge's partial tiles (what a client of the latest checkpoint asks for).
4. **Served over HTTP**: the application under uvicorn in a thread, one keep-alive client
   (httpx) on 127.0.0.1 asking for random full tiles.
5. **Written**: :class:`server.tiles.TileFolder` writes the whole log to an empty folder
   (every full tile, fsync'd), then one pass after each of ``--passes`` further group
   commits (what the writer does after a commit while the server runs).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from anonballot.board import TILE_WIDTH, TilePath  # noqa: E402
from anonballot.server.service import Service  # noqa: E402
from anonballot.server.store import SqliteRoundStore  # noqa: E402
from anonballot.signing import SigningKey  # noqa: E402
from anonballot.testing import demo_config  # noqa: E402

ROUND = "bench-tiles"


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def setup(data: Path, leaves: int, leaf_bytes: int, group: int) -> None:
    """A data directory with an open round of ``leaves`` made-up leaves."""
    if data.exists():
        shutil.rmtree(data)
    service = Service(data, key_bits=2048)
    try:
        config, _ = demo_config(wards=1, round_id=ROUND, results_access="public")
        service.set_district(config.district)
        service.create_round(config)
        engine = service.round(ROUND)
        engine.open()
        grow(service, leaves, leaf_bytes, group)
    finally:
        service.close()


def grow(service: Service, leaves: int, leaf_bytes: int, group: int) -> None:
    """Append ``leaves`` made-up leaves as the engine's commit does: to its tree in memory,
    then to the store with the checkpoint of the new size, one group at a time."""
    engine = service.round(ROUND)
    store = engine.store
    if not isinstance(store, SqliteRoundStore):
        raise SystemExit("the server's store is expected")
    log = SigningKey(store.get_secret("log") or b"")
    engine.tree(store.leaf_count())  # the engine's own board, up to date
    board = engine.board
    rng = random.Random(board.size)
    end = board.size + leaves
    while board.size < end:
        batch = []
        for i in range(board.size, min(end, board.size + group)):
            filler = rng.randbytes(leaf_bytes // 2).hex()[: leaf_bytes - 24]
            leaf = b'{"i":%d,"x":"%s"}' % (i, filler.encode())
            board.append(leaf)
            batch.append((leaf, i.to_bytes(32, "big")))
        note = board.checkpoint().sign(log)
        store.append_leaves(batch, note)


def rate(label: str, count: int, run: Callable[[int], int]) -> float:
    """Run ``run(i)`` for i in range(count) (it returns bytes made); print the rate."""
    made = 0
    start = time.perf_counter()
    for i in range(count):
        made += run(i)
    elapsed = time.perf_counter() - start
    per_second = count / elapsed
    print(
        f"  {label:<44} {per_second:>10,.0f}/s  {1e6 * elapsed / count:>9.1f} µs"
        f"  {made / elapsed / 2**20:>8.1f} MiB/s"
    )
    return per_second


@contextlib.contextmanager
def served(service: Service) -> Iterator[str]:
    import socket

    import uvicorn

    from anonballot.server.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        sock_port = s.getsockname()[1]
    config = uvicorn.Config(
        create_app(service), host="127.0.0.1", port=sock_port, log_level="warning",
        access_log=False,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock_port}"
    finally:
        server.should_exit = True
        thread.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leaves", type=int, default=100_000)
    parser.add_argument("--leaf-bytes", type=int, default=2600)
    parser.add_argument("--group", type=int, default=32)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--passes", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="3,000 leaves, few requests")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "tiles")
    args = parser.parse_args()
    if args.quick:
        args.leaves, args.requests, args.passes = 3000, 200, 5
    data = args.out / "data"
    print(
        f"tiles benchmark: {args.leaves:,} leaves of {args.leaf_bytes:,} bytes, "
        f"a checkpoint every {args.group} leaves; Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} cores"
    )
    start = time.perf_counter()
    setup(data, args.leaves, args.leaf_bytes, args.group)
    print(f"setup (made-up leaves in the store): {time.perf_counter() - start:.1f} s")

    rss = _rss_mib()
    start = time.perf_counter()
    service = Service(data)
    engine = service.round(ROUND)
    _, size = engine.published()
    print(
        f"start: the engine's tree of {size:,} leaves rebuilt from the database in "
        f"{time.perf_counter() - start:.2f} s; process RSS +{_rss_mib() - rss:.0f} MiB"
    )
    full = size // TILE_WIDTH
    rng = random.Random(1)
    picks = [rng.randrange(full) for _ in range(args.requests)]
    edge = TilePath(0, full, size % TILE_WIDTH) if size % TILE_WIDTH else TilePath(0, full - 1)
    edge_entries = TilePath(None, edge.index, edge.width)
    from anonballot.server.tiles import TileCache, TileFolder, serve_tile

    cache = TileCache()
    print("served, in process (per tile):")
    rate("level-0 hash tile, full, no cache", args.requests,
         lambda i: len(engine.tile(TilePath(0, picks[i]))))  # fmt: skip
    rate("level-0 hash tile, partial (right edge)", args.requests,
         lambda i: len(engine.tile(edge)))  # fmt: skip
    level1 = TilePath(1, 0) if size >> 8 >= TILE_WIDTH else TilePath(1, 0, size >> 8)
    rate(f"level-1 hash tile ({level1.path()})", args.requests,
         lambda i: len(engine.tile(level1)))  # fmt: skip
    bundle_requests = max(20, args.requests // 10)
    rate("entry bundle, full, no cache", bundle_requests,
         lambda i: len(engine.tile(TilePath(None, picks[i]))))  # fmt: skip
    rate("entry bundle, partial (right edge)", bundle_requests,
         lambda i: len(engine.tile(edge_entries)))  # fmt: skip
    for i in range(args.requests):  # fill the cache
        serve_tile(engine, TilePath(0, picks[i]), cache)
    rate("level-0 hash tile, full, cached", args.requests,
         lambda i: len(serve_tile(engine, TilePath(0, picks[i]), cache)))  # fmt: skip

    import httpx

    print("served over HTTP (uvicorn in a thread, one keep-alive client on 127.0.0.1):")
    with served(service) as url, httpx.Client(base_url=url) as client:
        log = f"/log/{ROUND}/"

        def get(path: str) -> int:
            answer = client.get(log + path)
            if answer.status_code != 200:
                raise SystemExit(f"GET {path}: {answer.status_code} {answer.text}")
            return len(answer.content)

        rate("GET tile/0/<N> (full, cache warm)", args.requests,
             lambda i: get(TilePath(0, picks[i]).path()))  # fmt: skip
        rate("GET tile/0/<N>.p/<W> (right edge)", args.requests, lambda i: get(edge.path()))
        rate("GET tile/entries/<N> (full)", bundle_requests,
             lambda i: get(TilePath(None, picks[-1 - i]).path()))  # fmt: skip
        rate("GET checkpoint", args.requests, lambda i: get("checkpoint"))

    folder_root = args.out / "log"
    if folder_root.exists():
        shutil.rmtree(folder_root)
    writer = TileFolder(service, folder_root)
    start = time.perf_counter()
    writer.sync(ROUND, verify=True)
    elapsed = time.perf_counter() - start
    files = [p for p in (folder_root / ROUND).rglob("*") if p.is_file()]
    written = sum(p.stat().st_size for p in files)
    print(
        f"written: the whole log to an empty folder in {elapsed:.2f} s: {len(files):,} files, "
        f"{written / 2**20:,.0f} MiB ({len(files) / elapsed:,.0f} files/s, "
        f"{written / elapsed / 2**20:,.0f} MiB/s, {size / elapsed:,.0f} leaves/s)"
    )
    times = []
    for _ in range(args.passes):
        grow(service, args.group, args.leaf_bytes, args.group)
        start = time.perf_counter()
        writer.sync(ROUND)
        times.append(time.perf_counter() - start)
    print(
        f"written: one pass after a group commit of {args.group} leaves, {args.passes} passes: "
        f"median {1e3 * statistics.median(times):.1f} ms, max {1e3 * max(times):.1f} ms"
    )
    start = time.perf_counter()
    writer.sync(ROUND, verify=True)
    checked = time.perf_counter() - start
    print(f"start of a server on an up-to-date folder (checks it): {checked:.2f} s")
    service.close()


if __name__ == "__main__":
    main()
