"""Benchmark: ``limestone send`` against dcmtk's ``storescu`` sending the same files to the same Orthanc.

    .venv/bin/python benchmarks/send_throughput.py [--instances 2000] [--per-study 100]
                                                   [--associations 2] [--rounds 1]

Writes N generated CT instances (``per-study`` a study), imports them into a fresh home, then in
the same run, into two fresh Orthancs started alike (Debian's package, foreground, loopback,
TCP_NODELAY=1):

* baseline: ``storescu`` (TCP_NODELAY=1) sending the folder, one association (``+sd`` scans it);
* ``limestone send --study ... --to bench``: the studies in parallel (``--associations``), each
  instance read back from the encrypted vault and sent as its original bytes;
* ``limestone send`` to the same kind of Orthanc as a DICOMweb node (STOW-RS, batched multipart,
  ``--connections`` studies at a time).

All are timed from process start to exit (wall clock); with ``--rounds`` > 1 the best round of
each counts. Prints instances/s and the ratios (target >= 1.0 for both). Run by hand, not by the
tests.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.orthanc_server import OrthancServer, available  # noqa: E402
from tests.support.synthetic_studies import make_studies, write_studies  # noqa: E402


def run(command: list[str], env: dict) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{command[0]} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return elapsed


def stored(pacs: OrthancServer) -> int:
    return pacs.request("GET", "/statistics")["CountInstances"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=2000)
    parser.add_argument("--per-study", type=int, default=100)
    parser.add_argument("--associations", type=int, default=2)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    if not available() or shutil.which("storescu") is None:
        raise SystemExit("needs Debian's orthanc and dcmtk (apt-get install orthanc dcmtk)")
    work = Path(tempfile.mkdtemp(prefix="limestone-send-bench-"))
    env = dict(os.environ, TCP_NODELAY="1")
    env.pop("LIMESTONE_HOME", None)
    try:
        studies = make_studies(max(1, args.instances // args.per_study), args.per_study, seed=5)
        files = work / "files"
        write_studies(studies, files)
        home = work / "home"
        limestone = [sys.executable, "-m", "pipelines", "--home", str(home)]
        run([*limestone, "import", str(files)], env)
        best = {"storescu": float("inf"), "limestone send": float("inf"), "send STOW-RS": float("inf")}
        for _ in range(args.rounds):
            with OrthancServer(work / f"orthanc-a-{time.monotonic_ns()}", ae_title="BENCHA") as pacs:
                best["storescu"] = min(best["storescu"], run(
                    ["storescu", "-aet", "LIMESTONE", "-aec", pacs.ae_title, "+sd", "+r",
                     "127.0.0.1", str(pacs.dicom_port), str(files)], env))
                assert stored(pacs) == args.instances, "storescu did not store every instance"
            with OrthancServer(work / f"orthanc-b-{time.monotonic_ns()}", ae_title="BENCHB") as pacs:
                run([*limestone, "nodes", "add", "bench", "--replace", "--ae-title", pacs.ae_title,
                     "--host", "127.0.0.1", "--port", str(pacs.dicom_port),
                     "--max-associations", str(args.associations)], env)
                best["limestone send"] = min(best["limestone send"], run(
                    [*limestone, "send", "--to", "bench", "--study", *[s.study_uid for s in studies]], env))
                assert stored(pacs) == args.instances, "limestone send did not store every instance"
            with OrthancServer(work / f"orthanc-c-{time.monotonic_ns()}", ae_title="BENCHC") as pacs:
                run([*limestone, "nodes", "add", "web", "--replace", "--url", pacs.url + "/dicom-web",
                     "--max-connections", str(args.connections)], env)
                best["send STOW-RS"] = min(best["send STOW-RS"], run(
                    [*limestone, "send", "--to", "web", "--study", *[s.study_uid for s in studies]], env))
                assert stored(pacs) == args.instances, "limestone send (STOW-RS) did not store every instance"
        n = args.instances
        print(f"\n{'sender':<16}{'instances':>10}{'seconds':>10}{'inst/s':>10}")
        for name, seconds in best.items():
            print(f"{name:<16}{n:>10}{seconds:>10.2f}{n / seconds:>10.1f}")
        print(f"ratio (limestone send / storescu): {best['storescu'] / best['limestone send']:.2f} "
              f"(target >= 1.0; {args.associations} associations, best of {args.rounds})")
        print(f"ratio (limestone send over STOW-RS / storescu): {best['storescu'] / best['send STOW-RS']:.2f} "
              f"(target >= 1.0; {args.connections} connections, best of {args.rounds})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
