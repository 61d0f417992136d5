"""The job queue on the dashboard's ingest health (Department metrics), distributed archive only."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from archive.home import Archive
from archive.ingest.run import import_paths
from tests.support.apptest import page as app_page
from tests.support.apptest import raw_labels, texts
from tests.support.browser import nav, sign_in, wait_healthy
from tests.support.deploy import role
from tests.support.orthanc_server import free_port
from tests.support.samples import write_ct_studies
from tests.support.screenshots import shot
from tests.support.workers import MASTER_KEY, submit

pytestmark = pytest.mark.integration


@pytest.fixture
def queued(distributed, tmp_path, monkeypatch):
    """A distributed archive with a few studies, and an import submitted that no worker has taken."""
    for key, value in {**distributed.env, "LIMESTONE_HOME": str(distributed.root), "LIMESTONE_MASTER_KEY": MASTER_KEY,
                       "LIMESTONE_MASTER_KEY_ID": "mk-test"}.items():
        monkeypatch.setenv(key, value)
    write_ct_studies(tmp_path / "ct", 12, per_series=4, seed=71)
    import_paths(Archive.load(), [tmp_path / "ct"], progress=False, workers=1)
    write_ct_studies(tmp_path / "big", 30, per_series=10, seed=72)
    submit(distributed, "import", str(tmp_path / "big"), "--files-per-job", "10")
    return distributed


def test_metrics_page_shows_the_queue(queued):
    at = app_page("metrics", role="manager").run()
    assert not at.exception and not at.error
    assert "Work queue: 0 worker(s) alive, 1 submission(s) in progress" in texts(at)
    jobs = at.dataframe[-1].value
    assert list(jobs["Jobs done"]) == ["0/3"] and list(jobs["Waiting"]) == [3] and list(jobs["Kind"]) == ["import"]
    assert raw_labels(at) == []


@pytest.mark.e2e
def test_metrics_page_with_the_queue_in_a_browser(queued, page, tmp_path):
    port = free_port()
    values = {"LIMESTONE_HOME": str(queued.root), "LIMESTONE_CATALOG": queued.catalog_url,
              "LIMESTONE_LAKE": queued.lake_url, "LIMESTONE_VAULT": queued.vault_url,
              "LIMESTONE_STATE": queued.state_url,
              "LIMESTONE_MASTER_KEY": MASTER_KEY, "LIMESTONE_MASTER_KEY_ID": "mk-test",
              "STREAMLIT_SERVER_PORT": str(port), **queued.s3_env}
    dashboard = role("limestone-dashboard.service", values).start(tmp_path / "dashboard.log")
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, dashboard.process, timeout=120)
        sign_in(page, url, "manager", "Meg Manager")
        nav(page, "Department metrics")
        expect(page.get_by_text("1 submission(s) in progress")).to_be_visible(timeout=90000)
        shot(page, "jobs_metrics_desktop")
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(500)
        expect(page.get_by_text("1 submission(s) in progress")).to_be_visible()
        shot(page, "jobs_metrics_phone")
    finally:
        dashboard.stop()
