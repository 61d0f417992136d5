"""Replicas on one distributed archive (issue 19, item 6): two ``listen`` processes behind one AE
title each receiving overlapping pushes from dcmtk at once, and a replica's long-lived store
connection (the dashboard's and the portal's) seeing another process's import."""

from __future__ import annotations

import json
import subprocess
import threading

import pytest

from archive.home import Archive
from archive.store import open_store
from archive.store.connection import LAKE, connect
from tests.distributed.test_distributed_store import MASTER_KEY, run
from tests.support.orthanc_server import free_port
from tests.support.peers import Limestone, Lines, dcmtk_env, require_dcmtk, stop_process, wait_for
from tests.support.samples import write_ct_studies

pytestmark = pytest.mark.integration

AE_TITLE = "LIMESTONE"


def _instances(distributed) -> tuple[int, int, int]:
    """(rows, distinct SOP instance UIDs, the series' instance counts summed) in the shared store."""
    con = connect(distributed.home(), read_only=True)
    try:
        return con.execute("SELECT (SELECT count(*) FROM instances), "
                           "(SELECT count(DISTINCT sop_instance_uid) FROM instances), "
                           "(SELECT coalesce(sum(number_of_instances), 0) FROM series)").fetchone()
    except Exception:   # not migrated yet
        return 0, 0, 0
    finally:
        con.close()


def _listen(distributed, root, port):
    node = Limestone(root, env={**distributed.env, "LIMESTONE_MASTER_KEY": MASTER_KEY,
                                "LIMESTONE_MASTER_KEY_ID": "mk-test", "LIMESTONE_LISTEN_FLUSH_SECONDS": "0.5"})
    process = node.popen("listen", "--port", str(port), "--ae-title", AE_TITLE)
    return process, Lines(process.stdout), Lines(process.stderr)


def test_two_listeners_behind_one_ae_title_store_overlapping_pushes_once(distributed, tmp_path):
    require_dcmtk("storescu")
    files = write_ct_studies(tmp_path / "ct", 60, per_series=20, seed=31)
    open_store(distributed.home()).close()                      # the shared store, migrated once
    # Two machines (their own local folders), one AE title, one archive.
    ports = [free_port(), free_port()]
    listeners = [_listen(distributed, tmp_path / f"node-{i}", port) for i, port in enumerate(ports)]
    try:
        for _process, out, err in listeners:
            try:
                out.wait_for(f"listening as '{AE_TITLE}'", timeout=90)
            except AssertionError:
                raise AssertionError(f"listen did not start: {err.text()}") from None
        # Four modalities push at once: 0-39 and 20-59 to each listener, so every instance in
        # 20-39 arrives four times and the rest twice, on both processes at the same moment.
        parts = [files[:40], files[20:], files[20:], files[:40]]
        results: list[subprocess.CompletedProcess] = []

        def push(port, paths):
            results.append(subprocess.run(
                ["storescu", "-aet", "MODALITY", "-aec", AE_TITLE, "127.0.0.1", str(port), *map(str, paths)],
                capture_output=True, text=True, env=dcmtk_env(), timeout=300))

        threads = [threading.Thread(target=push, args=(ports[i % 2], part)) for i, part in enumerate(parts)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # storescu exits 0 only when every C-STORE was acknowledged with success.
        for result in results:
            assert result.returncode == 0, result.stdout + result.stderr
        wait_for(lambda: _instances(distributed)[1] == 60, 120, "the pushed instances in the store")
    finally:
        codes = [stop_process(process) for process, _, _ in listeners]
    assert codes == [0, 0], [err.text() for _, _, err in listeners]
    received = sum(int(out.text().split(" instances received")[0].split()[-1]) for _, out, _ in listeners
                   if " instances received" in out.text())
    assert received == 160                                           # every acknowledged push counted
    assert _instances(distributed) == (60, 60, 60)                   # each stored exactly once
    assert run(distributed, "verify").returncode == 0


def test_a_replica_long_lived_store_connection_sees_another_process_import(distributed, tmp_path):
    """The dashboard (``dashboard.data._connection``, kept 600 s) and the portal (``Portal._con``, kept
    for its life) hold one read-only store connection and open a cursor per query; their answers are
    cached for data.TTL (30 s) and CONTENTS_TTL (60 s). A replica sees another machine's import once
    that short cache expires only if the long-lived connection reads the newest snapshot."""
    write_ct_studies(tmp_path / "first", 20, per_series=10, seed=41)
    write_ct_studies(tmp_path / "second", 30, per_series=10, seed=42)
    assert run(distributed, "import", str(tmp_path / "first")).returncode == 0
    replica = Archive.load(home=str(tmp_path / "dashboard-node"), catalog=distributed.catalog_url,
                           lake=distributed.lake_url, vault=distributed.vault_url, state=distributed.state_url)
    con = replica.store(read_only=True)

    def count() -> int:
        cur = con.cursor()
        try:
            cur.execute(f"USE {LAKE}")
            return cur.execute("SELECT count(*) FROM instances").fetchone()[0]
        finally:
            cur.close()

    try:
        assert count() == 20
        other = run(distributed, "import", str(tmp_path / "second"), "--json", root=tmp_path / "worker-node")
        assert json.loads(other.stdout)["imported"] == 30, other.stderr
        assert count() == 50
    finally:
        con.close()
