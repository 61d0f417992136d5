"""Concurrent writers on one home (issue 17, item 9): ``listen`` receiving from storescu, an
``import`` and a ``pull`` from Orthanc, all at once and with overlapping instances: every instance
is stored once, none is lost, and no "database is locked" reaches the user."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.support.orthanc_server import OrthancServer, free_port
from tests.support.peers import ROOT, Limestone, Lines, dcmtk_env, require_dcmtk, stop_process
from tests.support.synthetic_studies import make_studies, write_studies

pytestmark = pytest.mark.integration


def test_listen_import_and_pull_at_once(tmp_path):
    require_dcmtk("storescu")
    files = write_studies(make_studies(6, 40, seed=37), tmp_path / "every")   # 240 instances
    thirds = [files[:100], files[70:170], files[140:]]                       # overlapping
    folder = tmp_path / "import"
    for path in thirds[1]:
        target = folder / path.relative_to(tmp_path / "every")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    pacs = OrthancServer(tmp_path / "orthanc", ae_title="BUSYPACS")
    pacs.start()
    try:
        pacs.upload(thirds[2])
        limestone = Limestone(tmp_path / "home", env={"LIMESTONE_DICOM_TIMEOUT": "20", "LIMESTONE_BATCH_SIZE": "10",
                                                       "LIMESTONE_LISTEN_FLUSH_SECONDS": "0.2"})
        limestone.add_node("pacs", pacs)
        port = free_port()
        listen = limestone.popen("listen", "--port", str(port), "--ae-title", "LIMESTONE", "--bind", "127.0.0.1")
        out, err = Lines(listen.stdout), Lines(listen.stderr)
        try:
            out.wait_for("listening as 'LIMESTONE'", timeout=90)
            pusher = subprocess.Popen(["storescu", "-aet", "MODALITY", "-aec", "LIMESTONE", "127.0.0.1", str(port),
                                       *map(str, thirds[0])], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True, env=dcmtk_env())
            importer = subprocess.Popen(limestone.command("import", str(folder)), cwd=ROOT,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=limestone.env)
            puller = subprocess.Popen(limestone.command("pull", "pacs"), cwd=ROOT,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=limestone.env)
            results = {name: (proc.wait(600), *proc.communicate()) for name, proc in
                       (("storescu", pusher), ("import", importer), ("pull", puller))}
        finally:
            code = stop_process(listen)
        for name, (status, stdout, stderr) in results.items():
            assert status == 0, f"{name}: {stdout}\n{stderr}"
            assert "locked" not in f"{stdout}{stderr}".lower(), name
        assert code == 0 and "locked" not in (out.text() + err.text()).lower(), err.text()
    finally:
        pacs.stop()
    con = limestone.store().store(read_only=True)
    try:
        rows, distinct, in_series, browse, studies = con.execute(
            "SELECT (SELECT count(*) FROM instances), (SELECT count(DISTINCT sop_instance_uid) FROM instances), "
            "(SELECT sum(number_of_instances) FROM series), (SELECT count(*) FROM study_browse), "
            "(SELECT count(*) FROM studies)").fetchone()
    finally:
        con.close()
    assert rows == distinct == in_series == len(files)
    assert browse == studies == 6
