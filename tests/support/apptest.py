"""Helpers for AppTest page tests: open a page signed in with a role; collect its text."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

PAGES = Path(__file__).resolve().parents[2] / "dashboard" / "pages"


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


def viewers(at: AppTest, name: str = "limestone_viewer") -> list[dict]:
    """The data of every client-side viewer (a Streamlit v2 component) the page mounted."""
    import json

    found = []

    def walk(block):
        for el in (block.children.values() if hasattr(block, "children") else []):
            proto = getattr(el, "proto", None)
            if getattr(el, "type", None) == "bidi_component" and proto.component_name == name:
                found.append(json.loads(proto.json) if proto.json else {})
            walk(el)
    walk(at.main)
    return found
