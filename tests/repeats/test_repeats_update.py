"""The repeat metrics follow new studies without `limestone link-patients`: import (real commands)
and listen (in process, a real C-STORE) bring the patient links and repeat facts up to date."""

from __future__ import annotations

import io
import json
import threading
from datetime import date, datetime
from pathlib import Path

from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom.presentation import build_context

from archive.home import Archive
from archive.network import associate
from archive.network.association import close
from archive.network.listen import Listener
from archive.network.nodes import Node
from archive.repeats import metrics
from archive.repeats.classes import set_archive_coverage
from archive.repeats.update import RefreshSchedule
from archive.store.writer import Site, upsert_sites
from tests.support.cli import limestone
from tests.support.orthanc_server import free_port
from tests.support.peers import wait_for
from tests.support.repeat_exam_files import exam_bytes, write

# Exams as tests/support/repeat_exam_files.py writes them.
ALICE_NORTH = ("a1", "NORTH", "TEST-N", "N1", "TEST^ALICE", date(1961, 2, 3), "F", "TESTHC-1111",
               datetime(2024, 1, 10, 9), "CT", "HEAD", "CT Head without contrast")
# Alice again at SOUTH under another MRN, same health card, 15 days later: an avoidable repeat.
ALICE_SOUTH = ("a2", "SOUTH", "TEST-S", "S1", "TEST^ALICE", date(1961, 2, 3), "F", "TESTHC-1111",
               datetime(2024, 1, 25, 9), "CT", "HEAD", "CT HEAD")
BOB_SOUTH = ("b1", "SOUTH", "TEST-S", "S2", "TEST^BOB", date(1970, 1, 1), "M", "",
             datetime(2024, 1, 25, 11), "DX", "CHEST", "XR Chest PA")
# Bob again the next week at NORTH, same demographics (no card): a repeat, avoidable.
BOB_NORTH = ("b2", "NORTH", "TEST-N", "N2", "TEST^BOB", date(1970, 1, 1), "M", "",
             datetime(2024, 2, 1, 11), "DX", "CHEST", "XR Chest 2 views")


def covered_home(path: Path) -> Archive:
    """An empty archive with the two sites (known by issuer), both in the regional archive from 2020
    (a study is available to the region as soon as it is made)."""
    archive = Archive.load(home=str(path))
    con = archive.store()
    try:
        upsert_sites(con, [Site("NORTH", issuer_of_patient_id="TEST-N"),
                           Site("SOUTH", issuer_of_patient_id="TEST-S")])
        for site in ("NORTH", "SOUTH"):
            set_archive_coverage(con, site, date(2020, 1, 1), "test")
    finally:
        con.close()
    return archive


def report(home: Path) -> dict:
    return json.loads(limestone("report", "repeats", "--json", home=home, check=True).stdout)


def by_site(out: dict, key: str) -> dict[str, int]:
    return {b["site"]: b[key] for b in out["by_site"] if b[key]}


def test_imports_update_the_repeat_report_without_link_patients(tmp_path):
    home = covered_home(tmp_path / "home").home.root
    limestone("import", str(write(tmp_path / "first", ALICE_NORTH)), "--site", "NORTH", home=home, check=True)
    first = report(home)
    assert first["stale"] is False and first["as_of"]
    assert (first["totals"]["studies"], first["totals"]["repeats"]) == (1, 0)

    limestone("import", str(write(tmp_path / "second", ALICE_SOUTH, BOB_SOUTH)), "--site", "SOUTH",
              home=home, check=True)
    second = report(home)
    assert second["stale"] is False
    # Alice's two records are one person (shared health card), linked by the import itself.
    assert (second["totals"]["studies"], second["totals"]["repeats"], second["totals"]["avoidable_repeats"]) \
        == (3, 1, 1)
    assert by_site(second, "repeats") == {"SOUTH": 1} and by_site(second, "avoidable_repeats") == {"SOUTH": 1}

    # An import that adds nothing leaves the facts as they were (no refresh).
    limestone("import", str(tmp_path / "second"), "--site", "SOUTH", home=home, check=True)
    assert report(home)["as_of"] == second["as_of"]

    limestone("import", str(write(tmp_path / "third", BOB_NORTH)), "--site", "NORTH", home=home, check=True)
    third = report(home)
    assert third["stale"] is False
    assert (third["totals"]["studies"], third["totals"]["repeats"], third["totals"]["avoidable_repeats"]) \
        == (4, 2, 2)
    assert by_site(third, "repeats") == {"SOUTH": 1, "NORTH": 1}
    assert {b["exam_class"]: b["repeats"] for b in third["by_class"] if b["repeats"]} == \
        {"CT_HEAD": 1, "XR_CHEST": 1}


def store_exam(port: int, exam) -> None:
    node = Node("listener", "LIMESTONE", "127.0.0.1", port)
    ds = dcmread(io.BytesIO(exam_bytes(exam)))
    assoc = associate(node, "MODALITY", [build_context(ds.SOPClassUID, ExplicitVRLittleEndian)], timeout=30)
    try:
        status = assoc.send_c_store(ds)
        assert status.Status == 0x0000
    finally:
        close(assoc)


def test_listen_brings_the_metrics_up_to_date_while_running(tmp_path):
    archive = covered_home(tmp_path / "home")
    archive = Archive.load(home=str(archive.home.root), listen_flush_seconds=0.2, repeat_refresh_seconds=0)
    listener = Listener(archive, "LIMESTONE", free_port(), "127.0.0.1", None)
    ready = threading.Event()
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(listener.serve(ready).status), daemon=True)
    thread.start()
    assert ready.wait(60), "the listener did not start"

    def current() -> dict | None:
        con = archive.store(read_only=True)
        try:
            out = metrics.report(con)
        finally:
            con.close()
        return out if not out["stale"] and out["totals"]["studies"] == 2 else None
    try:
        store_exam(listener.port, ALICE_NORTH)
        store_exam(listener.port, ALICE_SOUTH)
        out = wait_for(current, 120, "repeat metrics with both studies, fresh", interval=0.2)
    finally:
        listener.stop.set()
        thread.join(120)
    assert codes == ["ok"]
    assert (out["totals"]["repeats"], out["totals"]["avoidable_repeats"]) == (1, 1)


def test_refresh_schedule_waits_for_the_delay_after_the_first_new_study():
    schedule = RefreshSchedule(300)
    schedule.added(0, now=10.0)           # a batch that added nothing starts no wait
    assert not schedule.pending and not schedule.due(1000.0)
    schedule.added(5, now=100.0)
    schedule.added(7, now=350.0)          # later batches do not push the refresh back
    assert schedule.pending and not schedule.due(399.0) and schedule.due(400.0)
    schedule.done()
    assert not schedule.pending and not schedule.due(10_000.0)
    at_once = RefreshSchedule(0)
    at_once.added(1, now=5.0)
    assert at_once.due(5.0)
