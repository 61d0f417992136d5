"""The client viewer draws each file's own VOI transform exactly as pydicom computes it.

Each file goes through the server's frame encoder (``frames.chunk``) into the real viewer script
in Chromium; the image it draws (before scaling to the canvas) is compared pixel by pixel with
pydicom's ``apply_modality_lut`` + ``apply_voi_lut`` (scaled to 8 bits, MONOCHROME1 inverted).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from archive.dicom import pixels
from archive.viewing import client, frames
from tests.support import voi_files

pytestmark = pytest.mark.e2e

ORIGIN = "http://viewer.test"
PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>{css}</style></head>
<body><div id="root" style="width:600px;height:600px"></div><script>{js}</script>
<script>
window.viewer = LimestoneViewer(document.getElementById("root"), {{
  panes: [{{count: 1, label: "test", fetch: limestoneSource("{origin}/chunk", {{}})}}],
  presets: {presets}}});
</script></body></html>"""


def chunk_of(data: bytes) -> bytes:
    ds = pixels.read(data)
    decoded = (ds, pixels.decode(ds))
    series = frames.images([{"content_hash": "x", "number_of_frames": 1, "instance_number": 1}])
    return frames.chunk(series, 0, 1, lambda _: decoded)


def drawn(page, data: bytes, choose: str | None = None) -> np.ndarray:
    """The grey levels the viewer drew for the file (its own-resolution image, red channel)."""
    body = chunk_of(data)
    presets = json.dumps({name: [w.center, w.width] for name, w in pixels.PRESETS.items()})
    html = PAGE.format(css=client.css(), js=client.core_js(), origin=ORIGIN, presets=presets)
    page.route(f"{ORIGIN}/", lambda route: route.fulfill(body=html, content_type="text/html"))
    page.route(f"{ORIGIN}/chunk", lambda route: route.fulfill(body=body, content_type="application/octet-stream"))
    page.goto(f"{ORIGIN}/")
    page.wait_for_function("() => window.limestoneViewerStats && window.limestoneViewerStats.first")
    if choose is not None:
        page.locator("select.lsv-select").select_option(choose)
    got = page.evaluate("""() => { const p = window.viewer.panes[0];
        const d = p.off.getContext("2d").getImageData(0, 0, p.off.width, p.off.height);
        return {w: p.off.width, h: p.off.height, r: Array.from(d.data.filter((_, i) => i % 4 === 0))}; }""")
    return np.array(got["r"], dtype=np.int16).reshape(got["h"], got["w"])


CASES = {
    "linear": dict(function="LINEAR"),
    "linear_exact": dict(function="LINEAR_EXACT", centers=(60.5,), widths=(300.0,)),
    "sigmoid": dict(function="SIGMOID", centers=(40.0,), widths=(350.0,)),
    "no_function_two_windows": dict(centers=(40.0, -600.0), widths=(400.0, 1500.0),
                                    explanations=("SOFT TISSUE", "LUNG")),
    "voi_lut_sequence": dict(lut=True, centers=(40.0,), widths=(400.0,)),
    "monochrome1": dict(function="SIGMOID", mono1=True),
}


@pytest.mark.parametrize("case", CASES)
def test_drawn_pixels_follow_the_files_voi(page, case):
    data = voi_files.with_voi(**CASES[case])
    expected = voi_files.reference(data)
    got = drawn(page, data)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1, case     # rounding half-way values only
    assert np.unique(expected).size > 20                # the case shows a real grey range


def test_the_files_second_window_is_offered_and_drawn(page):
    data = voi_files.with_voi(centers=(40.0, -600.0), widths=(400.0, 1500.0), explanations=("SOFT TISSUE", "LUNG"))
    got = drawn(page, data, choose="file:1")
    assert page.locator('select.lsv-select option[value="file:1"]').inner_text() == "LUNG"
    assert np.abs(got - voi_files.reference(data, window_index=1)).max() <= 1


@pytest.mark.parametrize("name", ["vlut_04.dcm", "RG3_UNCR.dcm"])
def test_pydicoms_own_voi_lut_and_monochrome1_files(page, name):
    data = voi_files.testdata(name)
    got = drawn(page, data)
    assert np.abs(got - voi_files.reference(data)).max() <= 1
