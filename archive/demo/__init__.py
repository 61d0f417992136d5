"""The demo archive: a synthetic, clearly fake regional archive built from a seed.

``build_demo(folder, patients=..., seed=...)`` writes DICOM files and returns a ``Manifest`` of
what it made (sites, people, studies with their intended roles), which tests and later features
(repeat-exam metrics, comparison review) assert against. Every name and identifier carries a DEMO
marker; no real person is described.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archive.demo.generator import build_demo
    from archive.demo.manifest import Manifest
    from archive.demo.sites import EXTERNAL_SITE, REGION_SITES

# Loaded on first use (PEP 562): the generator's pydicom and numpy are not paid by a command that
# only needs the demo's defaults (``limestone demo --help``).
_LAZY = {"build_demo": "generator", "Manifest": "manifest", "EXTERNAL_SITE": "sites", "REGION_SITES": "sites"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["build_demo", "Manifest", "REGION_SITES", "EXTERNAL_SITE"]
