"""Ground truth from the demo archive: the repeat views agree with the demo's own scenario."""

from collections import Counter

import pytest

from archive.demo.install import build_and_import
from archive.dicom.models import patient_key
from archive.home import Archive
from archive.patients.linking import pair_quality
from archive.repeats import metrics
from archive.repeats.demo import exam_class, seed_demo

PATIENTS = 9   # every storyline once: oncology ... chronic chest, a namesake of person 0, routine


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    archive = Archive.load(home=str(tmp_path_factory.mktemp("demo_repeats") / "home"))
    result = build_and_import(archive, patients=PATIENTS, seed=2024, test_files=False)
    con = archive.store()
    yield result.manifest, result.repeats, con, archive.home
    con.close()


def test_linker_on_the_demo(demo, capsys):
    manifest, _, con, _ = demo
    truth = {patient_key(s.patient_id, s.issuer_of_patient_id): s.person for s in manifest.studies}
    linked = dict(con.execute("SELECT patient_key, person_key FROM patient_identity").fetchall())
    quality = pair_quality(linked, truth)
    with capsys.disabled():
        print(f"\nidentity linker on the demo ({len(truth)} records, {PATIENTS} people incl. a namesake): "
              f"precision {quality['precision']:.3f}, recall {quality['recall']:.3f}")
    assert quality["precision"] == 1.0
    # What it did not merge on its own is listed for review: person 0 has no health card on file and
    # shares name, birth date and sex with the namesake, who has one.
    listed = {frozenset(keys) for (keys,) in con.execute("SELECT patient_keys FROM patient_link_conflicts")
              .fetchall()}
    for a in truth:
        for b in truth:
            if a < b and truth[a] == truth[b] and linked[a] != linked[b]:
                assert any({a, b} <= keys for keys in listed)


def test_repeats_and_avoidable_repeats_match_the_scenario(demo):
    manifest, _, con, _ = demo
    rows = con.execute("SELECT study_instance_uid, site, exam_class, is_repeat, is_avoidable "
                       "FROM repeat_study_facts").fetchall()
    assert len(rows) == len(manifest.studies)
    got = {uid: (site, cls, rep, avo) for uid, site, cls, rep, avo in rows}
    for study in manifest.studies:
        site, cls, repeat, avoidable = got[study.study_instance_uid]
        assert (site, cls) == (study.site, exam_class(study.exam))
        assert repeat == bool(study.repeat_of), (study.scenario, study.intent)
        assert avoidable == study.avoidable, (study.scenario, study.intent)
    assert manifest.repeats() and manifest.avoidable_repeats()
    report = metrics.report(con)
    assert {b["exam_class"]: b["repeats"] for b in report["by_class"] if b["repeats"]} == \
        dict(Counter(exam_class(s.exam) for s in manifest.repeats()))
    assert {b["site"]: b["avoidable_repeats"] for b in report["by_site"] if b["avoidable_repeats"]} == \
        dict(Counter(s.site for s in manifest.avoidable_repeats()))


def test_avoided_repeats_match_the_uses_written(demo):
    manifest, expected, con, home = demo
    report = metrics.report(con)
    assert report["totals"]["avoided_repeats"] == len(expected.avoided) > 0
    assert report["totals"]["prior_uses"] == len(expected.avoided) + len(expected.repeated)
    assert {b["exam_class"]: b["avoided_repeats"] for b in report["by_class"] if b["avoided_repeats"]} == \
        dict(expected.avoided_by_class(manifest))
    assert {b["site"]: b["avoided_repeats"] for b in report["by_site"] if b["avoided_repeats"]} == \
        dict(expected.avoided_by_site())
    outcomes = Counter(metrics.prior_uses(con, metrics.RepeatFilter())["outcome"])
    assert outcomes == {"avoided": len(expected.avoided), "repeated": len(expected.repeated)}
    # Seeding again records nothing new.
    seed_demo(con, home, manifest)
    assert metrics.report(con)["totals"]["prior_uses"] == report["totals"]["prior_uses"]
