"""Burned-in text detector: sensitivity, specificity and time per image, next to QA throughput.

    python benchmarks/burned_in.py [--images 200] [--qa-files 200]

Makes ``--images`` synthetic 512 x 512 images (half with fake names, dates or IDs burned into one
to three corners at 10-28 px and contrasts 0.35-1.0, half without; tests/support/burned_in_images.py),
runs ``archive.deid.burned_in.find_text`` on each and prints sensitivity and specificity overall and
per text size and contrast (target: sensitivity >= 0.95 at specificity >= 0.9) and the time per image.
The baseline in the same run: ``limestone qa`` on ``--qa-files`` CT slices (benchmarks/qa_throughput.py),
so the detector's cost reads against the quality pipeline's per-image cost.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive.deid.burned_in import find_text  # noqa: E402
from tests.support.burned_in_images import samples  # noqa: E402


def qa_seconds_per_image(files: int) -> float:
    from archive.home import Archive
    from archive.ingest.run import import_paths
    from archive.quality.run import run_qa
    from benchmarks.qa_throughput import write_ct_512

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ct"
        folder.mkdir()
        write_ct_512(folder, files)
        archive = Archive.load(home=str(Path(tmp) / "home"))
        import_paths(archive, [folder], workers=1)
        summary = run_qa(archive, workers=1)
        return summary.seconds / max(1, summary.done)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--qa-files", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    images = samples(args.images, seed=args.seed)
    by_case: dict[tuple, list[bool]] = defaultdict(list)
    tp = fn = tn = fp = 0
    started = time.perf_counter()
    for sample in images:
        found = bool(find_text(sample.image))
        if sample.has_text:
            tp, fn = tp + found, fn + (not found)
            by_case[(sample.size, sample.contrast)].append(found)
        else:
            tn, fp = tn + (not found), fp + found
    ocr = (time.perf_counter() - started) / len(images)
    qa = qa_seconds_per_image(args.qa_files)
    sensitivity, specificity = tp / max(1, tp + fn), tn / max(1, tn + fp)
    print(f"{'':<32} {'value':>10}")
    print(f"{'images (with / without text)':<32} {tp + fn:>4} / {tn + fp:<4}")
    print(f"{'sensitivity (target >= 0.95)':<32} {sensitivity:>10.3f}")
    print(f"{'specificity (target >= 0.90)':<32} {specificity:>10.3f}")
    print(f"{'OCR s/image (1 process)':<32} {ocr:>10.3f}")
    print(f"{'baseline: limestone qa s/image':<32} {qa:>10.4f}")
    print(f"{'OCR / qa time':<32} {ocr / qa if qa else float('nan'):>10.1f}")
    print("\nsensitivity by text height (px) and contrast")
    for (size, contrast), found in sorted(by_case.items()):
        print(f"  {size:>3} px  contrast {contrast:.2f}: {sum(found)}/{len(found)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
