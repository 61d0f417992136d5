"""The demo archive: a synthetic, clearly fake regional archive built from a seed.

``build_demo(folder, patients=..., seed=...)`` writes DICOM files and returns a ``Manifest`` of
what it made (sites, people, studies with their intended roles), which tests and later features
(repeat-exam metrics, comparison review) assert against. Every name and identifier carries a DEMO
marker; no real person is described.
"""

from archive.demo.generator import build_demo
from archive.demo.manifest import Manifest
from archive.demo.sites import EXTERNAL_SITE, REGION_SITES

__all__ = ["build_demo", "Manifest", "REGION_SITES", "EXTERNAL_SITE"]
