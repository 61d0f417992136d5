"""Fixtures for AppTest page tests: one seeded archive per session, an empty home, users."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

sys.path.insert(0, str(Path(__file__).parent))
import seed  # noqa: E402

PAGES = Path(__file__).resolve().parents[2] / "dashboard" / "pages"


@pytest.fixture(scope="session")
def seeded(tmp_path_factory) -> seed.SeededArchive:
    return seed.build(tmp_path_factory.mktemp("seeded") / "home")


@pytest.fixture
def home(seeded, monkeypatch) -> seed.SeededArchive:
    monkeypatch.setenv("LIMESTONE_HOME", str(seeded.home))
    return seeded


@pytest.fixture
def empty_home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("LIMESTONE_HOME", str(tmp_path / "empty"))
    return tmp_path / "empty"


def user(role: str | None) -> dict:
    if role is None:
        return {}
    return {"is_logged_in": True, "email": f"{role}@example.org", "name": f"Test {role}", "roles": [role]}


def page(name: str, role: str | None = "admin", **query) -> AppTest:
    """An AppTest of one page file, signed in with ``role`` and with ``query`` parameters."""
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=60)
    at.user = user(role)
    for k, v in query.items():
        at.query_params[k] = v
    return at


def texts(at: AppTest) -> str:
    """All text a page shows (markdown, captions, alerts, titles, metrics), for assertions."""
    parts = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "title", "subheader"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label}={m.value}" for m in at.metric]
    return "\n".join(parts)
