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
        # Fresh means fresh: the links created and opened and the CD export after the demo's last
        # update are prior uses the facts do not hold yet.
        assert "STALE" in printed and "prior uses" in printed
    if name.startswith("02"):
        assert "images without anatomy left out" in printed and "viewer?study=" in outputs
    if name.startswith("03"):
        assert "CT studies above their reference level" in printed
    if name.startswith("04"):
        assert "uptake" in printed


# ---- a purpose-built archive with known answers (tests/support/quality_world.py) -----------------------
def _cell(book, needle: str) -> str:
    """The text outputs of the first code cell whose source holds ``needle``."""
    for cell in book.cells:
        if cell.cell_type == "code" and needle in cell.source:
            parts = []
            for output in cell.get("outputs", []):
                parts.append(output.get("text", ""))
                parts.append(output.get("data", {}).get("text/plain", ""))
                parts.append(output.get("data", {}).get("text/html", ""))
            return "\n".join(parts)
    raise AssertionError(f"no cell with {needle!r}")


@pytest.fixture(scope="module")
def known_home(tmp_path_factory) -> tuple[Path, object]:
    from datetime import date as day

    from archive import audit
    from archive.audit.trail import AuditEvent
    from archive.repeats.classes import set_archive_coverage
    from archive.sharing.actions import create
    from archive.store.writer import Site, upsert_sites
    from tests.support.quality_world import ISSUERS, build

    root = tmp_path_factory.mktemp("known")
    world = build(root / "files")
    home = root / "home"
    archive = Archive.load(home=str(home))
    con = archive.store()
    try:
        upsert_sites(con, [Site(site, issuer_of_patient_id=issuer) for site, issuer in ISSUERS.items()])
        for site in ISSUERS:
            set_archive_coverage(con, site, day(2020, 1, 1), "test")
    finally:
        con.close()
    result = limestone("import", str(world.folder), home=home, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert run_qa(archive, workers=1).measured >= 12 + 30
    con = archive.store(read_only=True)
    try:
        scopes = [resolve(con, [uid]) for uid in world.over_drl]
    finally:
        con.close()
    opened = sharing.issue(archive.home, scopes[0], recipient_name="Test Recipient", created_by="clerk1")
    sharing.verify(archive.home, opened.token, opened.passcode)
    # Created as the dashboard does (audited): a prior use the repeat facts do not hold yet.
    locked = create(archive, list(scopes[1].study_instance_uids), Actor("clerk1", "clerk", source="dashboard"),
                    recipient_name="Other Recipient")
    for action in ("passcode_failed", "passcode_failed", "lockout"):
        audit.record(archive.home, AuditEvent(action=action, user_id=f"link:{locked.link.link_id}", outcome="failure",
                                              source="portal", link_id=locked.link.link_id))
    return home, world


def _run(name: str, home: Path, monkeypatch):
    monkeypatch.setenv("LIMESTONE_HOME", str(home))
    book = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    NotebookClient(book, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    return book


def test_quality_notebook_names_the_noisier_station_and_measures_monochrome1_alike(known_home, monkeypatch):
    home, world = known_home
    book = _run("02_image_quality.ipynb", home, monkeypatch)
    flagged = _cell(book, "stations.loc[stations[\"flagged\"]")
    assert world.noisy_station in flagged and "DX1" not in flagged and "DX2" not in flagged
    snr = {line.split()[2]: float(line.split()[3]) for line in _cell(book, "snr.round(1)").splitlines()
           if line.strip() and line.split()[0].isdigit()}
    assert abs(snr["DX2"] - snr["DX1"]) < 0.15 * snr["DX1"]          # not "best" for its inverted values
    printed = _cell(book, "qa = outliers.analyse")
    assert f"{world.no_anatomy_images} images without anatomy left out" in printed
    assert "0 series flagged" in printed                              # no empty-slice false alarms


def test_dose_notebook_names_exactly_the_studies_over_the_reference_level(known_home, monkeypatch):
    from archive import study_keys

    home, world = known_home
    book = _run("03_dose_and_exposure.ipynb", home, monkeypatch)
    assert f"{len(world.over_drl)} CT studies above their reference level" in _cell(book, "above = dose")
    listed = _cell(book, '"reference_source", "viewer_url"')
    archive = Archive.load(home=str(home))
    keys = {study_keys.encode(archive.home, uid) for uid in world.over_drl}
    found = set(re.findall(r"viewer\?study=([\w-]+)", listed))
    assert found == keys
    assert "national: example" in listed


def test_repeat_notebook_shows_the_higher_rate_at_the_site_with_fewer_repeats(known_home, monkeypatch):
    home, world = known_home
    book = _run("01_repeat_exams.ipynb", home, monkeypatch)
    table = _cell(book, "by_site = metrics.rates_overall")
    rows = {parts[1]: parts for parts in (line.split() for line in table.splitlines())
            if len(parts) >= 6 and parts[1] in ("NORTH", "SOUTH")}
    assert int(rows["SOUTH"][3]) == world.repeats["SOUTH"] < int(rows["NORTH"][3]) == world.repeats["NORTH"]
    assert float(rows["SOUTH"][4]) > float(rows["NORTH"][4])
    assert int(rows["SOUTH"][2]) == world.studies["SOUTH"] and int(rows["NORTH"][2]) == world.studies["NORTH"]
    # Two share links were created and one opened after the last update: the facts are stale.
    assert "STALE" in _cell(book, "report = metrics.report")


def test_share_notebook_counts_uptake_failed_passcodes_and_lockouts(known_home, monkeypatch):
    home, _ = known_home
    book = _run("04_share_links_and_media.ipynb", home, monkeypatch)
    printed = _cell(book, "uptake = usage.uptake")
    assert "2 share links, 1 opened (50% uptake), 1 never opened, 2 failed passcodes, 1 lockouts" in printed


def test_share_notebook_says_what_to_expect_when_there_are_no_links(tmp_path, monkeypatch):
    home = tmp_path / "empty"
    Archive.load(home=str(home)).store().close()
    book = _run("04_share_links_and_media.ipynb", home, monkeypatch)
    assert "No share links have been issued yet" in _cell(book, "uptake = usage.uptake")
