"""Fresh means fresh: a prior use recorded only in the state database (a share link created or
opened, media exported) makes the repeat facts stale until they are updated."""

from __future__ import annotations

import json

from archive import audit
from archive.audit.trail import AuditEvent
from archive.repeats import metrics
from archive.repeats.update import bring_up_to_date
from tests.repeats.test_repeats_update import ALICE_NORTH, ALICE_SOUTH, covered_home
from tests.support.cli import limestone
from tests.support.repeat_exam_files import write


def test_a_share_link_opened_after_the_update_makes_the_report_stale(tmp_path):
    archive = covered_home(tmp_path / "home")
    folder = write(tmp_path / "in", ALICE_NORTH, ALICE_SOUTH)
    assert limestone("import", str(folder), home=archive.home.root).returncode == 0
    report = json.loads(limestone("report", "repeats", "--json", home=archive.home.root, check=True).stdout)
    assert report["stale"] is False
    con = archive.store(read_only=True)
    try:
        uid = con.execute("SELECT min(study_instance_uid) FROM studies").fetchone()[0]
    finally:
        con.close()
    audit.record(archive.home, AuditEvent(action="open", user_id="link:L1", source="portal",
                                          study_instance_uid=uid, link_id="L1"))
    result = limestone("report", "repeats", "--json", home=archive.home.root, check=True)
    assert json.loads(result.stdout)["stale"] is True and "prior uses" in result.stderr
    con = archive.store()
    try:
        assert metrics.status(con, archive.home)["pending_prior_uses"] == 1
        assert bring_up_to_date(con, archive.home).prior_uses_added == 1
        assert metrics.report(con, home=archive.home)["stale"] is False
    finally:
        con.close()
