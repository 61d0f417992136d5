"""When this home was last backed up and its keys escrowed (kept in the state database)."""

from __future__ import annotations

import json
from contextlib import closing
from typing import Any

from archive import state
from archive.home import Home


def record_backup(home: Home, target: str, summary: dict[str, Any]) -> None:
    with closing(state.connect(home)) as con:
        con.execute("INSERT INTO backup_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (backup_id) DO UPDATE "
                    "SET target = excluded.target, started_at = excluded.started_at, "
                    "finished_at = excluded.finished_at, files = excluded.files, bytes = excluded.bytes, "
                    "copied_files = excluded.copied_files, copied_bytes = excluded.copied_bytes",
                    [summary["id"], target, summary["started_at"], summary["finished_at"],
                     summary["files"], summary["bytes"], summary["copied_files"], summary["copied_bytes"]])


def record_escrow(home: Home, escrow_id: str, made_at: str, key_ids: list[str],
                  current_key_id: str | None, split: str | None) -> None:
    with closing(state.connect(home)) as con:
        con.execute("INSERT INTO key_escrows VALUES (?, ?, ?, ?, ?) ON CONFLICT (escrow_id) DO UPDATE "
                    "SET made_at = excluded.made_at, key_ids = excluded.key_ids, "
                    "current_key_id = excluded.current_key_id, split = excluded.split",
                    [escrow_id, made_at, json.dumps(key_ids), current_key_id, split])


def protection(home: Home, current_key_id: str | None) -> dict[str, Any]:
    """The last backup and escrow of this home, and whether a new escrow is due (the current key,
    e.g. after a rotation, is in no escrow yet). Nothing is created for a home without state."""
    result: dict[str, Any] = {"last_backup": None, "last_escrow": None,
                              "escrow_due": current_key_id is not None}
    if not state.exists(home):
        return result
    with closing(state.connect(home)) as con:
        row = con.execute("SELECT backup_id, target, finished_at, files, bytes, copied_files, copied_bytes "
                          "FROM backup_runs ORDER BY finished_at DESC LIMIT 1").fetchone()
        if row:
            result["last_backup"] = dict(zip(("id", "target", "at", "files", "bytes", "copied_files",
                                              "copied_bytes"), row, strict=True))
        row = con.execute("SELECT escrow_id, made_at, key_ids, current_key_id, split FROM key_escrows "
                          "ORDER BY made_at DESC LIMIT 1").fetchone()
        escrowed: set[str] = set()
        for (ids,) in con.execute("SELECT key_ids FROM key_escrows"):
            escrowed.update(json.loads(ids))
    if row:
        result["last_escrow"] = {"id": row[0], "at": row[1], "key_ids": json.loads(row[2]),
                                 "current_key_id": row[3], "split": row[4]}
    result["escrow_due"] = current_key_id is not None and current_key_id not in escrowed
    return result
