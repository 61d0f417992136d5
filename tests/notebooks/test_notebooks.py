"""The quality notebooks: committed without outputs, and executed end to end on a demo archive."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from archive import sharing
from archive.home import Archive
from archive.media.pdi import export_studies
from archive.quality.run import run_qa
from archive.sharing.actions import Actor
from archive.sharing.scope import resolve
from tests.support.cli import ROOT, limestone

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXPECTED = ["01_repeat_exams.ipynb", "02_image_quality.ipynb", "03_dose_and_exposure.ipynb",
            "04_share_links_and_media.ipynb"]


def test_the_four_notebooks_are_committed_without_outputs():
    assert [p.name for p in NOTEBOOKS] == EXPECTED
    for path in NOTEBOOKS:
        book = nbformat.read(path, as_version=4)
        nbformat.validate(book)
        code = [c for c in book.cells if c.cell_type == "code"]
        assert all(c.outputs == [] and c.execution_count is None for c in code), f"{path.name} has outputs"
        assert "parameters" in code[0].metadata.get("tags", []), f"{path.name}: parameters first"
        assert code[0].source.startswith("# Parameters") and "HOME = None" in code[0].source
        text = "\n".join(c.source for c in code)
        # Data only through archive/: no direct database access, no SQL in the notebook.
        assert not re.search(r"^\s*(import|from)\s+(duckdb|sqlite3)\b", text, re.M), path.name
        assert not re.search(r"\bSELECT\b", text), path.name
        assert "from archive" in text and "plotly" in text


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory) -> Path:
    """A small demo archive with quality metrics, two share links and a CD export."""
    root = tmp_path_factory.mktemp("notebooks")
    home = root / "home"
    result = limestone("demo", "--patients", "8", "--no-test-files", home=home, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    archive = Archive.load(home=str(home))
    assert run_qa(archive).measured > 100
    con = archive.store(read_only=True)
    try:
        studies = con.execute("SELECT patient_key, list(study_instance_uid ORDER BY study_date) FROM studies "
                              "GROUP BY patient_key ORDER BY patient_key LIMIT 2").fetchall()
        scopes = [resolve(con, uids[:1]) for _, uids in studies]
    finally:
        con.close()
    first = sharing.issue(archive.home, scopes[0], recipient_name="Test Recipient", created_by="clerk1")
    sharing.issue(archive.home, scopes[1], recipient_name="Other Recipient", recipient_role="doctor",
                  created_by="clerk1")
    sharing.verify(archive.home, first.token, first.passcode)
    export_studies(archive, list(scopes[0].study_instance_uids), root / "cd",
                   Actor("clerk1", "clerk", source="dashboard"))
    return home


def _identifiers(home: Path) -> list[str]:
    con = Archive.load(home=str(home)).store(read_only=True)
    try:
        rows = con.execute("SELECT patient_name, patient_id FROM patients").fetchall()
    finally:
        con.close()
    found = set()
    for name, patient_id in rows:
        found.update(p for p in re.split(r"[\^ ]+", name or "") if len(p) >= 4)
        if patient_id and len(patient_id) >= 4:
            found.add(patient_id)
    return sorted(found)


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_runs_on_the_demo_archive_and_shows_no_identifiers(name, demo_home, monkeypatch):
    monkeypatch.setenv("LIMESTONE_HOME", str(demo_home))
    Archive.load(home=str(demo_home)).store().close()   # apply migrations that landed since the build
    book = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    NotebookClient(book, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()  # raises on any error
    outputs = json.dumps([c.get("outputs", []) for c in book.cells])
    assert '"output_type": "error"' not in outputs
    identifiers = _identifiers(demo_home)
    assert identifiers, "the demo archive should have patient names and IDs to look for"
    leaked = [i for i in identifiers if i in outputs]
    assert not leaked, f"{name} shows patient identifiers"
    printed = "".join(o.get("text", "") for c in book.cells for o in c.get("outputs", []) if o.get("name") == "stdout")
    if name.startswith("02"):
        assert re.search(r"[1-9]\d+ measured instances", printed)
        assert "application/vnd.plotly.v1+json" in outputs
    if name.startswith("03"):
        assert re.search(r"[1-9]\d* CT studies", printed)
    if name.startswith("04"):
        assert "2 share links, 1 opened" in printed and "studies exported in 1 export events" in printed
    if name.startswith("01"):
        assert re.search(r"[1-9]\d* studies, \d+ repeats", printed)
