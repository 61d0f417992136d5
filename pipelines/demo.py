"""``limestone demo [--patients N] [--seed S]``: build the synthetic demo archive and import it.

What it does is ``archive.demo.install``: the demo region's hospitals registered as sites, a clearly
fake archive written and imported, then pydicom's bundled real test files under the site ``EXT``.
Running it again adds nothing.

Some of pydicom's test files are damaged on purpose (truncated, bad VR); their quarantine is
expected and reported, and does not make the command fail. It fails when a generated file is
quarantined or any file cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.demo.manifest import DEFAULT_PATIENTS, DEFAULT_SEED

if TYPE_CHECKING:
    from archive.demo.install import DemoResult
    from archive.home import Archive
    from archive.ingest.run import Progress


def describe(result: DemoResult) -> str:
    """A short summary of what the demo holds and what this run added."""
    from archive.demo.sites import EXTERNAL_SITE

    m = result.manifest
    by_modality = ", ".join(f"{k} {v}" for k, v in sorted(m.studies_by_modality().items()))
    lines = [
        f"Demo archive (seed {m.seed}): {len(m.sites)} hospitals ({', '.join(m.sites)}), "
        f"{len(m.people)} people under {len(m.patient_ids)} MRNs, {len(m.studies)} studies "
        f"({by_modality}), {m.instances} instances; {len(m.repeats())} repeats, "
        f"{len(m.avoidable_repeats())} of them avoidable.",
        f"Generated in {result.build_seconds:.1f} s. {result.generated.sentence()}",
    ]
    if result.external is not None:
        ext = result.external
        lines.append(f"pydicom test files (site {EXTERNAL_SITE.site}): {ext.imported} new, "
                     f"{ext.already_present} already present, {ext.skipped} skipped, "
                     f"{ext.quarantined} quarantined (damaged on purpose), {ext.failed} failed.")
    if result.repeats is not None:
        lines.append(f"Repeat story: {len(result.repeats.avoided)} priors used at another hospital with no "
                     f"repeat after (avoided), {len(result.repeats.repeated)} compared after a repeat; "
                     "patient records linked across sites.")
    lines.append(f"Done in {result.seconds:.1f} s.")
    return "\n".join(lines)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo", help="build the synthetic demo archive (fake patients) and import it",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=DEFAULT_PATIENTS,
                        help=f"number of synthetic people (default {DEFAULT_PATIENTS})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"seed: the same seed gives the same files (default {DEFAULT_SEED})")
    parser.add_argument("--no-test-files", action="store_true", help="skip pydicom's bundled test files")
    parser.add_argument("--manifest", type=Path, metavar="FILE",
                        help="also write the scenario (people, studies, known repeats) as JSON")
    parser.set_defaults(run=run)


def _bar() -> Progress:
    from tqdm import tqdm

    return tqdm(unit=" files", disable=not sys.stderr.isatty(), leave=False)


def run(args: argparse.Namespace, archive: Archive) -> int:
    from archive.demo.install import build_and_import

    if args.patients < 1:
        print("limestone demo: --patients must be at least 1", file=sys.stderr)
        return 2
    result = build_and_import(archive, args.patients, args.seed, test_files=not args.no_test_files,
                              progress=_bar)
    if args.manifest:
        args.manifest.write_text(result.manifest.to_json())
    print(describe(result))
    return result.exit_code
