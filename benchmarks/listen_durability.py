"""Benchmark: what "acknowledged means durable" costs ``limestone listen`` per instance.

    .venv/bin/python benchmarks/listen_durability.py [--instances 2000] [--size 128]

The same N generated CT instances are pushed with dcmtk's ``storescu`` (one association,
TCP_NODELAY=1) into a fresh ``limestone listen`` twice in one run:

* baseline: the listener with durability switched off (vault files not fsync'd, no journal) -
  what the acknowledgement meant before issue 17;
* durable: as shipped (the sealed vault file appended to the journal, one fsync per instance,
  shared between concurrent associations; vault files filed and synced once per batch).

Timed from storescu's start to its exit (every instance acknowledged). Prints instances/s of each
and the ratio. Run by hand, not by the tests; the numbers depend on the disk's fsync latency.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive.home import Archive  # noqa: E402
from archive.ingest.intake import ingest_bytes  # noqa: E402
from archive.network.listen import Listener  # noqa: E402
from archive.network.status import STORE_SUCCESS  # noqa: E402
from tests.support.orthanc_server import free_port  # noqa: E402
from tests.support.synthetic_studies import make_studies, write_studies  # noqa: E402


class NotDurable(Listener):
    """The listener before issue 17: the vault file written (not synced), no journal."""

    def receive(self, data: bytes, calling_ae: str) -> int:
        outcome = ingest_bytes(data, "received.dcm", self.archive.vault, self.archive.home.quarantine_dir)
        self.arrived.put((outcome, calling_ae, b""))
        return STORE_SUCCESS


def push(files: list[Path], durable: bool, root: Path) -> float:
    archive = Archive.load(home=str(root / ("durable" if durable else "baseline")), listen_flush_seconds=1.0)
    listener = (Listener if durable else NotDurable)(archive, "LIMESTONE", free_port(), "127.0.0.1", None)
    ready = threading.Event()
    thread = threading.Thread(target=listener.serve, kwargs={"ready": ready}, daemon=True)
    thread.start()
    try:
        if not ready.wait(120):
            raise SystemExit("listen did not start")
        started = time.perf_counter()
        subprocess.run(["storescu", "-aet", "BENCH", "-aec", "LIMESTONE", "127.0.0.1", str(listener.port),
                        *map(str, files)], check=True, capture_output=True, env=dict(os.environ, TCP_NODELAY="1"))
        return time.perf_counter() - started
    finally:
        listener.stop.set()
        thread.join(120)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--instances", type=int, default=2000)
    parser.add_argument("--size", type=int, default=128, help="image rows and columns")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="listen-bench-") as tmp:
        root = Path(tmp)
        files = write_studies(make_studies(max(1, args.instances // 100), min(100, args.instances), seed=5),
                              root / "files", size=args.size)
        baseline = push(files, False, root)
        durable = push(files, True, root)
    n = len(files)
    print(f"{'listener':<28}{'instances':>10}{'seconds':>10}{'instances/s':>14}")
    print(f"{'baseline (not durable)':<28}{n:>10}{baseline:>10.2f}{n / baseline:>14,.0f}")
    print(f"{'durable (fsync + journal)':<28}{n:>10}{durable:>10.2f}{n / durable:>14,.0f}")
    print(f"ratio durable / baseline: {baseline / durable:.2f}")


if __name__ == "__main__":
    main()
