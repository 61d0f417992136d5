"""End to end in Chromium on the demo archive: open a comparison, scroll in step, link, measure,
and a radiograph difference view. Screenshots go to the same folder as the dashboard's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.browser import nav, running_app, sign_in, wait_idle
from tests.support.screenshots import shot

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo archive (8 people, no pydicom files), built once for this module."""
    from archive.demo.install import build_and_import
    from archive.home import Archive

    home = tmp_path_factory.mktemp("compare_demo") / "home"
    result = build_and_import(Archive.load(home=str(home)), patients=8, test_files=False)
    assert result.exit_code == 0
    return home, result.manifest


@pytest.fixture(scope="module")
def demo_url(demo, tmp_path_factory):
    """The real app on the demo archive, stopped after the module."""
    home, _ = demo
    with running_app(home, tmp_path_factory.mktemp("log")) as url:
        yield url


def latest_with_priors(manifest, exam: str):
    return max((s for s in manifest.studies if s.exam == exam and s.prior_uids), key=lambda s: s.study_datetime)


SLOW = 90000   # ms: a first comparison run decodes images and registers on a busy 2-core machine


def open_study(page, accession: str, date: str):
    expect(page.get_by_role("heading", name="Compare with priors")).to_be_visible(timeout=SLOW)
    wait_idle(page)
    box = page.get_by_role("textbox", name="Current study: accession number or patient ID")
    box.fill(accession)
    box.press("Enter")
    expect(box).to_have_value(accession)
    picker = page.get_by_test_id("stSelectbox").filter(has_text="Study to compare")
    expect(picker).to_be_visible(timeout=SLOW)
    picker.click()
    page.get_by_role("option", name=re.compile(re.escape(date))).click()
    expect(page.locator("canvas.lsv-canvas")).to_have_count(2, timeout=SLOW)
    wait_idle(page)


def position(page, pane: int) -> int:
    """The image a pane shows, read from its aria-live text ("Image 12 of 24")."""
    return int(page.locator(".lsv-live").nth(pane).inner_text().split()[1]) - 1


class Geometry:
    """The current study's first prior, its series and their link, read from the store like the page."""

    def __init__(self, home, current_uid: str):
        from archive.comparison.priors import relevant_priors
        from archive.comparison.scroll_link import SeriesGeometry
        from archive.home import Archive
        from archive.store.queries import compare

        con = Archive.load(home=str(home)).store(read_only=True)
        try:
            prior_uid = relevant_priors(con, current_uid)[0].study_instance_uid
            geometries = []
            for uid in (current_uid, prior_uid):
                series = compare.series_geometry(con, uid).iloc[0]
                rows = compare.series_instances(con, uid, series["series_instance_uid"])
                normal = geometries[0].normal if geometries else None
                geometries.append(SeriesGeometry.from_instances(rows, series["frame_of_reference_uid"], normal))
        finally:
            con.close()
        self.current, self.prior = geometries

    def linked(self, cur_index: int, offset: float) -> int:
        from archive.comparison.scroll_link import OFFSET, linked_index
        return linked_index(self.current, cur_index, self.prior, OFFSET, offset).index

    def offset(self, cur_index: int, prior_index: int) -> float:
        from archive.comparison.scroll_link import offset_between
        return offset_between(self.current, cur_index, self.prior, prior_index)


