"""The browser's and metrics' queries against a real seeded store."""

from datetime import date

import pytest

from archive.home import Archive  # noqa: E402
from archive.store.queries import browse, metrics  # noqa: E402
from tests.support import dashboard_seed as seed


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    return seed.build(tmp_path_factory.mktemp("q") / "home")


@pytest.fixture
def con(seeded):
    con = Archive.load(home=str(seeded.home)).store(read_only=True)
    yield con
    con.close()


@pytest.mark.parametrize("text, pattern", [
    ("smith", "smith%"), ("smi*", "smi%"), ("sm?th", "sm_th"), ("SMITH^JOHN", "SMITH JOHN%"),
    ("100%", "100\\%%"), ("a_b", "a\\_b%"), ("", None), (None, None), ("  ", None),
])
def test_like_pattern(text, pattern):
    assert browse.like_pattern(text) == pattern


def test_search_pages_cover_every_match_once(con):
    seen = []
    for page in (1, 2, 3, 4):
        result = browse.search_studies(con, browse.StudySearch(page=page, page_size=10))
        assert result.total == 35 and result.pages == 4
        seen += list(result.rows["study_instance_uid"])
    assert len(seen) == len(set(seen)) == 35


@pytest.mark.parametrize("sort", list(browse.SORTS))
def test_pages_read_from_either_end_agree_with_one_big_page(con, sort):
    whole = list(browse.search_studies(con, browse.StudySearch(sort=sort, page_size=100)).rows["study_instance_uid"])
    paged = []
    for page in range(1, 6):
        paged += list(browse.search_studies(con, browse.StudySearch(sort=sort, page=page, page_size=8))
                      .rows["study_instance_uid"])
    assert paged == whole and len(whole) == 35


def test_patient_sort_falls_back_to_date_beyond_its_limit(con, monkeypatch):
    monkeypatch.setattr(browse, "PATIENT_SORT_LIMIT", 10)
    result = browse.search_studies(con, browse.StudySearch(sort="patient_name"))
    assert result.note and "newest first" in result.note
    dates = list(result.rows["study_date"])
    assert dates == sorted(dates, reverse=True)
    narrowed = browse.search_studies(con, browse.StudySearch(sort="patient_name", patient_name="test^al*"))
    assert narrowed.note is None


def test_search_past_the_last_page_still_counts(con):
    result = browse.search_studies(con, browse.StudySearch(page=99, page_size=10))
    assert result.rows.empty and result.total == 35


def test_search_filters(con, seeded):
    def total(**kw):
        return browse.search_studies(con, browse.StudySearch(**kw)).total
    assert total(patient_name="test^alpha") == 3
    assert total(patient_name="*ETA") == 2
    assert total(patient_id="S77") == 1
    assert total(date_from=date(2025, 1, 1)) == 2
    assert total(date_from=date(2024, 3, 4), date_to=date(2024, 3, 4)) == 1
    assert total(modality="US") == 1
    assert total(body_part="KNEE") == 1
    assert total(site="SOUTH") == 31
    assert total(description="knee") == 1
    assert total(patient_name="%") == 0  # a literal percent sign, not a wildcard


def test_patient_and_description_search_agree_with_ilike_on_the_join(con):
    """The browse table's lower-cased columns find what ILIKE on studies joined to patients finds."""
    def uids(**kw):
        return set(browse.search_studies(con, browse.StudySearch(page_size=100, **kw)).rows["study_instance_uid"])

    def joined(where, pattern):
        return {r[0] for r in con.execute(
            "SELECT s.study_instance_uid FROM studies s LEFT JOIN patients p USING (patient_key) "
            f"WHERE {where} ILIKE ? ESCAPE '\\'", [pattern]).fetchall()}
    for text in ("test^*a", "TEST AL", "*eta", "t?st^g*"):
        found = uids(patient_name=text)
        assert found == joined("replace(p.patient_name, '^', ' ')", browse.like_pattern(text)) and found
    assert uids(description="KNEE") == joined("s.study_description", "%knee%") != set()


def test_sort_is_whitelisted(con):
    with pytest.raises(ValueError):
        browse.search_studies(con, browse.StudySearch(sort="study_date; DROP TABLE studies"))
    rows = browse.search_studies(con, browse.StudySearch(sort="date_asc")).rows
    assert list(rows["study_date"]) == sorted(rows["study_date"])


