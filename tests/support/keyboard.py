"""Keyboard-only use of a page in Playwright: move the focus with Tab until an element is reached,
checking on the way that every stop shows where the focus is (WCAG 2.4.7)."""

from __future__ import annotations

FOCUS_SHOWN = """() => {
  const e = document.activeElement; if (!e || e === document.body) return null;
  const s = getComputedStyle(e);
  return {tag: e.tagName, text: (e.innerText || e.value || e.getAttribute('aria-label') || '').slice(0, 40),
          shown: (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none'};
}"""


def tab_to(page, selector: str, limit: int = 60, backwards: bool = False) -> list[dict]:
    """Press Tab (Shift+Tab) until the focused element matches ``selector``; the stops passed.
    Fails when it is not reached within ``limit`` presses or a stop has no visible focus."""
    stops = []
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        stop = page.evaluate(FOCUS_SHOWN)
        if stop is None:
            continue
        stops.append(stop)
        assert stop["shown"], f"the focus is not visible on {stop}"
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return stops
    raise AssertionError(f"{selector} not reached with the keyboard; stops: {stops}")
