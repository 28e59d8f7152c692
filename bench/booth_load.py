"""Booth load benchmark: from opening a slip's link to the ballot on screen, on a slow phone.

::

    .venv/bin/python bench/booth_load.py                     # 7 runs, cold and warm cache
    .venv/bin/python bench/booth_load.py --quick             # 2 runs, 2048-bit keys: a smoke test
    .venv/bin/python bench/booth_load.py --profile devtools  # DevTools' "Slow 4G" as it applies it
    .venv/bin/python bench/booth_load.py --source /tmp/main  # serve another checkout's code

Results and findings: bench/README.md, section "Booth load benchmark".

What it does:

1. Sets up a data directory (under ``--out``, default ``bench/out/booth_load/``) as an office
   would: the whole demo district (14 wards, fresh ``--key-bits`` issuer keys), a roster with
   two invitation codes per run, and an open round.
2. Starts ``anonballot serve`` on 127.0.0.1 (a separate process, the real CLI). With
   ``--source DIR`` the server imports ``anonballot`` from ``DIR`` (``PYTHONPATH``) instead
   of this checkout: the same benchmark measures an older version of the server and pages.
3. For each run, a fresh Chromium context (an empty HTTP cache, no connection open) and a page
   throttled through the DevTools protocol: ``Network.emulateNetworkConditions`` (latency and
   throughput of ``--profile``) and ``Emulation.setCPUThrottlingRate`` (``--cpu``, 4). The page
   opens the slip's link ``/r/{round}#code=...`` of a fresh code (**cold**). Then the device's
   storage is cleared and a second throttled page of the same context opens the link of
   another fresh code (**warm**: the browser's HTTP cache holds what the first visit left).
4. "Ballot on screen" is the first animation frame after the ballot's heading
   (``#ballot-heading``, inside the ballot's view) is in the page and visible, timed inside
   the page by ``performance.now()``, whose origin is the start of the navigation. A script
   added through the DevTools protocol watches the page for it (the pages' Content-Security-
   Policy does not apply to such scripts). The page's own resource timings say where the time
   went: the HTML, the last module, the message catalog, and each API call.
5. Prints the median, lowest and highest of the runs, and the timings of the median run.

Everything runs on the loopback interface; the throttling stands in for the phone network.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "out" / "booth_load"
TARGET_MS = 3000

# The network profiles, in the units of Network.emulateNetworkConditions (latency in ms,
# throughput in bytes per second). "slow-4g" is Lighthouse's mobile preset ("Slow 4G": 150 ms
# RTT, 1.6 Mbps down, 750 kbps up; Lighthouse docs/throttling.md and core/config/constants.js,
# where 1.6 Mbps is 1.6 * 1024 kbps), applied as it stands: one RTT per request. "devtools" is
# the same preset as DevTools and Lighthouse's "applied" throttling feed it to this very call:
# the latency times 3.75 and the throughputs times 0.9, because throttling whole requests
# leaves out the round trips of opening connections (TCP, TLS) that a real network adds.
PROFILES = {
    "slow-4g": {"latency": 150.0, "down_kbps": 1.6 * 1024, "up_kbps": 750.0},
    "devtools": {"latency": 150.0 * 3.75, "down_kbps": 1.6 * 1024 * 0.9, "up_kbps": 750.0 * 0.9},
}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [  # as tests/_browser.py launches it
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}

# Added to every document before its own scripts: records when the ballot is on screen.
WATCH_BALLOT = """
(() => {
  const seen = () => {
    const heading = document.getElementById("ballot-heading");
    if (window.__ballotShown !== undefined || !heading || heading.offsetParent === null) return;
    window.__ballotShown = performance.now();
    requestAnimationFrame(() => { window.__ballotPainted = performance.now(); });
  };
  new MutationObserver(seen).observe(document, {
    childList: true, subtree: true, attributes: true, attributeFilter: ["hidden"],
  });
})();
"""

TIMINGS = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const entries = performance.getEntriesByType("resource").map((e) => ({
    name: e.name, start: e.startTime, end: e.responseEnd, transfer: e.transferSize,
    encoded: e.encodedBodySize, decoded: e.decodedBodySize,
  }));
  entries.unshift({
    name: nav.name, start: 0, end: nav.responseEnd, transfer: nav.transferSize,
    encoded: nav.encodedBodySize, decoded: nav.decodedBodySize,
  });
  return { painted: window.__ballotPainted, shown: window.__ballotShown, entries };
}"""


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _bench_server() -> Any:
    """bench/server.py (setup of the office, the server process), loaded by its path: bench/
    is a folder of scripts, not a package."""
    if "bench_server" in sys.modules:
        return sys.modules["bench_server"]
    spec = importlib.util.spec_from_file_location("bench_server", HERE / "server.py")
    if spec is None or spec.loader is None:
        raise RuntimeError("bench/server.py is missing")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_server"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def serving(data: Path, source: Path | None) -> Iterator[str]:
    bench = _bench_server()
    port = bench.free_port()
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    proc = subprocess.Popen(  # noqa: S603 (our own entry point, fixed arguments)
        [sys.executable, "-c", bench.SERVE, "serve", "--data", str(data), "--host", bench.HOST,
         "--port", str(port)],
        stdout=subprocess.DEVNULL,
        env=env,
        cwd=data.parent,  # not a checkout: `python -c` puts the working folder first on sys.path
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode}")
            try:
                with socket.create_connection((bench.HOST, port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not come up") from None
                time.sleep(0.05)
        yield f"http://{bench.HOST}:{port}"
    finally:
        bench.stop_server(proc)


def throttled_page(context: Any, profile: dict[str, float], cpu: float) -> Any:
    page = context.new_page()
    page.add_init_script(WATCH_BALLOT)
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": profile["latency"],
            "downloadThroughput": profile["down_kbps"] * 1000 / 8,
            "uploadThroughput": profile["up_kbps"] * 1000 / 8,
        },
    )
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": cpu})
    return page


