"""Import throughput: `limestone import` against a bare pydicom header-read loop, same files, same run.

    python benchmarks/import_throughput.py [--files 2000] [--workers N]

Generates N small real CT files (pydicom's CT_small.dcm with fresh UIDs), then measures
1. baseline: a single-process loop of ``pydicom.dcmread(path, stop_before_pixels=True)``;
2. limestone: ``import_paths`` into a fresh home (hash, parse, check, encrypt into the vault,
   batch-write the store), and again as a rerun (nothing new);
and prints instances/s and the ratio to the baseline. Target: ratio >= 1.0.

Then the fixed cost of an import with nothing to do (``limestone import`` of an empty folder) on
the demo archive (``--demo-patients`` people; 0 skips it), phase by phase (benchmarks/fixed_cost.py).
Target: under 1 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pydicom

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive.home import Archive  # noqa: E402
from archive.ingest.run import import_paths  # noqa: E402
from benchmarks import fixed_cost  # noqa: E402
from tests.support.samples import write_ct_studies  # noqa: E402


def baseline(files: list[Path]) -> float:
    started = time.perf_counter()
    for path in files:
        pydicom.dcmread(path, stop_before_pixels=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=0, help="0: one per core")
    parser.add_argument("--demo-patients", type=int, default=60,
                        help="size of the demo archive for the fixed cost (0: skip it)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "source"
        files = write_ct_studies(source, args.files)
        baseline(files[:50])  # warm the page cache and imports alike for both contenders
        os.sync()             # the generated files are on disk: their write-back slows neither contender
        base_s = baseline(files)
        archive = Archive.load(home=str(Path(tmp) / "home"))
        os.sync()
        first = import_paths(archive, [source], workers=args.workers or None)
        again = import_paths(archive, [source], workers=args.workers or None)
        assert first.imported == args.files, first
        assert again.imported == 0 and again.already_present == args.files, again
        size_kib = files[0].stat().st_size // 1024
    n = args.files
    rows = [
        ("baseline: dcmread(stop_before_pixels) loop, 1 process", base_s, n / base_s),
        (f"limestone import, fresh home ({os.cpu_count()} cores)", first.seconds, n / first.seconds),
        ("limestone import, rerun (all already present)", again.seconds, n / again.seconds),
    ]
    print(f"\nImport throughput, {n} CT files of {size_kib} KiB\n")
    print(f"| {'what':<55} | {'seconds':>8} | {'instances/s':>11} | {'ratio':>5} |")
    print(f"|{'-' * 57}|{'-' * 10}|{'-' * 13}|{'-' * 7}|")
    for name, seconds, rate in rows:
        print(f"| {name:<55} | {seconds:8.2f} | {rate:11.0f} | {rate / rows[0][2]:5.2f} |")
    if args.demo_patients:
        with tempfile.TemporaryDirectory() as tmp:
            home = fixed_cost.demo_home(Path(tmp), args.demo_patients)
            empty = Path(tmp) / "empty"
            empty.mkdir()
            fixed_cost.print_table(f"Fixed cost of an import, demo archive of {args.demo_patients} people",
                                   fixed_cost.measure(home, ["import", str(empty)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
