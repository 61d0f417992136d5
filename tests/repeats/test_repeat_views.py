"""Ground truth for the repeat views: a small regional archive where every count is known."""

from collections import Counter
from datetime import date

import pytest

from archive.home import Archive
from archive.patients.linking import decide, link_patients
from archive.repeats import classes, metrics
from tests.support import repeats_world as world


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    archive = Archive.load(home=str(tmp_path_factory.mktemp("repeats") / "home"))
    con = archive.store()
    truth = world.build(con)
    yield con, truth
    con.close()


@pytest.fixture
def fresh(tmp_path):
    con = Archive.load(home=str(tmp_path / "home")).store()
    truth = world.build(con)
    yield con, truth
    con.close()


def facts(con, w):
    names = {uid: name for name, uid in w.uids.items()}
    rows = con.execute("SELECT study_instance_uid, site, exam_class, is_repeat, is_avoidable "
                       "FROM repeat_study_facts").fetchall()
    return {names[uid]: dict(site=site, exam_class=c, repeat=r, avoidable=a) for uid, site, c, r, a in rows}


def test_classes_repeats_and_avoidable_repeats(built):
    con, w = built
    f = facts(con, w)
    assert set(f) == set(world.EXPECTED_CLASSES)            # the dose report is not an exam
    assert {k: v["exam_class"] for k, v in f.items()} == world.EXPECTED_CLASSES
    assert {k for k, v in f.items() if v["repeat"]} == world.EXPECTED_REPEATS
    assert {k for k, v in f.items() if v["avoidable"]} == world.EXPECTED_AVOIDABLE
    assert Counter(v["site"] for v in f.values()) == world.EXPECTED_STUDIES_BY_SITE
    assert Counter(v["site"] for v in f.values() if v["repeat"]) == world.EXPECTED_REPEATS_BY_SITE
    assert Counter(v["site"] for v in f.values() if v["avoidable"]) == world.EXPECTED_AVOIDABLE_BY_SITE
    assert Counter(v["exam_class"] for v in f.values() if v["avoidable"]) == world.EXPECTED_AVOIDABLE_BY_CLASS


def test_the_prior_that_was_available_and_where(built):
    con, w = built
    rows = metrics.avoidable_repeats(con, metrics.RepeatFilter())
    by_study = {r.study_instance_uid: r for r in rows.itertuples()}
    alice = by_study[w.uids["alice_ct2"]]
    assert (alice.prior_study_instance_uid, alice.prior_site, alice.days_after_prior) == \
        (w.uids["alice_ct1"], "NORTH", 30)
    bob = by_study[w.uids["bob_xr2"]]
    assert (bob.prior_site, bob.days_after_prior) == ("NORTH", 0)


def test_prior_use_outcomes_dose_and_cost(built):
    con, w = built
    uses = metrics.prior_uses(con, metrics.RepeatFilter())
    assert Counter(uses["outcome"]) == world.EXPECTED_OUTCOMES
    alice = uses[uses["prior_study_instance_uid"] == w.uids["alice_ct3"]].iloc[0]
    assert alice["events"] == 3 and list(alice["kinds"]) == ["compared", "retrieved", "shared"]
    assert alice["site"] == "NORTH"
    bob = uses[uses["prior_study_instance_uid"] == w.uids["bob_xr1"]].iloc[0]
    assert bob["outcome"] == "repeated" and bob["next_exam_uid"] == w.uids["bob_xr2"]


