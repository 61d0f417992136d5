"""Whole-page screenshots of the app for people to look at (default folder /tmp/limestone-screens)."""

from __future__ import annotations

import os
from pathlib import Path

SHOTS = Path(os.environ.get("LIMESTONE_SCREENSHOTS", "/tmp/limestone-screens"))


def shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    # Only photograph a finished page: no script running, no element still a loading skeleton.
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=60000)
    page.wait_for_function("() => !document.querySelector('[data-testid=stSkeleton]')", timeout=60000)
    # Streamlit scrolls inside its main block, so grow the window to the content for a whole page.
    size = page.viewport_size
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]')?.scrollHeight || 0")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(int(height), 6000))})
    page.wait_for_timeout(300)  # let the layout settle at the new size before the picture
    page.screenshot(path=str(path))
    page.set_viewport_size(size)
    return path


def page_shot(page, name: str) -> Path:
    """A whole-page screenshot of a plain web page (the portal): no Streamlit waits."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.wait_for_load_state("load")
    page.screenshot(path=str(path), full_page=True)
    return path
