from datetime import date

from tests.support.apptest import page, texts


def test_manager_sees_every_chart_with_csv(home):
    at = page("metrics", role="manager").run()
    assert not at.exception and not at.error
    assert "35 studies in the range" in texts(at)
    assert len(at.get("plotly_chart")) == 6
    assert len(at.get("download_button")) == 7
    values = {m.label: m.value for m in at.metric}
    assert values["Quarantined files"] == "1"
    assert values["Runs not ok"] == "1"


def test_filters_narrow_the_numbers(home):
    at = page("metrics", role="manager").run()
    at.multiselect(key="metrics.sites").select("NORTH").run()
    assert "4 studies in the range" in texts(at)
    at.multiselect(key="metrics.modalities").select("MR").run()
    assert "1 studies in the range" in texts(at)
    at.date_input(key="metrics.dates").set_value((date(2019, 1, 1), date(2019, 12, 31))).run()
    assert not at.exception
    assert "No exams for these filters" in texts(at)


def test_volumes_by_site_and_latest_run_per_source(home):
    at = page("metrics", role="quality").run()
    at.radio(key="metrics.volume_by").set_value("site").run()
    assert not at.exception and not at.error
    latest = at.dataframe[0].value  # the first table of the page: latest run per source
    assert list(latest["source"]) == ["test fixture"] and list(latest["status"]) == ["failed"]


def test_clerk_is_refused(home):
    at = page("metrics", role="clerk").run()
    assert "does not give access" in texts(at)
    assert not at.get("plotly_chart")


def test_empty_archive(empty_home):
    at = page("metrics", role="manager").run()
    assert not at.exception and not at.error
    assert "archive is empty" in texts(at)
