"""Concurrent writers on one home (issue 17, item 9): imports of overlapping folders at the same
time store every instance once, lose none, and never show "database is locked" to the user."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from archive.home import Archive
from tests.support.cli import ROOT
from tests.support.samples import write_ct_studies


def _counts(home) -> dict[str, int]:
    con = Archive.load(home=str(home)).store(read_only=True)
    try:
        return dict(zip(("rows", "distinct", "series_sum", "study_sum", "browse", "studies"), con.execute(
            "SELECT (SELECT count(*) FROM instances), (SELECT count(DISTINCT sop_instance_uid) FROM instances), "
            "(SELECT sum(number_of_instances) FROM series), (SELECT sum(number_of_instances) FROM studies), "
            "(SELECT count(*) FROM study_browse), (SELECT count(*) FROM studies)").fetchone(), strict=True))
    finally:
        con.close()


def test_three_imports_of_overlapping_folders_at_once(tmp_path):
    every = tmp_path / "every"
    write_ct_studies(every, 90, per_series=10, seed=17)
    files = sorted(every.rglob("*.dcm"))
    assert len(files) == 90
    folders = []
    for name, part in (("a", files[:50]), ("b", files[30:]), ("c", files[::3])):
        folder = tmp_path / name
        for path in part:
            target = folder / path.relative_to(every)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        folders.append(folder)
    home = tmp_path / "home"
    Archive.load(home=str(home)).store().close()      # migrated once; the race is on the batches
    env = dict(os.environ, LIMESTONE_BATCH_SIZE="7", LIMESTONE_IMPORT_WORKERS="1")
    env.pop("LIMESTONE_HOME", None)
    runs = [subprocess.Popen([sys.executable, "-m", "pipelines", "--home", str(home), "import", str(folder)],
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for folder in folders]
    outputs = [run.communicate(timeout=600) for run in runs]
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, out + err
        assert "locked" not in (out + err).lower()
    counts = _counts(home)
    assert counts["rows"] == counts["distinct"] == 90
    assert counts["series_sum"] == counts["study_sum"] == 90
    assert counts["browse"] == counts["studies"]
    assert sum(1 for _ in Archive.load(home=str(home)).vault.hashes()) == 90
