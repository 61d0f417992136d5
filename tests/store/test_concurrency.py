"""The store under concurrent use: readers in another process while a pipeline writes; killed imports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from archive.home import Archive
from tests.support.cli import ROOT, limestone
from tests.support.samples import write_ct_studies

WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from archive.home import Archive
    from archive.ingest.intake import ingest_bytes
    from archive.store.writer import StoreWriter
    archive = Archive.load(home=sys.argv[1])
    con = archive.store()
    writer = StoreWriter(con, archive.home, "lockstep", batch_size=10**6)
    files = sorted(Path(sys.argv[2]).rglob("*.dcm"))
    for start in range(0, len(files), 20):
        for path in files[start:start + 20]:
            out = ingest_bytes(path.read_bytes(), path.name, archive.vault, archive.home.quarantine_dir)
            writer.add(out.record, out.size, out.digest)
        writer.flush()
        print("committed", start + 20, flush=True)
        sys.stdin.readline()
    con.close()
""")


def _poll(condition, timeout=60.0, every=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("condition not met before the deadline")


@pytest.mark.usefixtures("backend")
def test_reader_in_another_process_sees_each_commit(tmp_path, ct_folder):
    archive = Archive.load(home=str(tmp_path / "home"))
    archive.store().close()  # create and migrate the store
    reader = archive.store(read_only=True)  # opened before the writer starts, kept open throughout
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(archive.home.root), str(ct_folder)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        seen = []
        for _ in range(3):
            line = child.stdout.readline()
            assert line.startswith("committed"), line
            expected = int(line.split()[1])
            # The writer holds its connection open; the reader must see the commit without reopening.
            count = _poll(lambda expected=expected: reader.execute("SELECT count(*) FROM instances").fetchone()[0]
                          == expected and expected, timeout=10)
            seen.append(count)
            series = reader.execute("SELECT sum(number_of_instances) FROM series").fetchone()[0]
            assert series == expected  # series rows are consistent with the instances of that commit
            child.stdin.write("\n")
            child.stdin.flush()
        assert seen == [20, 40, 60]
        assert child.wait(timeout=60) == 0
    finally:
        if child.poll() is None:
            child.kill()
        reader.close()


def test_reading_while_an_import_runs(tmp_path, ct_folder):
    """Dashboard-style polling during a real `limestone import`: no errors, counts only grow."""
    home = tmp_path / "home"
    archive = Archive.load(home=str(home))
    archive.store().close()
    reader = archive.store(read_only=True)
    env = dict(os.environ, LIMESTONE_BATCH_SIZE="10")
    child = subprocess.Popen([sys.executable, "-m", "pipelines", "--home", str(home), "import", str(ct_folder)],
                             env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    counts = []
    try:
        while child.poll() is None:
            counts.append(reader.execute("SELECT count(*) FROM instances").fetchone()[0])
            time.sleep(0.01)
        assert child.returncode == 0, child.stderr.read()
        counts.append(_poll(lambda: reader.execute("SELECT count(*) FROM instances").fetchone()[0] == 60 and 60))
    finally:
        if child.poll() is None:
            child.kill()
        reader.close()
    assert counts == sorted(counts) and counts[-1] == 60


def _start_import(tmp_path, files: int, seed: int, **popen):
    """A fresh store, a reader opened on it, and `limestone import` of ``files`` CT files running."""
    source = tmp_path / "source"
    write_ct_studies(source, files, per_series=100, seed=seed)
    home = tmp_path / "home"
    archive = Archive.load(home=str(home))
    archive.store().close()
    reader = archive.store(read_only=True)
    env = dict(os.environ, LIMESTONE_BATCH_SIZE="20")
    child = subprocess.Popen([sys.executable, "-m", "pipelines", "--home", str(home), "import", str(source)],
                             env=env, cwd=ROOT, **popen)
    return source, home, reader, child


def test_killed_import_loses_nothing_and_rerun_completes(tmp_path):
    source, home, reader, child = _start_import(
        tmp_path, 400, seed=3, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        committed = _poll(lambda: reader.execute("SELECT count(*) FROM instances").fetchone()[0])
        os.killpg(child.pid, signal.SIGKILL)  # the import and its worker processes, mid-run
        child.wait(timeout=30)
        committed = reader.execute("SELECT count(*) FROM instances").fetchone()[0]
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
        reader.close()
    assert 0 < committed < 400
    rerun = limestone("import", str(source), "--json", home=home, check=True)
    result = json.loads(rerun.stdout)
    assert result["imported"] == 400 - committed and result["already_present"] == committed
    stats = json.loads(limestone("stats", "--json", home=home, check=True).stdout)
    assert stats["instances"] == 400 and stats["series"] == 4
    assert limestone("verify", home=home).returncode == 0


def test_interrupted_import_keeps_what_it_received(tmp_path):
    _, _, reader, child = _start_import(
        tmp_path, 300, seed=4, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _poll(lambda: reader.execute("SELECT count(*) FROM instances").fetchone()[0])
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    status = reader.execute("SELECT status, imported FROM ingest_runs").fetchall()
    count = reader.execute("SELECT count(*) FROM instances").fetchone()[0]
    reader.close()
    if child.returncode == 0:
        pytest.fail("the import finished before SIGTERM arrived; make the source larger")
    assert child.returncode == 130 and "interrupted" in err, err
    assert status == [("interrupted", count)]
