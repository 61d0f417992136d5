"""Putting the demo archive into a home: what ``limestone demo`` does, and tests and benchmarks reuse.

The demo region's four hospitals are registered as sites, the synthetic archive is written to a
temporary folder and imported like any folder, then pydicom's bundled real test files are imported
under the site ``EXT`` (many transfer syntaxes and edge cases), and the repeat-exam story is seeded
(``archive.repeats.demo``). Running it again adds nothing: the import is idempotent on SOP Instance
UID and the same seed writes the same files.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from archive.demo.generator import build_demo
from archive.demo.manifest import DEFAULT_PATIENTS, DEFAULT_SEED, Manifest
from archive.demo.sites import EXTERNAL_SITE, store_sites
from archive.home import Archive
from archive.ingest.run import ImportSummary, Progress, import_paths
from archive.repeats.demo import DemoRepeats, seed_demo
from archive.store.writer import upsert_sites

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
        """130 when interrupted; 1 when a generated file, or any file of the test set, failed."""
        if self.generated.interrupted or (self.external and self.external.interrupted):
            return 130
        if self.generated.exit_code or (self.external and self.external.failed):
            return 1
        return 0


def test_files_folder() -> Path | None:
    """The folder of pydicom's bundled test files, found without touching the internet."""
    from pydicom.data import get_testdata_file

    found = get_testdata_file("CT_small.dcm", download=False)
    return Path(found).parent if isinstance(found, str) else None


def build_and_import(archive: Archive, patients: int = DEFAULT_PATIENTS, seed: int = DEFAULT_SEED,
                     test_files: bool = True, progress: Callable[[], Progress] | None = None,
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
        found = test_files_folder()
        if found is None:
            log.warning("pydicom's test files were not found: skipped")
        else:
            external = import_paths(archive, [found], site=EXTERNAL_SITE.site, kind="demo",
                                    progress=progress, workers=workers, update_repeats=False)
    # The repeat-exam story: coverage, prior uses, then the linked identity and repeat facts brought
    # up to date once for both imports.
    con = archive.store()
    try:
        repeats = seed_demo(con, archive.home, manifest)
    finally:
        con.close()
    return DemoResult(manifest, generated, external, build_seconds, time.perf_counter() - started, repeats)
