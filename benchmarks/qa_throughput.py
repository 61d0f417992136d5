"""QA throughput: `limestone qa` against a bare pixel-decode loop, same images, same run.

    python benchmarks/qa_throughput.py [--files 2000] [--workers N]

Generates N real-format 512 x 512 CT images (pydicom's CT_small.dcm header with fresh UIDs and a
noisy Shepp-Logan phantom in Hounsfield units as pixel data, 20 slices a series), imports them
into a fresh home (not timed), then measures
1. baseline: a single-process loop that only reads each file and decodes its pixels
   (``pydicom.dcmread(path).pixel_array``);
2. limestone qa: ``run_qa`` on a fresh home (read from the encrypted vault, decode, modality LUT,
   all metrics, batch-write the store) with one worker per core;
3. limestone qa again (incremental: nothing new);
and prints instances/s and the ratio to the baseline. Target: ratio >= 0.5.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from skimage.data import shepp_logan_phantom
from skimage.transform import resize

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive.home import Archive  # noqa: E402
from archive.ingest.run import import_paths  # noqa: E402
from archive.quality.run import run_qa  # noqa: E402
from tests.support.samples import pydicom_file  # noqa: E402


def write_ct_512(out: Path, files: int, per_series: int = 20, seed: int = 0) -> list[Path]:
    """``files`` 512 x 512 CT slices (int16, rescale -1024) with independent noise each."""
    rng = np.random.default_rng(seed)
    body = resize(shepp_logan_phantom(), (512, 512), order=1) * 1100.0  # 0..1100 above air
    base = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    base.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    base.Rows = base.Columns = 512
    base.BitsAllocated, base.BitsStored, base.HighBit, base.PixelRepresentation = 16, 12, 11, 0
    base.RescaleIntercept, base.RescaleSlope = -1024, 1
    base.PixelSpacing = [0.7, 0.7]
    written = []
    for index in range(files):
        if index % per_series == 0:
            group = index // per_series
            base.StudyInstanceUID = generate_uid(entropy_srcs=[f"qa-study-{seed}-{group}"])
            base.SeriesInstanceUID = generate_uid(entropy_srcs=[f"qa-series-{seed}-{group}"])
            base.PatientID = f"BENCH-{group:04d}"
            folder = out / f"S{group:04d}"
            folder.mkdir(parents=True, exist_ok=True)
        base.SOPInstanceUID = generate_uid(entropy_srcs=[f"qa-sop-{seed}-{index}"])
        base.file_meta.MediaStorageSOPInstanceUID = base.SOPInstanceUID
        base.InstanceNumber = index % per_series + 1
        stored = body + 24.0 + rng.normal(0, 12, body.shape)   # air at raw 24 (about -1000 HU)
        base.PixelData = np.clip(stored, 0, 4095).astype(np.uint16).tobytes()
        path = folder / f"IM{index % per_series:05d}.dcm"
        base.save_as(path, enforce_file_format=True)
        written.append(path)
    return written


def baseline(files: list[Path]) -> float:
    started = time.perf_counter()
    for path in files:
        _ = pydicom.dcmread(path).pixel_array  # decoding is the baseline's work
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=0, help="0: one per core")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "source"
        files = write_ct_512(source, args.files)
        archive = Archive.load(home=str(Path(tmp) / "home"))
        imported = import_paths(archive, [source], workers=args.workers or None)
        assert imported.imported == args.files, imported
        baseline(files[:50])  # warm the page cache and imports alike for both contenders
        base_s = baseline(files)
        first = run_qa(archive, workers=args.workers or None)
        again = run_qa(archive, workers=args.workers or None)
        assert first.measured == args.files and first.failed == 0, first
        assert again.pending == 0, again
        size_kib = files[0].stat().st_size // 1024
    n = args.files
    rows = [
        ("baseline: dcmread + pixel_array loop, 1 process", base_s, n / base_s),
        (f"limestone qa, all new ({os.cpu_count()} cores)", first.seconds, n / first.seconds),
        ("limestone qa, rerun (nothing new)", again.seconds, n / max(again.seconds, 1e-9)),
    ]
    print(f"\nQA throughput, {n} CT images 512x512 ({size_kib} KiB each)\n")
    print(f"| {'what':<50} | {'seconds':>8} | {'instances/s':>11} | {'ratio':>5} |")
    print(f"|{'-' * 52}|{'-' * 10}|{'-' * 13}|{'-' * 7}|")
    for name, seconds, rate in rows:
        print(f"| {name:<50} | {seconds:8.2f} | {rate:11.0f} | {rate / rows[0][2]:5.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