def open_slip(page: Any, url: str, code: str, timeout_ms: float) -> dict[str, Any]:
    """Open the slip's link of ``code``; the page's timings once the ballot is on screen."""
    page.goto(f"{url}/r/{_bench_server().ROUND_ID}#code={code}", wait_until="commit")
    page.wait_for_function("() => window.__ballotPainted !== undefined", timeout=timeout_ms)
    timings: dict[str, Any] = page.evaluate(TIMINGS)
    return timings


def phases(timings: dict[str, Any]) -> dict[str, float]:
    """Where the time of one load went, in ms from the start of the navigation."""
    entries = timings["entries"]

    def last(pred: Any, key: str = "end") -> float:
        values = [e[key] for e in entries if pred(e["name"])]
        return max(values) if values else float("nan")

    out = {
        "html": entries[0]["end"],
        "css": last(lambda n: n.endswith(".css")),
        "modules": last(lambda n: n.endswith(".js")),
        "catalog": last(lambda n: "/i18n/" in n),
    }
    for name, path in (("manifest", "/manifest"), ("ward", "/ward"), ("token", "/tokens")):
        out[f"{name} asked"] = last(lambda n, p=path: n.endswith(p), "start")
        out[f"{name} answered"] = last(lambda n, p=path: n.endswith(p))
    out["ballot in the page"] = timings["shown"]
    out["ballot on screen"] = timings["painted"]
    return out


