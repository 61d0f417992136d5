"""Prior uses from the audit trail and transfer log: each past event counted once, a rerun adds none."""

from __future__ import annotations

from collections import Counter
from contextlib import closing
from datetime import datetime

import pytest

from archive import audit, state
from archive.audit.trail import AuditEvent
from archive.home import Archive
from archive.repeats import metrics, record_prior_use
from archive.repeats.update import bring_up_to_date
from tests.support import repeats_world as world


def at(day: str) -> datetime:
    return datetime.fromisoformat(day)


def add_transfer(home, study: str, node: str, sent: int, finished: str) -> int:
    with closing(state.connect(home)) as con:
        cursor = con.execute(
            "INSERT INTO transfers (study_instance_uid, node, destination, user_id, source, requested_at, "
            "finished_at, status, instances, sent) VALUES (?, ?, 'SOUTHPACS@127.0.0.1:104', 'clerk', 'cli', "
            "?, ?, ?, 3, ?) RETURNING transfer_id",
            [study, node, finished, finished, "sent" if sent else "failed", sent])
        return cursor.fetchone()[0]


@pytest.fixture
def history(tmp_path, state_url):
    """The repeat world (its own live prior uses), plus a state database with past events (on
    each backend: the repeat update reads SQLite or PostgreSQL alike)."""
    archive = Archive.load(home=str(tmp_path / "home"), state=state_url)
    con = archive.store()
    w = world.build(con)
    home, uid = archive.home, w.uids

    def event(action, study, when, **kw):
        assert audit.record(home, AuditEvent(action, kw.pop("user", "eve"), study_instance_uid=study,
                                             occurred_at=at(when), **kw))
    # A comparison opened (twice in one session) before prior uses were recorded: one use, at EAST.
    for when in ("2024-05-12T10:00", "2024-05-12T10:20"):
        event("view", uid["carol_ct2"], when, detail="comparison c0ffee01: current with 1 prior(s)")
        event("view", uid["carol_ct1"], when, detail="comparison c0ffee01: prior")
    # A comparison whose use was recorded live: the audit copy must not count it again.
    event("view", uid["gina_us1"], "2024-09-05T09:00", detail="comparison c0ffee02: prior")
    assert record_prior_use(con, uid["gina_us1"], "compared", site="SOUTH", used_at=at("2024-09-05T09:00"),
                            event_id=f"compare:c0ffee02:{uid['gina_us1']}")
    event("share", uid["eve_us1"], "2024-07-05T11:00", link_id="L1", detail="to a patient; view")
    event("open", uid["eve_us1"], "2024-07-06T18:00", link_id="L1", source="portal", user="link:L1")
    event("export", uid["carol_ct1"], "2024-05-20T08:00", detail="zip (DICOM), 3 files")   # PDI media
    # Not prior uses: a research export, a send's own audit line (the transfer log counts it), a
    # plain view, a refused link, a failed PDI export.
    event("export", uid["carol_ct1"], "2024-05-21T08:00", source="deid", detail="de-identified")
    event("export", uid["gina_us1"], "2024-09-06T10:00", detail="sent to node south-pacs (SOUTHPACS): 3/3")
    event("view", uid["gina_us1"], "2024-09-06T11:00")
    event("refused", uid["eve_us1"], "2024-07-07T18:00", outcome="failure", source="portal")
    event("export", uid["eve_us1"], "2024-07-08T08:00", outcome="failure", detail="zip, 0 files")
    with closing(state.connect(home)) as scon:
        scon.execute("INSERT INTO nodes (name, ae_title, host, port, site, created_at, updated_at) "
                     "VALUES ('south-pacs', 'SOUTHPACS', '127.0.0.1', 104, 'SOUTH', '2024-01-01', '2024-01-01')")
    sent = add_transfer(home, uid["gina_us1"], "south-pacs", 3, "2024-09-06T10:00:00")
    live = add_transfer(home, uid["gina_us1"], "south-pacs", 3, "2024-09-07T10:00:00")
    assert record_prior_use(con, uid["gina_us1"], "retrieved", site="SOUTH", used_at=at("2024-09-07T10:00"),
                            event_id=f"transfer:{live}")
    add_transfer(home, uid["gina_us1"], "south-pacs", 0, "2024-09-08T10:00:00")             # nothing sent
    yield con, home, w, sent
    con.close()


def test_each_past_event_becomes_one_prior_use_and_a_rerun_adds_none(history):
    con, home, w, sent = history
    before = metrics.report(con)["totals"]
    ids_before = {e for (e,) in con.execute("SELECT event_id FROM prior_use_events").fetchall()}

    first = bring_up_to_date(con, home)
    assert first.prior_uses_added == 5 and first.refreshed
    rows = con.execute("SELECT event_id, study_instance_uid, kind, site FROM prior_use_events").fetchall()
    added = [row for row in rows if row[0] not in ids_before]
    uid = w.uids
    assert sorted((k, s, site) for _, s, k, site in added) == sorted([
        ("compared", uid["carol_ct1"], "EAST"),          # the current study's site
        ("exported", uid["carol_ct1"], None),
        ("shared", uid["eve_us1"], None), ("shared", uid["eve_us1"], None),
        ("retrieved", uid["gina_us1"], "SOUTH"),         # the node's site
    ])
    assert f"transfer:{sent}" in {e for e, *_ in added}
    used_at = dict(con.execute("SELECT event_id, used_at FROM prior_use_events").fetchall())
    assert used_at[f"compare:c0ffee01:{uid['carol_ct1']}"] == at("2024-05-12T10:00")   # first opening
    assert len(rows) == len(ids_before) + 5

    # Episodes: carol's compare + export, eve's share + open, gina's live uses + the old transfer.
    after = metrics.report(con)["totals"]
    assert after["prior_uses"] == before["prior_uses"] + 3
    assert after["avoided_repeats"] == before["avoided_repeats"] + 2   # carol, gina: no later exam
    outcomes = Counter(metrics.prior_uses(con, metrics.RepeatFilter())["outcome"])
    assert outcomes == {"avoided": 5, "repeated": 3, "pending": 1}      # eve's US_ABD was repeated

    again = bring_up_to_date(con, home)
    assert again.prior_uses_added == 0 and not again.refreshed          # nothing new: no refresh
    assert con.execute("SELECT count(*) FROM prior_use_events").fetchone()[0] == len(rows)
    assert metrics.report(con)["totals"] == after