def test_study_series_instances_timeline(con, seeded):
    uid = seeded.studies["ct_head"]
    assert browse.study(con, uid)["patient_name"] == "TEST^ALPHA"
    assert browse.study(con, "1.2.3.4") is None
    series = browse.study_series(con, uid)
    assert len(series) == 1 and series["number_of_instances"][0] == 12
    instances = browse.series_instances(con, uid, series["series_instance_uid"][0])
    assert list(instances["instance_number"]) == list(range(1, 13))
    assert series["thumbnail_hash"][0] == instances["content_hash"][5]  # the middle slice
    timeline = browse.patient_timeline(con, seeded.patients["alpha"])
    assert len(timeline) == 3 and set(timeline["site"]) == {"NORTH", "SOUTH"}
    assert len(browse.patient_timeline(con, seeded.patients["gamma"])) == 30


def test_metric_views(con):
    f = metrics.MetricFilter(date(2020, 1, 1), date(2030, 1, 1))
    volume = metrics.exam_volume(con, f, "month")
    assert volume["studies"].sum() == 35
    assert set(volume["modality"]) == {"CT", "MR", "CR", "US"}
    north_ct = metrics.exam_volume(con, metrics.MetricFilter(f.date_from, f.date_to, ("NORTH",), ("CT",)))
    assert north_ct["studies"].sum() == 2
    work = metrics.workload(con, f)
    assert work["studies"].sum() == 35 and work["weekday"].between(1, 7).all()
    assert work["hour"].between(0, 23).all()
    storage = metrics.storage(con, f)
    assert storage.groupby(["site", "modality"])["cumulative_bytes"].max().sum() == storage["bytes"].sum()
    turn = metrics.turnaround(con, f)
    assert turn["studies"].sum() == 35 and (turn["median_hours"] > 0).all()
    runs = metrics.ingest_runs(con)
    assert len(runs) == 1 and runs["quarantined"][0] == 1
    q = metrics.quarantine(con, metrics.MetricFilter(date(2000, 1, 1), date(2100, 1, 1)))
    assert list(q["reason_kind"]) == ["truncated pixel data"] and q["files"][0] == 1
    with pytest.raises(ValueError):
        metrics.exam_volume(con, f, "year")
    with pytest.raises(ValueError):
        metrics.MetricFilter(date(2021, 1, 1), date(2020, 1, 1))


@pytest.fixture(scope="module")
def gappy(tmp_path_factory):
    """A store whose studies share dates and miss dates, times, names and descriptions."""
    from archive.home import Home
    from archive.store import open_store

    home = Home(tmp_path_factory.mktemp("gappy") / "home")
    con = open_store(home)
    con.execute("INSERT INTO patients (patient_key, patient_id, patient_name) "
                "SELECT 'k' || i, CASE WHEN i % 4 > 0 THEN 'ID' || (i % 3) END, "
                "CASE WHEN i % 5 > 0 THEN 'P^' || (i % 6) END FROM range(12) t(i)")
    con.execute("INSERT INTO studies (study_instance_uid, patient_key, study_date, study_time, site, "
                "study_description, number_of_instances) "
                "SELECT '1.9.' || i, 'k' || (i % 12), "
                "CASE WHEN i % 7 > 0 THEN DATE '2024-01-01' + CAST(i % 4 AS INTEGER) END, "
                "CASE WHEN i % 3 > 0 THEN TIME '08:00' + INTERVAL (i % 2) HOUR END, "
                "CASE WHEN i % 9 > 0 THEN 'S' || (i % 2) END, CASE WHEN i % 8 > 0 THEN 'D' || (i % 3) END, "
                "CASE WHEN i % 6 > 0 THEN i % 5 END FROM range(40) t(i)")
    con.execute("DELETE FROM study_browse")
    con.execute("INSERT INTO study_browse SELECT * FROM study_browse_source")
    con.close()
    return home


