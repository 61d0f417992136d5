"""The demo imports pydicom's test files, some damaged on purpose: Home and Ingest health present
them as a demo sample quarantined on purpose, not as a failed ingest."""

from pathlib import Path

from pydicom.data import get_testdata_file

from archive.demo.sites import EXTERNAL_SITE, store_sites
from archive.home import Archive
from archive.ingest.intake import ingest_bytes
from archive.store.runs import IngestRun, finish_run, start_run
from archive.store.writer import StoreWriter, new_run_id, upsert_sites
from tests.support.apptest import page, texts


def _demo_test_file_run(home: Path) -> None:
    archive = Archive.load(home=str(home))
    archive.home.ensure()
    con = archive.store()
    try:
        upsert_sites(con, store_sites())
        run = start_run(con, IngestRun(new_run_id(), "demo", "pydicom test files", site=EXTERNAL_SITE.site))
        writer = StoreWriter(con, archive.home, run.run_id)
        for name in ("CT_small.dcm", "MR_truncated.dcm"):
            data = Path(get_testdata_file(name, download=False)).read_bytes()
            outcome = ingest_bytes(data, name, archive.vault, archive.home.quarantine_dir)
            if outcome.kind == "stored":
                writer.add(outcome.record, outcome.size, outcome.digest)
                run.imported += 1
            elif outcome.kind == "quarantined":
                writer.quarantined(outcome.digest, outcome.name, outcome.reason, outcome.size)
                run.quarantined += 1
        writer.flush()
        assert (run.imported, run.quarantined) == (1, 1)
        finish_run(con, run, "failed")
    finally:
        con.close()


def test_damaged_demo_samples_are_presented_as_such(tmp_path, monkeypatch):
    home = tmp_path / "home"
    _demo_test_file_run(home)
    monkeypatch.setenv("LIMESTONE_HOME", str(home))
    at = page("home", "manager").run()
    assert not at.exception
    shown = texts(at)
    assert "quarantined on purpose" in shown and "(failed)" not in shown
    at = page("metrics", "manager").run()
    assert not at.exception
    values = {m.label: m.value for m in at.metric}
    assert values["Runs not ok"] == "0" and values["Quarantined files"] == "1"
    assert "1 of the quarantined files are the demo sample of damaged files" in texts(at)
    runs = next(df.value for df in at.dataframe if "Status" in df.value.columns)
    assert set(runs["Status"]) == {"demo sample"}
