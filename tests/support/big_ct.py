"""A 300-slice 512x512 CT of a fake patient, current and prior, for the viewer's tests and benchmark.

Built from ``compare_world``'s phantom (TEST^ names, synthetic UIDs): the current CT at one site
and a prior at another with its own frame of reference, 1 mm slices, through the real ingest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tests.support.compare_world import ISSUERS, CtSeries, ct_files, uid


@dataclass
class BigCt:
    current_uid: str
    prior_uid: str
    slices: int


def build(archive, slices: int = 300, size: int = 512) -> BigCt:
    """Ingest the two series into ``archive`` (an empty home)."""
    from archive.ingest.intake import ingest_bytes
    from archive.store.runs import IngestRun, finish_run, start_run
    from archive.store.writer import Site, StoreWriter, new_run_id, upsert_sites

    current = CtSeries(slices=slices, thickness=1.0, start=0.0, table=0.0, size=size, spacing=400 / size)
    prior = CtSeries(slices=slices, thickness=1.0, start=10.0, table=-300.0, size=size, spacing=400 / size)
    plan = [("bigcur", "SOUTH", datetime(2025, 3, 10, 10), current),
            ("bigpri", "NORTH", datetime(2024, 9, 12, 9), prior)]
    con = archive.store()
    try:
        upsert_sites(con, [Site(s, f"Test {s.title()} Hospital", [f"{s}_PACS"], issuer, [f"TEST {s}"])
                           for s, issuer in ISSUERS.items()])
        run = start_run(con, IngestRun(new_run_id(), "import", "viewer test CT"))
        writer = StoreWriter(con, archive.home, run.run_id)
        for name, site, when, series in plan:
            for k, data in enumerate(ct_files(name, site, when, series)):
                outcome = ingest_bytes(data, f"{name}{k}.dcm", archive.vault, archive.home.quarantine_dir)
                assert outcome.kind == "stored", outcome
                writer.add(outcome.record, outcome.size, outcome.digest)
        writer.flush()
        finish_run(con, run, "ok")
    finally:
        con.close()
    return BigCt(uid("bigcur", "study"), uid("bigpri", "study"), slices)
