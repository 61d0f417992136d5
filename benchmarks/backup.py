"""Backup and restore speed: `limestone backup` / `restore` against `cp -a` and `rsync -a` of the
same home, in the same run.

    python benchmarks/backup.py [--gb 2] [--image-kb 512]

Builds a home holding about N GB of CT images (generated, imported once, not timed), then times,
each run as a real process and each ending with the destination's file system synced (`sync -f`;
`limestone backup` syncs by itself):

1. `cp -a HOME copy` and `rsync -a HOME/ copy/` (baselines, whole home);
2. `limestone backup --to TARGET` (first, full);
3. after adding 1% more images: `rsync -a` again into its earlier copy, and `limestone backup`
   again (incremental);
4. `limestone restore --from TARGET --home NEW` against `cp -a` of the same home.

Targets: the first backup's throughput >= 0.8x rsync's; the incremental backup takes < 5% of the
first backup's time. Throughput is the bytes each contender copied over its seconds (the backup
leaves out the DuckDB extension cache and the keys, which cp and rsync copy).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive.home import Archive  # noqa: E402
from archive.ingest.run import import_paths  # noqa: E402
from tests.support.synthetic_studies import make_studies, write_studies  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def timed(command: list[str], sync_path: Path) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])}... failed: {result.stderr[-2000:]}")
    subprocess.run(["sync", "-f", str(sync_path)], check=True)
    return time.perf_counter() - started, result


def tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def make_images(folder: Path, megabytes: float, image_kb: int, seed: int) -> int:
    side = int((image_kb * 1024 / 2) ** 0.5)
    per_file = side * side * 2
    count = max(1, int(megabytes * 2**20 / per_file))
    studies = -(-count // 200)
    count = studies * -(-count // studies)
    write_studies(make_studies(studies, count // studies, seed=seed), folder, size=side)
    return count


def limestone(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pipelines", "--home", str(home), *args]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=2.0, help="gigabytes of images in the home")
    parser.add_argument("--image-kb", type=int, default=512, help="size of one image")
    parser.add_argument("--dir", default=None, help="work folder (default: a temporary one)")
    args = parser.parse_args()
    if shutil.which("rsync") is None:
        raise SystemExit("rsync is missing: apt-get install rsync (scripts/setup --system)")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        work = Path(tmp)
        home = work / "home"
        print(f"building a home with {args.gb:g} GB of {args.image_kb} KB images ...", file=sys.stderr)
        count = make_images(work / "images", args.gb * 1024, args.image_kb, seed=1)
        archive = Archive.load(home=str(home))
        import_paths(archive, [work / "images"])
        shutil.rmtree(work / "images")
        os.sync()
        home_bytes = tree_bytes(home)

        cp_s, _ = timed(["cp", "-a", str(home), str(work / "cp-copy")], work)
        rsync_s, _ = timed(["rsync", "-a", f"{home}/", f"{work / 'rsync-copy'}/"], work)
        target = work / "backups"
        backup_s, out = timed(limestone(home, "backup", "--to", str(target), "--json"), work)
        first = json.loads(out.stdout)

        more = make_images(work / "more", args.gb * 1024 * 0.01, args.image_kb, seed=2)
        import_paths(archive, [work / "more"])
        os.sync()
        rsync2_s, _ = timed(["rsync", "-a", f"{home}/", f"{work / 'rsync-copy'}/"], work)
        backup2_s, out = timed(limestone(home, "backup", "--to", str(target), "--json"), work)
        second = json.loads(out.stdout)

        shutil.rmtree(work / "cp-copy")
        os.sync()
        cp_again_s, _ = timed(["cp", "-a", str(home), str(work / "cp-copy")], work)
        restore_s, out = timed(limestone(home, "restore", "--from", str(target), "--home",
                                         str(work / "restored"), "--json"), work)
        restored = json.loads(out.stdout)

    mb = 2**20
    rows = [
        ("cp -a home (baseline)", cp_s, home_bytes),
        ("rsync -a home (baseline)", rsync_s, home_bytes),
        ("limestone backup, first", backup_s, first["copied_bytes"]),
        ("rsync -a again after +1% images", rsync2_s, None),
        ("limestone backup again after +1% images", backup2_s, second["copied_bytes"]),
        ("cp -a home again (restore baseline)", cp_again_s, home_bytes),
        ("limestone restore", restore_s, restored["bytes"]),
    ]
    rsync_rate = home_bytes / rsync_s
    print(f"\nBackup and restore: home of {home_bytes / mb:,.0f} MB ({count:,} images of {args.image_kb} KB, "
          f"then +{more:,}), {os.cpu_count()} cores\n")
    print(f"| {'what':<42} | {'seconds':>8} | {'MB copied':>9} | {'MB/s':>7} | {'vs rsync':>8} |")
    print(f"|{'-' * 44}|{'-' * 10}|{'-' * 11}|{'-' * 9}|{'-' * 10}|")
    for name, seconds, copied in rows:
        if copied is None:
            print(f"| {name:<42} | {seconds:8.2f} | {'':>9} | {'':>7} | {'':>8} |")
            continue
        rate = copied / seconds
        print(f"| {name:<42} | {seconds:8.2f} | {copied / mb:9,.0f} | {rate / mb:7,.0f} | {rate / rsync_rate:8.2f} |")
    ratio = (first["copied_bytes"] / backup_s) / rsync_rate
    share = backup2_s / backup_s
    print(f"\nfirst backup throughput vs rsync: {ratio:.2f}x (target >= 0.80: {'met' if ratio >= 0.8 else 'NOT met'})")
    print(f"incremental backup time vs first: {share:.1%} (target < 5%: {'met' if share < 0.05 else 'NOT met'}); "
          f"it copied {second['copied_files']:,} files, {second['copied_bytes'] / mb:,.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