def test_report_totals_and_breakdowns(built):
    con, _ = built
    r = metrics.report(con)
    t = r["totals"]
    assert (t["studies"], t["repeats"], t["avoidable_repeats"], t["avoided_repeats"], t["prior_uses"]) == \
        (20, len(world.EXPECTED_REPEATS), len(world.EXPECTED_AVOIDABLE), 3, 6)
    assert t["cost_avoided"] == world.EXPECTED_COST_AVOIDED
    assert t["dose_avoided"] == {"ct_dlp_mgy_cm": world.EXPECTED_DLP_AVOIDED,
                                 "ct_ctdi_vol_mgy": world.EXPECTED_CTDI_AVOIDED,
                                 "xr_detector_kerma_ugy": world.EXPECTED_KERMA_AVOIDED}
    by_site = {s["site"]: s for s in r["by_site"]}
    assert {k: v["studies"] for k, v in by_site.items()} == world.EXPECTED_STUDIES_BY_SITE
    assert {k: v["avoided_repeats"] for k, v in by_site.items() if v["avoided_repeats"]} == \
        world.EXPECTED_AVOIDED_BY_SITE
    by_class = {c["exam_class"]: c for c in r["by_class"]}
    assert {k: v["avoided_repeats"] for k, v in by_class.items() if v["avoided_repeats"]} == \
        world.EXPECTED_AVOIDED_BY_CLASS
    assert sum(c["studies"] for c in r["by_class"]) == t["studies"]


def test_report_range(built):
    con, _ = built
    r = metrics.report(con, since=date(2024, 3, 1), until=date(2024, 3, 31))
    # March: bob's three films and alice's third CT; bob's second film is the one repeat.
    assert (r["totals"]["studies"], r["totals"]["repeats"], r["totals"]["avoidable_repeats"]) == (4, 1, 1)
    assert r["totals"]["prior_uses"] == 1 and r["totals"]["avoided_repeats"] == 0


def test_series_filters(built):
    con, _ = built
    df = metrics.series(con, metrics.RepeatFilter(sites=("SOUTH",), modalities=("XR",)), grain="month")
    assert df["studies"].sum() == 2 and df["repeats"].sum() == 1
    with pytest.raises(ValueError):
        metrics.series(con, metrics.RepeatFilter(), grain="fortnight")


def test_edits_change_the_numbers(fresh):
    con, w = fresh
    # A longer CT window makes alice's day-31 CT a repeat (at the same site as the day-30 one).
    classes.set_exam_class(con, "CT_CHEST", repeat_window_days=31, updated_by="test")
    assert facts(con, w)["alice_ct3"]["repeat"]
    # The XR family default: 15 days makes bob's day-15 film a repeat.
    classes.set_window_default(con, "DX", 15, "test")
    assert facts(con, w)["bob_xr3"]["repeat"]
    # Flagged clinically required: no longer avoidable.
    classes.flag_clinically_required(con, w.uids["hans_mg2"], "implant rupture suspected", "test")
    assert not facts(con, w)["hans_mg2"]["avoidable"]
    classes.unflag_clinically_required(con, w.uids["hans_mg2"])
    assert facts(con, w)["hans_mg2"]["avoidable"]
    # NORTH no longer covered: its studies are available only on arrival (8 h after), so the
    # same-day repeat at SOUTH was not avoidable; the others still are.
    classes.set_archive_coverage(con, "NORTH", None, "test")
    f = facts(con, w)
    assert not f["bob_xr2"]["avoidable"] and f["alice_ct2"]["avoidable"]
    # A rule: every CT whose description says THORAX is its own class.
    classes.set_exam_class(con, "CT_THORAX", name="CT thorax", modality="CT", updated_by="test")
    classes.set_class_rule(con, 5, "CT", "CT_THORAX", description_pattern=r"\bthorax\b", updated_by="test")
    assert facts(con, w)["alice_ct2"]["exam_class"] == "CT_THORAX"
    # A fee change shows in the cost avoided.
    classes.set_exam_class(con, "MG_SCREEN", fee=100.0, updated_by="test")
    assert metrics.report(con)["totals"]["cost_avoided"] == world.EXPECTED_COST_AVOIDED + 20


