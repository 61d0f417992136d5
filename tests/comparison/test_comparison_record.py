"""Opening a comparison: audit events for every study shown, and a 'prior used' per prior (once)."""

from archive import audit
from archive.comparison.record import Shown, comparison_id, record_comparison
from tests.support import compare_world as world


def test_audit_and_prior_used_recorded_once(archive):
    con = archive.store()
    try:
        built = world.build_rows(con)
    finally:
        con.close()
    current = Shown(built.uids["current"], built.keys["pat_n"])
    priors = [Shown(built.uids["ct_chest_6m"], built.keys["pat_n"]),
              Shown(built.uids["ct_chest_2y"], built.keys["pat_s"])]
    for _ in range(2):   # the same comparison recorded twice (a rerun) counts once as a prior use
        assert record_comparison(archive, "tech@example.org", "technologist", current, priors, "NORTH",
                                 session="s1") == {"audited": True, "prior_used": True}
    events = audit.events(archive.home)
    views = [e for e in events if e["action"] == "view"]
    shown = {current.study_instance_uid} | {p.study_instance_uid for p in priors}
    assert {e["study_instance_uid"] for e in views} == shown
    assert all("comparison" in e["detail"] and e["user_id"] == "tech@example.org" for e in views)
    assert not any("TEST^" in (e["detail"] or "") for e in events)
    con = archive.store(read_only=True)
    try:
        uses = con.execute("SELECT study_instance_uid, kind, site, user_id FROM prior_use_events "
                           "ORDER BY study_instance_uid").fetchall()
    finally:
        con.close()
    assert sorted(uses) == sorted((p.study_instance_uid, "compared", "NORTH", "tech@example.org") for p in priors)


def test_comparison_id_is_stable_and_order_free():
    a = comparison_id("u", "1.2", ["1.3", "1.4"], "s")
    assert a == comparison_id("u", "1.2", ["1.4", "1.3"], "s") and a != comparison_id("u", "1.2", ["1.3"], "s")
    assert "1.2" not in a and len(a) == 24