def test_comparison_scrolls_in_step_links_and_measures(page, demo, demo_url):
    home, manifest = demo
    current = latest_with_priors(manifest, "CT_CAP")
    sign_in(page, demo_url, "technologist", "Tess Tech")
    nav(page, "Compare with priors")
    open_study(page, current.accession_number, current.study_date.isoformat())
    expect(page.get_by_role("heading", name="Compare: CT Chest Abdomen Pelvis staging")).to_be_visible()
    assert current.study_instance_uid not in page.url and current.patient_id not in page.url
    assert re.search(r"/compare\?study=[A-Za-z0-9_-]+$", page.url)
    expect(page.locator("canvas.lsv-canvas")).to_have_count(2)
    expect(page.get_by_text("different frame of reference").first).to_be_visible()

    page.get_by_role("button", name="Suggest link").click()
    suggested = page.get_by_text(re.compile(r"^Suggested link: [+-]\d+\.\d mm$"))
    expect(suggested).to_be_visible(timeout=SLOW)
    wait_idle(page)
    geometry = Geometry(home, current.study_instance_uid)
    offset = float(suggested.inner_text().split(":")[1].replace("mm", ""))
    canvases, lives = page.locator("canvas.lsv-canvas"), page.locator(".lsv-live")

    def shows(cur_index: int, offset: float) -> int:
        """Wait until the browser shows current image ``cur_index`` with its linked prior image."""
        expect(lives.nth(0)).to_have_text(f"Image {cur_index + 1} of 24", timeout=SLOW)
        j = geometry.linked(cur_index, offset)
        expect(lives.nth(1)).to_have_text(f"Image {j + 1} of 24", timeout=SLOW)
        return j

    canvases.nth(0).focus()
    for _ in range(10):
        page.keyboard.press("ArrowDown")
    start = shows(10, offset)
    before = canvases.nth(1).evaluate("c => c.toDataURL()")
    for k in range(1, 4):                     # lock-step: same 10 mm slices, one prior image per step
        page.keyboard.press("ArrowDown")
        assert shows(10 + k, offset) == start + k
    page.wait_for_timeout(300)
    assert canvases.nth(1).evaluate("c => c.toDataURL()") != before
    shot(page, "compare_01_linked")

    # The user prefers one slice further on the prior: unlink, move the prior, link there, scroll on.
    scroll_linked = page.get_by_role("checkbox", name="Scroll linked")
    scroll_linked.uncheck()
    canvases.nth(1).focus()
    page.keyboard.press("ArrowDown")
    expect(lives.nth(1)).to_have_text(f"Image {start + 5} of 24")
    assert position(page, 0) == 13
    page.wait_for_timeout(1500)              # the viewer reports the settled position to the page
    wait_idle(page)
    page.get_by_role("button", name="Link at this slice").click()
    linked = page.get_by_text(re.compile(r"^Linked with offset [+-]\d+\.\d mm$"))
    expect(linked).to_be_visible(timeout=SLOW)
    offset = float(linked.inner_text().split("offset")[1].replace("mm", ""))
    assert offset == pytest.approx(geometry.offset(13, start + 4), abs=0.06)
    wait_idle(page)
    scroll_linked.check()
    canvases.nth(0).focus()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    assert shows(11, offset) == start + 2

    # Measure a distance on the current image: drawn on the canvas, listed by the page.
    page.get_by_role("button", name="Measure: drag to draw a distance").click()
    box = canvases.nth(0).bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.5, steps=5)
    page.mouse.up()
    expect(page.get_by_role("heading", name="Measurements")).to_be_visible(timeout=SLOW)
    wait_idle(page)
    expect(page.get_by_test_id("stDataFrame").last).to_contain_text("mm")
    shot(page, "compare_02_measured")


def test_radiograph_difference_view(page, demo, demo_url):
    _, manifest = demo
    current = latest_with_priors(manifest, "XR_CHEST")
    sign_in(page, demo_url, "quality", "Quinn Quality")
    nav(page, "Compare with priors")
    open_study(page, current.accession_number, current.study_date.isoformat())
    page.get_by_text("Difference view (current − registered prior)").click()
    expect(page.get_by_role("heading", name="Difference: current − registered prior")).to_be_visible(timeout=SLOW)
    wait_idle(page)
    # Drawn from the image server through this session's grant, never st.image's open /media/ address.
    expect(page.get_by_test_id("stImage")).to_have_count(0)
    expect(page.locator("img[src^='blob:']").first).to_have_js_property("complete", True, timeout=SLOW)
    assert page.locator("img[src^='blob:']").first.evaluate("i => i.naturalWidth") > 0
    shot(page, "compare_03_difference")
