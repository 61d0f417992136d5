"""``limestone demo [--patients N] [--seed S]``: build the synthetic demo archive and import it.

The demo region's four hospitals are registered as sites, a clearly fake archive of longitudinal
histories is written to a temporary folder (see ``archive.demo``) and imported like any folder,
then pydicom's bundled real test files are imported under the site ``EXT`` so the archive also
holds many transfer syntaxes and edge cases. Running it again adds nothing: the import is
idempotent on SOP Instance UID and the same seed writes the same files.

Some of pydicom's test files are damaged on purpose (truncated, bad VR); their quarantine is
expected and reported, and does not make the command fail. It fails when a generated file is
quarantined or any file cannot be read.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from archive.demo import Manifest, build_demo
from archive.demo.generator import DEFAULT_PATIENTS, DEFAULT_SEED
from archive.demo.sites import EXTERNAL_SITE, store_sites
from archive.home import Archive
from archive.repeats.demo import DemoRepeats, seed_demo
from archive.store.writer import upsert_sites
from pipelines.import_files import ImportSummary, import_paths

log = logging.getLogger("limestone.demo")


@dataclass
class DemoResult:
    manifest: Manifest
    generated: ImportSummary
    external: ImportSummary | None
    build_seconds: float
    seconds: float
    repeats: DemoRepeats | None = None

    @property
    def exit_code(self) -> int:
        if self.generated.interrupted or (self.external and self.external.interrupted):
            return 130
        if self.generated.exit_code or (self.external and self.external.failed):
            return 1
        return 0


def test_files_folder() -> Path | None:
    """The folder of pydicom's bundled test files, found without touching the internet."""
    from pydicom.data import get_testdata_file

    found = get_testdata_file("CT_small.dcm", download=False)
    return Path(found).parent if found else None


def build_and_import(archive: Archive, patients: int = DEFAULT_PATIENTS, seed: int = DEFAULT_SEED,
                     test_files: bool = True, progress: bool = False,
                     workers: int | None = None) -> DemoResult:
    """Register the demo sites, write the demo archive to a temporary folder and import it."""
    started = time.perf_counter()
    archive.home.ensure()
    con = archive.store()
    try:
        upsert_sites(con, store_sites())
    finally:
        con.close()
    with tempfile.TemporaryDirectory(prefix="limestone-demo-") as folder:
        manifest = build_demo(Path(folder), patients=patients, seed=seed, workers=workers)
        build_seconds = time.perf_counter() - started
        generated = import_paths(archive, [Path(folder)], kind="demo", progress=progress, workers=workers,
                                 update_repeats=False)
    manifest.folder = None
    external = None
    if test_files:
        folder = test_files_folder()
        if folder is None:
            log.warning("pydicom's test files were not found: skipped")
        else:
            external = import_paths(archive, [folder], site=EXTERNAL_SITE.site, kind="demo",
                                    progress=progress, workers=workers, update_repeats=False)
    # The repeat-exam story (archive/repeats/demo.py): coverage, prior uses, then the linked identity
    # and repeat facts brought up to date once for both imports.
    con = archive.store()
    try:
        repeats = seed_demo(con, archive.home, manifest)
    finally:
        con.close()
    return DemoResult(manifest, generated, external, build_seconds, time.perf_counter() - started, repeats)


def describe(result: DemoResult) -> str:
    """A short summary of what the demo holds and what this run added."""
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


def add_parser(subparsers) -> None:
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


def run(args, archive: Archive) -> int:
    if args.patients < 1:
        print("limestone demo: --patients must be at least 1", file=sys.stderr)
        return 2
    result = build_and_import(archive, args.patients, args.seed, test_files=not args.no_test_files,
                              progress=True)
    if args.manifest:
        args.manifest.write_text(result.manifest.to_json())
    print(describe(result))
    return result.exit_code