def test_bad_edits_are_refused(fresh):
    con, _ = fresh
    with pytest.raises(ValueError):
        classes.set_exam_class(con, "CT_HEAD", repeat_window_days=-1, updated_by="test")
    with pytest.raises(ValueError):
        classes.set_exam_class(con, "NEW_ONE", updated_by="test")           # no modality
    with pytest.raises(ValueError):
        classes.set_class_rule(con, 1, "CT", "NO_SUCH_CLASS", updated_by="test")
    with pytest.raises(ValueError):
        classes.set_class_rule(con, 1, "CT", "CT_HEAD", description_pattern="(unclosed", updated_by="test")
    with pytest.raises(ValueError):
        classes.flag_clinically_required(con, "1.2.3", "  ", "test")


def test_identity_in_the_store_and_decisions(fresh):
    con, w = fresh
    summary = metrics.link_summary(con)
    assert summary["records"] == len(world.RECORDS)
    assert summary["persons"] == len(world.RECORDS) - 5
    conflicts = metrics.link_conflicts(con)
    assert set(conflicts["kind"]) == world.EXPECTED_CONFLICT_KINDS
    # Keep bob's two records apart: his same-day film is no longer a repeat.
    decide(con, w.keys["bob_n"], w.keys["bob_s"], "different", "test")
    link_patients(con)
    assert not facts(con, w)["bob_xr2"]["repeat"]
    # A newly imported record is its own person until the linker runs again.
    con.execute("DELETE FROM patient_links WHERE patient_key = ?", [w.keys["alice_s"]])
    assert not facts(con, w)["alice_ct2"]["repeat"]


def test_snapshot_matches_the_definitions_and_knows_when_it_is_stale(fresh):
    from datetime import datetime

    import pandas as pd

    from archive.clock import now_utc
    from archive.repeats import facts

    con, w = fresh
    live = con.execute("SELECT * FROM repeat_study_facts ORDER BY study_instance_uid").df()
    snapshot = con.execute(f"SELECT {', '.join(live.columns)} FROM repeat_facts "
                           "ORDER BY study_instance_uid").df()
    pd.testing.assert_frame_equal(live, snapshot, check_dtype=False)
    order = "ORDER BY person_key, exam_class, episode"
    episodes = con.execute(f"SELECT * FROM prior_use_episodes {order}").df()
    stored = con.execute(f"SELECT {', '.join(episodes.columns)} FROM prior_use_facts {order}").df()
    pd.testing.assert_frame_equal(episodes, stored, check_dtype=False)
    daily = con.execute("SELECT sum(studies), sum(repeats), sum(avoidable_repeats) FROM repeat_exam_daily").fetchone()
    assert daily == (20, 6, 3)
    assert facts.status(con)["stale"] is False
    # A new study arrives: alice's CT again, 5 days after the last one, at NORTH.
    when = datetime(2024, 3, 16, 9)
    con.execute("INSERT INTO studies (study_instance_uid, patient_key, study_date, study_datetime, "
                "study_description, modalities, body_part_examined, site, first_ingested_at, updated_at) "
                "VALUES ('1.2.826.0.1.3680043.10.999.100', ?, ?, ?, 'CT CHEST', ['CT'], 'CHEST', 'NORTH', ?, ?)",
                [w.keys["alice_n"], when.date(), when, when, now_utc()])
    assert facts.status(con)["stale"] is True
    assert metrics.report(con)["totals"]["repeats"] == 6          # the numbers of the last refresh
    assert metrics.report(con)["stale"] is True
    assert facts.refresh(con) == 21
    assert facts.status(con)["stale"] is False
    r = metrics.report(con)["totals"]
    assert (r["repeats"], r["avoidable_repeats"]) == (7, 4)
    # A prior use recorded after the refresh shows once the snapshot is refreshed again.
    from archive.repeats import record_prior_use
    assert record_prior_use(con, w.uids["gina_us1"], "shared", site="SOUTH", used_at=datetime(2024, 9, 5))
    assert facts.status(con)["stale"] is True
    facts.refresh(con)
    assert metrics.report(con)["totals"]["avoided_repeats"] == 4