def summary(timings: dict[str, Any]) -> dict[str, Any]:
    entries = timings["entries"]
    # the page and its static files ("from the network": a 304 included, a cache hit not)
    static = [e for e in entries if "/api/" not in e["name"]]
    return {
        "ms": timings["painted"],
        "phases": phases(timings),
        "requests": len(entries),
        "static_requests": len(static),
        "static_from_network": sum(1 for e in static if e["transfer"] > 0),
        "transferred": sum(e["transfer"] for e in entries),
        "static_decoded": sum(e["decoded"] for e in static),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from anonballot.codes import normalize_code

    bench = _bench_server()
    data = args.out / "data"
    _log(f"setting up {data}: {args.wards} wards, {args.key_bits}-bit issuer keys ...")
    codes = [
        normalize_code(c)
        for c, _ in bench.setup_office(
            data, wards=args.wards, codes=2 * args.runs + 2, key_bits=args.key_bits
        )
    ]
    profile = PROFILES[args.profile]
    cold: list[dict[str, Any]] = []
    warm: list[dict[str, Any]] = []
    with serving(data, args.source) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for i in range(args.runs):
                context = browser.new_context(viewport=PHONE)  # an empty cache
                try:
                    first = throttled_page(context, profile, args.cpu)
                    cold.append(summary(open_slip(first, url, codes[2 * i], args.timeout)))
                    first.evaluate("() => localStorage.clear()")  # a new participant
                    first.close()
                    second = throttled_page(context, profile, args.cpu)
                    warm.append(summary(open_slip(second, url, codes[2 * i + 1], args.timeout)))
                finally:
                    context.close()
                _log(f"run {i + 1}: cold {cold[-1]['ms']:.0f} ms, warm {warm[-1]['ms']:.0f} ms")
        finally:
            browser.close()
    return {"cold": cold, "warm": warm}


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(runs, key=lambda r: r["ms"])
    return ordered[(len(ordered) - 1) // 2]


def report(args: argparse.Namespace, results: dict[str, Any]) -> str:
    profile = PROFILES[args.profile]
    lines = [
        f"machine: {platform.machine()}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.2f}; Chromium at {CHROMIUM}",
        f"profile {args.profile}: latency {profile['latency']:g} ms per request, "
        f"{profile['down_kbps']:g} kbps down, {profile['up_kbps']:g} kbps up, CPU slowed "
        f"{args.cpu:g}x; {args.wards} wards, {args.key_bits}-bit issuer keys, {args.runs} runs"
        + (f"; server and pages from {args.source}" if args.source else ""),
        "",
        f"{'cache':<6} {'median ms':>10} {'min':>7} {'max':>7} {'requests':>9} "
        f"{'static from net':>16} {'bytes in':>9} {'target':>8}",
    ]
    for name in ("cold", "warm"):
        runs = results[name]
        ms = [r["ms"] for r in runs]
        med = median_run(runs)
        verdict = "met" if statistics.median(ms) <= TARGET_MS else "MISSED"
        lines.append(
            f"{name:<6} {statistics.median(ms):>10.0f} {min(ms):>7.0f} {max(ms):>7.0f} "
            f"{med['requests']:>9} {med['static_from_network']:>16} "
            f"{med['transferred']:>9} {verdict:>8}"
        )
    for name in ("cold", "warm"):
        med = median_run(results[name])
        lines += ["", f"the median {name} run, ms from the start of the navigation:"]
        lines += [f"  {k:<20} {v:>7.0f}" for k, v in med["phases"].items()]
    lines.append(f"\ntarget: the ballot on screen within {TARGET_MS} ms (median)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--key-bits", type=int, default=3072)
    parser.add_argument("--wards", type=int, default=14)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="slow-4g")
    parser.add_argument("--cpu", type=float, default=4.0, help="CPU slowdown (DevTools)")
    parser.add_argument("--source", type=Path, help="serve anonballot from this folder")
    parser.add_argument("--timeout", type=float, default=60_000, help="ms per load")
    parser.add_argument("--json", type=Path, help="also write the runs as JSON")
    parser.add_argument("--quick", action="store_true", help="2 runs, 2 wards, 2048-bit keys")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.wards, args.key_bits = 2, 2, 2048
    if args.source is not None:
        args.source = args.source.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    results = run(args)
    text = report(args, results)
    print(text)
    if args.json:
        settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        args.json.write_text(json.dumps({"settings": settings, **results}, indent=1))
    shutil.rmtree(args.out / "data", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
