"""The portal's client-side viewer: the page mounts the shared script, frames come from /chunk
only to a browser that gave the passcode, and the PNG viewer stays reachable as ?classic=1."""

from __future__ import annotations

import json
import struct

import requests

from tests.support.share_helpers import issue, link_url, signed_in


def test_viewer_page_and_frames_need_the_passcode(shared, portal):
    issued = issue(shared, "a_ct")
    url = link_url(portal, issued)
    session = signed_in(portal, issued)
    page = session.get(url + "/view/1/1")
    assert page.status_code == 200 and "data-limestone-viewer" in page.text and "/static/viewer.js" in page.text
    assert "connect-src 'self'" in page.headers["content-security-policy"]
    assert "LimestoneViewer" in session.get(portal.url + "/static/viewer.js").text
    ask = json.dumps({"study": 1, "series": 1, "start": 0, "count": 2})
    answer = session.post(url + "/chunk", data=ask, headers={"content-type": "text/plain"})
    assert answer.status_code == 200
    (n,) = struct.unpack_from("<I", answer.content, 0)
    header = json.loads(answer.content[4:4 + n])
    assert header["kind"] in ("i16", "f32", "rgb") and header["rows"] > 0
    # No cookie, another study number, or a body too large: the plain refusal.
    assert requests.post(url + "/chunk", data=ask, timeout=10).status_code == 404
    assert session.post(url + "/chunk", data=ask.replace('"study": 1', '"study": 9')).status_code == 404
    assert session.post(url + "/chunk", data="x" * 5000).status_code == 404
    classic = session.get(url + "/view/1/1?classic=1")
    assert classic.status_code == 200 and 'id="image"' in classic.text


def test_a_wrong_passcode_says_how_many_attempts_are_left(shared, portal):
    issued = issue(shared, "a_ct")
    first = requests.post(link_url(portal, issued), data={"answer": "WRONG000"}, timeout=10)
    assert first.status_code == 401 and "more wrong attempts will lock this link" in first.text
    counts = [int(t.split()[-1]) for t in first.text.split(" more wrong attempt")[:1]]
    second = requests.post(link_url(portal, issued), data={"answer": "WRONG000"}, timeout=10)
    assert f"{counts[0] - 1} more wrong attempt" in second.text
