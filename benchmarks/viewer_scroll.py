"""Scrolling a 300-slice 512x512 CT in Chromium: key press -> new image drawn.

    python benchmarks/viewer_scroll.py [--slices 300] [--size 512] [--presses 120] [--rate 30]
                                       [--studies 1000000] [--skip-queries]

Builds a home with a synthetic CT (current and prior, 1 mm slices, fake patient), starts the real
dashboard (``streamlit run``) and the share portal, and in Chromium holds the arrow key at
``--rate`` presses a second for ``--presses`` presses in:

- the dashboard's image viewer (the client-side viewer, ``archive.viewing``),
- the comparison page (two linked panes; both must draw each step),
- the portal's client-side viewer, and, as the baseline measured in the same run,
- the portal's server-rendered viewer as it was (one PNG per step, ``?classic=1``).

Each dashboard run starts signed out in a browser of its own (a signed-in browser stays signed in
across reloads), so "first image" is from the click on Sign in to the first image drawn.
Times come from the page itself: a key event's ``timeStamp`` to the animation frame after the
canvas was drawn (client viewer) or to the ``load`` event of the new PNG (baseline). Printed per
viewer: presses drawn, median and p95 ms, images drawn per second, first image after opening.
Target: every press drawn, median < 33 ms, first image < 1 s. Then the browse-query table of
``benchmarks/dashboard_queries.py`` at ``--studies`` (skip with --skip-queries).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import uvicorn  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from archive import study_keys  # noqa: E402
from archive.home import Archive  # noqa: E402
from archive.sharing import actions  # noqa: E402
from portal.server import config as portal_config  # noqa: E402
from tests.support import big_ct  # noqa: E402
from tests.support.browser import CHROMIUM_ARGS, running_app  # noqa: E402
from tests.support.orthanc_server import free_port  # noqa: E402

STATS = "window.limestoneViewerStats"


def hold(page, presses: int, rate: float) -> float:
    """Press the arrow key ``presses`` times at ``rate``/s; the seconds the presses took."""
    start = time.perf_counter()
    for k in range(presses):
        page.keyboard.press("ArrowDown")
        wait = start + (k + 1) / rate - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
    took = time.perf_counter() - start
    time.sleep(1.0)          # let the last draws land
    return took


def summarise(name: str, keys: list[float], draws: list[tuple[int, float]], panes: int, first_ms: float | None,
              seconds: float) -> dict:
    """Latency of press k = first draw of image k (every pane) at or after its key event."""
    latencies, drawn = [], 0
    for k, t in enumerate(keys, start=1):
        per_pane = []
        for pane in range(panes):
            hits = [d for (p, i, d) in draws if p == pane and i == k and d >= t]
            if hits:
                per_pane.append(min(hits) - t)
        if len(per_pane) == panes:
            drawn += 1
            latencies.append(max(per_pane))
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] if latencies else float("nan")
    distinct = len({(p, i) for (p, i, _) in draws if 1 <= i <= len(keys)}) / max(1, panes)
    return {"viewer": name, "presses": len(keys), "drawn": drawn,
            "median": statistics.median(latencies) if latencies else float("nan"), "p95": p95,
            "per_s": distinct / seconds, "first": first_ms}


def client_run(page, name: str, url: str, panes: int, presses: int, rate: float, count: int,
               sign_in: bool = True, before=None) -> dict:
    t0 = time.perf_counter()
    page.goto(url)
    if sign_in:   # a deep link, signed out: the page asks for sign-in in place
        page.get_by_role("textbox", name="Your name").fill("Bench")
        page.get_by_test_id("stSelectbox").filter(has_text="Role").click()
        page.get_by_role("option", name="technologist", exact=True).click()
        t0 = time.perf_counter()
        page.get_by_role("button", name="Sign in").click()
    page.wait_for_function(f"() => {STATS} && Object.keys({STATS}.first || {{}}).length >= {panes}", timeout=120000)
    first = (time.perf_counter() - t0) * 1000
    if before is not None:
        before(page)
    page.wait_for_function(f"() => Object.values({STATS}.loaded || {{}}).reduce((a, b) => a + b, 0) >= {panes * count}",
                           timeout=300000)
    page.locator("canvas.lsv-canvas").first.focus()
    page.evaluate(f"() => {{ {STATS}.keys = []; {STATS}.draws = []; }}")
    seconds = hold(page, presses, rate)
    got = page.evaluate(f"() => JSON.stringify({STATS})")
    stats = json.loads(got)
    keys = [k["t"] for k in stats["keys"] if k["key"] == "ArrowDown"]
    draws = [(d["pane"], d["index"], d["t"]) for d in stats["draws"]]
    return summarise(name, keys, draws, panes, first, seconds)


def classic_run(page, url: str, presses: int, rate: float) -> dict:
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_function("() => document.getElementById('image').complete")
    first = (time.perf_counter() - t0) * 1000
    page.evaluate("""() => { window.bench = {keys: [], loads: []}; const img = document.getElementById('image');
      document.addEventListener('keydown', e => window.bench.keys.push(e.timeStamp), true);
      img.addEventListener('load', () => window.bench.loads.push([0, parseInt(img.src.match(/(\\d+)\\.png/)[1]) - 1,
        performance.now()])); }""")
    seconds = hold(page, presses, rate)
    got = page.evaluate("() => window.bench")
    return summarise("portal, server-rendered PNG (baseline)", got["keys"], [tuple(x) for x in got["loads"]], 1,
                     first, seconds)


def link_here(page) -> None:
    """The prior has its own frame of reference: link both series at the first image."""
    page.get_by_role("button", name="Link at this slice").click()
    page.get_by_text("Linked with offset -300.0 mm").wait_for(timeout=60000)


def portal_thread(archive: Archive) -> tuple[str, uvicorn.Server]:
    port = free_port()
    server = uvicorn.Server(portal_config(archive, host="127.0.0.1", port=port))
    server.install_signal_handlers = lambda: None
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--presses", type=int, default=120)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--studies", type=int, default=1_000_000)
    parser.add_argument("--skip-queries", action="store_true")
    args = parser.parse_args(argv)
    presses = min(args.presses, args.slices - 1)
    with tempfile.TemporaryDirectory(prefix="viewer-bench-") as tmp:
        archive = Archive.load(home=str(Path(tmp) / "home"))
        print(f"building a {args.slices}-slice {args.size}x{args.size} CT (current and prior) ...", flush=True)
        ct = big_ct.build(archive, slices=args.slices, size=args.size)
        issued = actions.create(archive, [ct.current_uid], actions.Actor("bench", "clerk", source="bench"),
                                recipient_name="Bench Recipient")
        key = study_keys.encode(archive.home, ct.current_uid)
        portal_url, server = portal_thread(archive)
        rows = []
        with running_app(archive.home.root, Path(tmp)) as app_url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            rows.append(client_run(page, "dashboard viewer", f"{app_url}/viewer?study={key}", 1, presses,
                                   args.rate, args.slices))
            try:   # a browser of its own: signed out, so its first image includes the sign-in too
                other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                rows.append(client_run(other, "comparison (2 linked panes)",
                                       f"{app_url}/compare?study={key}", 2, presses, args.rate, args.slices,
                                       before=link_here))
            except Exception as exc:   # the page may not offer the pair: say so, keep the rest
                print(f"comparison not measured: {type(exc).__name__}: {str(exc)[:200]}")
            portal = browser.new_context(viewport={"width": 1400, "height": 1000})
            pp = portal.new_page()
            pp.goto(f"{portal_url}/s/{issued.token}")
            pp.locator("#answer").fill(issued.passcode)
            pp.locator("form button[type=submit]").first.click()
            pp.wait_for_load_state()
            rows.append(client_run(pp, "portal, client viewer", f"{portal_url}/s/{issued.token}/view/1/1", 1, presses,
                                   args.rate, args.slices, sign_in=False))
            rows.append(classic_run(pp, f"{portal_url}/s/{issued.token}/view/1/1?classic=1", presses, args.rate))
            browser.close()
        server.should_exit = True
    print(f"\n{args.slices} slices {args.size}x{args.size}, {presses} presses at {args.rate:g}/s "
          "(target: every press drawn, median < 33 ms, first image < 1000 ms)")
    print("| viewer | presses drawn | median ms | p95 ms | images/s | first image ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['viewer']} | {r['drawn']}/{r['presses']} | {r['median']:.1f} | {r['p95']:.1f} | "
              f"{r['per_s']:.1f} | {r['first']:.0f} |")
    if not args.skip_queries:
        print("\nbrowse and study-page queries (benchmarks/dashboard_queries.py):", flush=True)
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "dashboard_queries.py"), "--studies",
                        str(args.studies), "--repeat", "5"], check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
