"""Prior ranking against a store with known studies (tests/support/compare_world.py)."""

from datetime import date

import pytest

from archive.comparison.priors import description_similarity, rank, relevant_priors, score, time_before
from archive.store.queries import browse
from tests.support import compare_world as world


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from archive.home import Archive
    con = Archive.load(home=str(tmp_path_factory.mktemp("priors") / "home")).store()
    built = world.build_rows(con)
    yield con, built
    con.close()


def names(built, priors):
    by_uid = {v: k for k, v in built.uids.items()}
    return [by_uid[p.study_instance_uid] for p in priors]


def test_same_modality_and_body_part_first_then_recency(store):
    con, built = store
    ranked = names(built, relevant_priors(con, built.uids["current"]))
    assert ranked[:2] == ["ct_chest_6m", "ct_chest_2y"]          # other MRN at another site, by demographics
    assert set(ranked) == {"ct_chest_6m", "ct_chest_2y", "cr_chest_1m", "ct_head_1m", "us_neck_5y",
                           "same_day_earlier"}
    assert ranked[-1] == "us_neck_5y"                            # nothing in common, oldest
    assert "later" not in ranked and "current" not in ranked     # only earlier studies
    assert "namesake_ct" not in ranked                           # same name, other birth date
    assert "alias_ct" not in ranked                              # different name: only a link finds it


def test_the_study_row_a_page_has_read_is_used_as_it_is(store):
    con, built = store
    current = browse.study(con, built.uids["current"])
    assert relevant_priors(con, built.uids["current"], current=current) == relevant_priors(con, built.uids["current"])


def test_priors_carry_site_date_and_time_before(store):
    con, built = store
    first = relevant_priors(con, built.uids["current"])[0]
    assert (first.study_date, first.site, first.modality) == (date(2024, 9, 12), "NORTH", "CT")
    assert first.days_before == 179 and first.ago == "6 months"
    assert 0 < first.score <= 1
    assert first.as_json()["study_instance_uid"] == built.uids["ct_chest_6m"]


def test_linked_identity_is_used_once_the_linker_has_run(archive):
    con = archive.store()
    try:
        built = world.build_rows(con)
        world.link_alias(con, built)
        ranked = names(built, relevant_priors(con, built.uids["current"]))
    finally:
        con.close()
    assert "alias_ct" in ranked                                   # linked by the regional identity
    assert "namesake_ct" not in ranked and "ct_chest_2y" in ranked


def test_unknown_study_raises_lookup_error(store):
    con, _ = store
    with pytest.raises(LookupError):
        relevant_priors(con, "1.2.3.4.999")


def test_score_weights_modality_and_body_part_over_recency():
    current = {"modalities": ["CT"], "body_part_examined": "CHEST", "study_description": "CT Chest"}
    old_match = score(current, {"modalities": ["CT"], "body_part_examined": "CHEST",
                                "study_description": "CT Chest"}, 3650)
    new_other = score(current, {"modalities": ["MR"], "body_part_examined": "KNEE",
                                "study_description": "MR Knee"}, 1)
    assert old_match > new_other
    family = score(current | {"modalities": ["CR"]}, {"modalities": ["DX"], "body_part_examined": "CHEST",
                                                      "study_description": "CT Chest"}, 0)
    assert family == pytest.approx(0.4 * 0.75 + 0.25 + 0.2 + 0.15)


def test_rank_breaks_ties_by_recency():
    import pandas as pd
    current = {"study_date": date(2025, 1, 31), "modalities": ["CT"], "body_part_examined": "HEAD",
               "study_description": "CT Head"}
    rows = pd.DataFrame([dict(study_instance_uid=u, study_date=d, site="X", site_name=None, modalities=["CT"],
                              body_part_examined="HEAD", study_description="CT Head", patient_key="k")
                         for u, d in (("1.1", date(2024, 1, 1)), ("1.2", date(2025, 1, 1)))])
    assert [p.study_instance_uid for p in rank(current, rows)] == ["1.2", "1.1"]


@pytest.mark.parametrize("a, b, low, high", [
    ("CT Chest with contrast", "CT CHEST W CONTRAST", 0.99, 1.0),
    ("CT Chest with contrast", "CT THORAX", 0.3, 0.7),
    ("MR Knee", "CT Head", 0.0, 0.3),
    (None, "CT Head", 0.0, 0.0),
])
def test_description_similarity(a, b, low, high):
    assert low <= description_similarity(a, b) <= high


@pytest.mark.parametrize("days, text", [(0, "same day"), (1, "1 day"), (10, "10 days"), (21, "3 weeks"),
                                        (179, "6 months"), (800, "2 years 2 months"), (731, "2 years")])
def test_time_before(days, text):
    assert time_before(days) == text


def test_body_part_synonyms_count_as_the_same_region():
    from archive.comparison.priors import body_part_score
    assert body_part_score("HEAD", "BRAIN") == 1.0 and body_part_score("Chest", "THORAX") == 1.0
    assert body_part_score("CHEST", "CHESTABDPELVIS") == 0.48
    assert body_part_score("KNEE", "BRAIN") == 0.0 and body_part_score(None, "HEAD") == 0.0
