"""The viewer's script and style, read once from this package (no build step, no CDN).

``viewer.js`` defines ``LimestoneViewer(root, options)`` and ``limestoneSource(url, body)``;
``component_js()`` wraps them as a Streamlit v2 component module and ``portal_js()`` as a page
script that mounts every ``[data-limestone-viewer]`` element from its JSON ``data-config``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

_HERE = Path(__file__).parent

_COMPONENT = """
export default function (component) {
  const { data, parentElement, setStateValue } = component;
  if (!data || !data.panes) return;
  const identity = JSON.stringify(data.panes.map((p) => [p.url, p.port, p.body, p.count]));
  let state = parentElement.__limestone;
  if (state && state.identity === identity) { state.viewer.setLink(data.link || null); return; }
  if (state) state.viewer.destroy();
  let root = parentElement.querySelector(".lsv-root");
  if (!root) { root = document.createElement("div"); root.className = "lsv-root"; parentElement.appendChild(root); }
  const viewer = LimestoneViewer(root, {
    panes: data.panes.map((p) => Object.assign({}, p, {fetch: limestoneSource(
      p.url || `${location.protocol}//${location.hostname}:${p.port}${p.path}`, p.body)})),
    link: data.link || null, presets: data.presets || {}, follow: !!data.follow, help: data.help,
    onState: (name, value) => setStateValue(name, value),
  });
  parentElement.__limestone = { identity, viewer };
  return () => { viewer.destroy(); parentElement.__limestone = null; };
}
"""

_PORTAL = """
document.querySelectorAll("[data-limestone-viewer]").forEach((root) => {
  const data = JSON.parse(root.getAttribute("data-config"));
  LimestoneViewer(root, {
    panes: data.panes.map((p) => Object.assign({}, p, {fetch: limestoneSource(p.url, p.body)})),
    presets: data.presets || {}, help: data.help, text: data.text || {},
  });
});
"""


@lru_cache(maxsize=1)
def core_js() -> str:
    return (_HERE / "viewer.js").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def css() -> str:
    return (_HERE / "viewer.css").read_text(encoding="utf-8")


def component_js() -> str:
    """The Streamlit v2 component module: the viewer plus a default export that mounts it once."""
    return core_js() + _COMPONENT


def portal_js() -> str:
    """The share portal's page script: the viewer plus a mount of the page's viewer elements."""
    return core_js() + _PORTAL