@pytest.mark.parametrize("bound_above", [0, 10**9])  # pages bounded by their leading column, and not
@pytest.mark.parametrize("sort", list(browse.SORTS))
def test_pages_agree_with_the_full_order_when_sort_keys_tie_and_are_missing(gappy, sort, bound_above, monkeypatch):
    from archive.store import open_store

    monkeypatch.setattr(browse, "BOUND_ABOVE", bound_above)
    con = open_store(gappy, read_only=True)
    try:
        expected = [r[0] for r in con.execute(
            f"SELECT study_instance_uid FROM study_browse ORDER BY {browse.SORTS[sort][0]}").fetchall()]
        for page_size in (3, 7):
            pages = -(-40 // page_size)
            paged = []
            for page in range(1, pages + 1):
                paged += list(browse.search_studies(con, browse.StudySearch(sort=sort, page=page, page_size=page_size))
                              .rows["study_instance_uid"])
            assert paged == expected
        site = browse.search_studies(con, browse.StudySearch(sort=sort, site="S1", page=2, page_size=4))
        assert list(site.rows["study_instance_uid"]) == [u for u in expected if int(u.split(".")[-1]) % 2 == 1
                                                         and int(u.split(".")[-1]) % 9 > 0][4:8]
    finally:
        con.close()


# The patient timeline as it was defined before the lookup table (migration 0016): a join of every
# patient record with the same MRN, or the same name, birth date and sex, to its studies.
JOINED_TIMELINE = """
WITH me AS (SELECT patient_key, patient_name, patient_birth_date, patient_sex
            FROM patients WHERE patient_key = $patient_key LIMIT 1),
linked AS (SELECT p.patient_key, p.patient_id, p.issuer_of_patient_id, p.patient_key = me.patient_key AS same_record
           FROM patients p, me
           WHERE p.patient_key = me.patient_key
              OR (me.patient_name IS NOT NULL AND me.patient_birth_date IS NOT NULL
                  AND p.patient_name = me.patient_name AND p.patient_birth_date = me.patient_birth_date
                  AND coalesce(p.patient_sex, '') = coalesce(me.patient_sex, '')))
SELECT s.study_instance_uid, l.patient_id, l.same_record
FROM studies s JOIN linked l USING (patient_key)"""


def test_lookups_by_patient_id_accession_and_patient_find_what_a_scan_finds(con):
    """Every patient ID, accession number and patient of the store, through the lookup table,
    against the same filters on the browse table or the join."""
    def found(**kw):
        rows = browse.search_studies(con, browse.StudySearch(page_size=500, **kw)).rows
        return sorted(rows["study_instance_uid"])

    def scanned(where, value):
        return sorted(r[0] for r in con.execute(f"SELECT study_instance_uid FROM study_browse WHERE {where}",
                                                [value]).fetchall())
    pids = [r[0] for r in con.execute("SELECT DISTINCT patient_id FROM study_browse WHERE patient_id IS NOT NULL")
            .fetchall()]
    accessions = [r[0] for r in con.execute("SELECT DISTINCT accession_number FROM study_browse "
                                            "WHERE accession_number IS NOT NULL").fetchall()]
    assert pids and accessions
    for pid in pids:
        assert found(patient_id=pid) == scanned("patient_id = ?", pid) != []
        assert found(patient_id=pid, site="SOUTH") == scanned("patient_id = ? AND site = 'SOUTH'", pid)
    for accession in accessions:
        assert found(accession=accession) == scanned("accession_number = ?", accession) != []
    assert found(patient_id="NOBODY") == [] and found(accession="NONE-SUCH") == []
    for (key,) in con.execute("SELECT patient_key FROM patients").fetchall():
        timeline = browse.patient_timeline(con, key)
        expected = con.execute(JOINED_TIMELINE, {"patient_key": key}).fetchall()
        got = zip(timeline["study_instance_uid"], timeline["patient_id"], timeline["same_record"], strict=True)
        assert sorted(got) == sorted(expected)
        dates = [d for d in timeline["study_date"] if d is not None and d == d]
        assert dates == sorted(dates, reverse=True)


def test_filter_options_are_every_site_modality_and_body_part_of_the_store(con):
    options = browse.filter_options(con)

    def column(query: str) -> list[str]:
        return sorted(r[0] for r in con.execute(query).fetchall() if r[0] is not None)
    assert options["site"] == column("SELECT site FROM sites UNION SELECT site FROM studies")
    assert options["modality"] == column("SELECT DISTINCT unnest(modalities) FROM studies")
    assert options["body_part"] == column("SELECT DISTINCT body_part_examined FROM studies")
    assert options["site"] and options["modality"] and options["body_part"]


def test_a_search_reads_its_count_and_its_page_from_one_snapshot(tmp_path, monkeypatch):
    """A commit landing between the count and the page does not make them disagree."""
    from archive.home import Home
    from archive.store import open_store

    home = Home(tmp_path / "home")
    writer = open_store(home)
    writer.execute("INSERT INTO study_browse (study_instance_uid, study_date) "
                   "SELECT '1.5.' || i, DATE '2024-01-01' FROM range(3) t(i)")
    reader = open_store(home, read_only=True)
    page_query = browse._compose

    def commit_before_the_page(name, *args, **kwargs):
        if name == "browse_page":     # another process commits two more studies meanwhile
            writer.execute("INSERT INTO study_browse (study_instance_uid, study_date) "
                           "SELECT '1.6.' || i, DATE '2023-12-31' FROM range(2) t(i)")
        return page_query(name, *args, **kwargs)
    monkeypatch.setattr(browse, "_compose", commit_before_the_page)
    try:
        result = browse.search_studies(reader, browse.StudySearch(page_size=10))
        assert result.total == 3
        assert sorted(result.rows["study_instance_uid"]) == ["1.5.0", "1.5.1", "1.5.2"]
        monkeypatch.setattr(browse, "_compose", page_query)
        assert browse.search_studies(reader, browse.StudySearch(page_size=10)).total == 5
    finally:
        reader.close()
        writer.close()
