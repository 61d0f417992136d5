"""Opening a comparison: audit events for every study shown, and a 'prior used' per prior (once)."""

import threading

from archive import audit
from archive.comparison import record
from archive.comparison.record import Shown, audit_comparison, comparison_id, record_prior_uses
from tests.support import compare_world as world


def a_comparison(archive):
    con = archive.store()
    try:
        built = world.build_rows(con)
    finally:
        con.close()
    return (Shown(built.uids["current"], built.keys["pat_n"]),
            [Shown(built.uids["ct_chest_6m"], built.keys["pat_n"]),
             Shown(built.uids["ct_chest_2y"], built.keys["pat_s"])])


def prior_uses(archive) -> list[tuple]:
    con = archive.store(read_only=True)
    try:
        return sorted(con.execute("SELECT study_instance_uid, kind, site, user_id FROM prior_use_events").fetchall())
    finally:
        con.close()


def test_audit_and_prior_used_recorded_once(archive):
    current, priors = a_comparison(archive)
    for _ in range(2):   # the same comparison recorded twice (a rerun) counts once as a prior use
        assert audit_comparison(archive, "tech@example.org", "technologist", current, priors, session="s1")
        assert record_prior_uses(archive, "tech@example.org", current, priors, "NORTH", session="s1") is True
    events = audit.events(archive.home)
    views = [e for e in events if e["action"] == "view"]
    shown = {current.study_instance_uid} | {p.study_instance_uid for p in priors}
    assert {e["study_instance_uid"] for e in views} == shown
    assert all("comparison" in e["detail"] and e["user_id"] == "tech@example.org" for e in views)
    assert not any("TEST^" in (e["detail"] or "") for e in events)
    assert prior_uses(archive) == sorted((p.study_instance_uid, "compared", "NORTH", "tech@example.org")
                                         for p in priors)


def test_prior_uses_in_the_background_wait_until_the_images_are_served(archive, monkeypatch):
    current, priors = a_comparison(archive)

    def background_writer() -> threading.Timer:
        (timer,) = [t for t in threading.enumerate() if t.name == "limestone-prior-use"]
        assert isinstance(timer, threading.Timer)
        return timer

    monkeypatch.setattr(record, "BACKGROUND_DELAY", 3600.0)
    assert record_prior_uses(archive, "tech@example.org", current, priors, "NORTH", background=True) is None
    later = background_writer()
    assert later.interval == 3600.0
    later.cancel()
    later.join()
    assert prior_uses(archive) == []
    monkeypatch.setattr(record, "BACKGROUND_DELAY", 0.0)
    record_prior_uses(archive, "tech@example.org", current, priors, "NORTH", background=True)
    background_writer().join()
    assert [u[0] for u in prior_uses(archive)] == sorted(p.study_instance_uid for p in priors)


def test_comparison_id_is_stable_and_order_free():
    a = comparison_id("u", "1.2", ["1.3", "1.4"], "s")
    assert a == comparison_id("u", "1.2", ["1.4", "1.3"], "s") and a != comparison_id("u", "1.2", ["1.3"], "s")
    assert "1.2" not in a and len(a) == 24
