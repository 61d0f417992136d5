"""Transfers left 'running' by a send that died are marked 'interrupted' (issue 17): told apart
from live sends by the process recorded with the row (pid, host, process start)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from contextlib import closing

from archive import state
from archive.home import Home
from archive.network.send import mark_interrupted, transfers


def _row(home: Home, detail: str | None) -> int:
    with closing(state.connect(home)) as con:
        cur = con.execute("INSERT INTO transfers (study_instance_uid, node, destination, requested_at, status, "
                          "detail) VALUES ('1.2.3', 'n', 'AE@h:1', '2026-12-07T00:00:00', 'running', ?) "
                          "RETURNING transfer_id", [detail])
        return int(cur.fetchone()[0])


def test_dead_sends_are_marked_interrupted_live_and_foreign_ones_are_not(tmp_path):
    from archive.network.send import _process_start

    home = Home(tmp_path / "home")
    host = socket.gethostname()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    gone_pid = int(gone.stdout)
    mine = os.getpid()
    rows = {
        "dead": _row(home, f"sending: pid {gone_pid} on {host} started x:1"),
        "pid reused": _row(home, f"sending: pid {mine} on {host} started x:1"),
        "alive": _row(home, f"sending: pid {mine} on {host} started {_process_start(mine)}"),
        "other host": _row(home, f"sending: pid {gone_pid} on not-{host} started x:1"),
        "no owner": _row(home, None),
    }
    assert mark_interrupted(home) == 2
    status = {r["transfer_id"]: r["status"] for r in transfers(home)}
    assert {name: status[i] for name, i in rows.items()} == {
        "dead": "interrupted", "pid reused": "interrupted", "alive": "running",
        "other host": "running", "no owner": "running"}
    assert mark_interrupted(home) == 0
