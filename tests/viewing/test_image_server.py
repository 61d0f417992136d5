"""The dashboard's image endpoint refuses anything but a live grant (issue 17 item 16)."""

from __future__ import annotations

import json

from pydicom.data import get_testdata_file
from starlette.testclient import TestClient

from archive.viewing import frames
from dashboard.image_server import Grants, create_app


def setup():
    grants = Grants()

    def load(h):
        with open(get_testdata_file("CT_small.dcm", download=False), "rb") as f:
            return f.read()
    series = frames.images([{"content_hash": "ct"}] * 3)
    token = grants.issue("session-1", "tech@example.org", "KEY", {1: series}, frames.DecodedCache(load))
    return grants, token, TestClient(create_app(grants))


def ask(client, **body):
    return client.post("/v1/chunk", content=json.dumps(dict({"series": 1, "start": 0, "count": 1}, **body)))


def test_a_grant_gets_frames_and_nothing_else_does():
    grants, token, client = setup()
    assert ask(client, grant=token).status_code == 200
    assert ask(client, grant="guess" * 9).status_code == 403
    assert ask(client, grant=token, series=2).status_code == 403
    assert client.post("/v1/chunk", content="not json").status_code == 400
    assert client.post("/v1/chunk", content=b"x" * 10000).status_code == 413
    assert client.get("/v1/chunk").status_code == 405


def test_sign_out_revokes_and_expiry_ends_a_grant(monkeypatch):
    grants, token, client = setup()
    assert grants.issue("session-1", "tech@example.org", "KEY", {}, None) == token   # renewed, same token
    grants.revoke_session("session-1")
    assert ask(client, grant=token).status_code == 403
    grants, token, client = setup()
    import dashboard.image_server as server
    now = server.time.monotonic()
    monkeypatch.setattr(server.time, "monotonic", lambda: now + server.GRANT_SECONDS + 1)
    assert ask(client, grant=token).status_code == 403
