"""Automated accessibility check of a page in the browser: axe-core (Deque's engine, pinned in
scripts/setup and installed into the virtualenv's ``share/axe-core``), run for WCAG 2.1 A and AA.

``assert_accessible(page)`` injects ``axe.min.js`` into a Playwright page (through the DevTools
protocol, so the page's own Content Security Policy stays as it is) and fails with every violation
named: rule, impact, what to fix and the elements concerned.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_path() -> Path:
    """Where scripts/setup put axe-core: ``LIMESTONE_AXE_JS``, else the running virtualenv's share/."""
    configured = os.environ.get("LIMESTONE_AXE_JS")
    return Path(configured) if configured else Path(sys.prefix) / "share" / "axe-core" / "axe.min.js"


@lru_cache(maxsize=1)
def axe_source() -> str:
    path = axe_path()
    if not path.is_file():
        raise RuntimeError(f"axe-core is not installed at {path}: run scripts/setup (it pins and installs it)")
    return path.read_text(encoding="utf-8")


def violations(page, exclude: list[str] | None = None) -> list[dict]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source() + "\n;undefined")
    context = {"exclude": [[s] for s in exclude]} if exclude else None
    return page.evaluate(
        """async ([context, tags]) => {
             const result = await axe.run(context || document, {runOnly: {type: "tag", values: tags},
                                                                resultTypes: ["violations"]});
             return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
               nodes: v.nodes.map(n => n.target.join(" ") + ": " + n.failureSummary)}));
           }""", [context, TAGS])


def describe(found: list[dict]) -> str:
    return "\n".join(f"- {v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"][:5])
                     for v in found)


def assert_accessible(page, name: str = "", exclude: list[str] | None = None) -> None:
    """Fail unless axe-core finds no WCAG 2.1 A/AA violation on ``page``."""
    found = violations(page, exclude)
    assert not found, f"accessibility violations on {name or page.url.split('?')[0][-40:]}:\n{describe(found)}"
