"""Benchmark of the comparison review, server side: opening a comparison of two 300-slice CT
series and one synchronised scroll step.

    python benchmarks/compare_open.py [--slices 300] [--size 512] [--repeat 9] [--rebuild]

It builds (once; reused unless --rebuild) a home under benchmarks/out/ holding one patient with
two CT studies of ``--slices`` slices of ``--size``² pixels in different frames of reference
(the generator of tests/support/compare_world.py), ingested into vault and store. Then it times what the
page does, without Streamlit's caches:

- *open*: rank the priors, read both studies' series, pair them, read both series' instances,
  build their geometry and sync plan, and render the first image of each pane (vault read,
  decrypt, decode, window, overlay, PNG);
- *synced step*: move the current series one slice, find the linked prior slice, render both;
- *registration suggestion* (on request in the page): column profiles of every image of both
  series and the phase correlation.

Baselines measured in the same run: ``SELECT 1`` on the store connection and one bare decode of
a slice from the vault. Targets (issue 5): open < 2 s, synced step < 100 ms.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from archive.comparison.image_registration import row_profile, suggest_offset  # noqa: E402
from archive.comparison.priors import relevant_priors  # noqa: E402
from archive.comparison.scroll_link import OFFSET, SeriesGeometry, linked_index, plan_sync  # noqa: E402
from archive.comparison.series_pairing import SeriesInfo, pair_series  # noqa: E402
from archive.dicom import pixels  # noqa: E402
from archive.home import Archive  # noqa: E402
from archive.store.queries import compare  # noqa: E402
from tests.support import compare_world as world  # noqa: E402


def build(home: Path, slices: int, size: int) -> dict[str, str]:
    from archive.ingest.intake import ingest_bytes
    from archive.store.runs import IngestRun, finish_run, start_run
    from archive.store.writer import StoreWriter, new_run_id

    archive = Archive.load(home=str(home))
    spacing = 350.0 / size
    plan = [("bench_current", "SOUTH", datetime(2025, 3, 10, 10),
             world.CtSeries(slices=slices, thickness=1.0, start=0.0, table=100.0, size=size, spacing=spacing)),
            ("bench_prior", "NORTH", datetime(2024, 9, 12, 9),
             world.CtSeries(slices=slices, thickness=1.0, start=12.0, table=-40.0, size=size, spacing=spacing))]
    con = archive.store()
    try:
        run = start_run(con, IngestRun(new_run_id(), "import", "compare benchmark"))
        writer = StoreWriter(con, archive.home, run.run_id)
        for name, site, when, series in plan:
            for k, data in enumerate(world.ct_files(name, site, when, series)):
                outcome = ingest_bytes(data, f"{name}{k}.dcm", archive.vault, archive.home.quarantine_dir)
                writer.add(outcome.record, outcome.size, outcome.digest)
        writer.flush()
        finish_run(con, run, "ok")
    finally:
        con.close()
    return {name: world.uid(name, "study") for name, *_ in plan}


def render(archive: Archive, row, view=None) -> bytes:
    ds = pixels.read(archive.vault.get(row["content_hash"]))
    frames = pixels.decode(ds)
    image = pixels.render_frame(ds, frames, 0, view)
    return pixels.to_png(pixels.overlay(image, {"tl": ["CT"], "bl": ["W 400 L 40"]}))


def timed(action, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        action()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--home", type=Path, default=ROOT / "benchmarks" / "out" / "compare_home")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args(argv)
    if args.rebuild and args.home.exists():
        shutil.rmtree(args.home)
    uids = {name: world.uid(name, "study") for name in ("bench_current", "bench_prior")}
    if not (args.home / "store").exists():
        t0 = time.perf_counter()
        uids = build(args.home, args.slices, args.size)
        print(f"built {2 * args.slices} images of {args.size}x{args.size} in {time.perf_counter() - t0:.1f} s")
    archive = Archive.load(home=str(args.home))
    con = archive.store(read_only=True)
    current_uid = uids["bench_current"]
    state: dict = {}

    def open_comparison():
        prior = relevant_priors(con, current_uid)[0]
        cur_rows = compare.series_geometry(con, current_uid)
        prior_rows = compare.series_geometry(con, prior.study_instance_uid)
        cur_info = SeriesInfo.from_row(cur_rows.iloc[0])
        infos = [SeriesInfo.from_row(r) for r in prior_rows.to_dict("records")]
        paired = pair_series([cur_info], infos)[cur_info.series_instance_uid]
        cur_inst = compare.series_instances(con, current_uid, cur_info.series_instance_uid)
        inst = compare.series_instances(con, prior.study_instance_uid, paired)
        cur_geom = SeriesGeometry.from_instances(cur_inst, cur_info.frame_of_reference_uid)
        geom = SeriesGeometry.from_instances(inst, None, cur_geom.normal)
        plan_sync(cur_geom, geom)
        render(archive, cur_inst.iloc[0])
        render(archive, inst.iloc[linked_index(cur_geom, 0, geom, OFFSET, 0.0).index])
        state.update(cur_inst=cur_inst, inst=inst, cur_geom=cur_geom, geom=geom, index=0)

    def synced_step():
        k = state["index"] = (state["index"] + 1) % len(state["cur_inst"])
        j = linked_index(state["cur_geom"], k, state["geom"], OFFSET, -128.0).index
        render(archive, state["cur_inst"].iloc[k])
        render(archive, state["inst"].iloc[j])

    def suggestion():
        profiles = [[row_profile(pixels.decode(pixels.read(archive.vault.get(h)))[0])
                     for h in frame["content_hash"]] for frame in (state["cur_inst"], state["inst"])]
        suggest_offset(np.stack(profiles[0]), state["cur_geom"].positions, 350.0 / args.size,
                       np.stack(profiles[1]), state["geom"].positions, 350.0 / args.size)

    rows = [("baseline: SELECT 1", *timed(lambda: con.execute("SELECT 1").fetchone(), args.repeat))]
    open_ms = timed(open_comparison, args.repeat)
    one = state["cur_inst"].iloc[0]["content_hash"]
    rows.insert(1, ("baseline: decode one slice from the vault",
                    *timed(lambda: pixels.decode(pixels.read(archive.vault.get(one))), args.repeat)))
    rows.append(("open a comparison (target < 2000 ms)", *open_ms))
    rows.append(("synced scroll step (target < 100 ms)", *timed(synced_step, max(args.repeat, 20))))
    rows.append(("registration suggestion (on request)", *timed(suggestion, 3)))
    con.close()
    print(f"\ncomparison of two {args.slices}-slice {args.size}x{args.size} CT series, server side")
    print(f"{'step':<46} {'median ms':>10} {'p95 ms':>10}")
    for name, median, p95 in rows:
        print(f"{name:<46} {median:>10.1f} {p95:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
