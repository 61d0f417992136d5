"""Prior uses found in the state database (audit trail, transfer log), copied into the store.

``record_prior_use`` is called where a use happens (a comparison opened, a study sent). Uses that
happened before those calls existed, calls that failed on a busy store, and uses the audit trail
alone records (share links created and opened, PDI media exported) are copied into
``prior_use_events`` by ``copy_into_store(con, home)``, which every update of the repeat metrics
runs (``archive.repeats.update``). Each source row maps to one prior-use event id, the same one the
live call writes where there is one, so no use is counted twice and a rerun adds nothing:

=============================================================  ==========  ==========================
source row (state database)                                     kind        event id
=============================================================  ==========  ==========================
audit ``view`` of a prior in a comparison (detail               compared    ``compare:<id>:<study>``
``comparison <id>: prior``); site: the current study's site                 (as archive/comparison/record.py)
``transfers`` row with images sent to a node of a site;         retrieved   ``transfer:<transfer_id>``
site: the node's site                                                       (as archive/network/send.py)
audit ``share`` (link created) or ``open`` (opened in the       shared      ``audit:<event_id>``
portal)
audit ``export`` of PDI media (not a send to a node, not a      exported    ``audit:<event_id>``
de-identified research export)
=============================================================  ==========  ==========================

Only successful events naming a study count. The site of a share or an export is not known
(the metrics show it as ``(unknown)``).
"""

from __future__ import annotations

import re
from contextlib import closing
from datetime import datetime

import duckdb
import pyarrow as pa

from archive import state
from archive.clock import now_utc
from archive.home import Home
from archive.store.connection import retrying, rollback, scalar

_AUDIT = """
SELECT event_id, occurred_at, action, user_id, study_instance_uid, detail
FROM audit_events
WHERE outcome = 'success' AND study_instance_uid IS NOT NULL AND (
    (action = 'view' AND detail LIKE 'comparison %')
    OR action IN ('share', 'open')
    OR (action = 'export' AND coalesce(source, '') <> 'deid'
        AND coalesce(detail, '') NOT LIKE 'sent to node %'))
ORDER BY event_id
"""
_TRANSFERS = """
SELECT t.transfer_id, coalesce(t.finished_at, t.requested_at), t.user_id, t.study_instance_uid, n.site
FROM transfers t JOIN nodes n ON n.name = t.node
WHERE t.sent > 0 AND n.site IS NOT NULL AND n.site <> ''
"""
_COMPARISON = re.compile(r"comparison (\w+): (prior|current)")
_KINDS = {"share": "shared", "open": "shared", "export": "exported"}
_SCHEMA = pa.schema([("event_id", pa.string()), ("study_instance_uid", pa.string()), ("kind", pa.string()),
                     ("site", pa.string()), ("used_at", pa.timestamp("us")), ("user_id", pa.string()),
                     ("current_uid", pa.string())])


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=None)


def derived_uses(home: Home) -> pa.Table:
    """Every prior use the state database shows, one row per event id (see the module doc).

    ``site`` is None for comparisons: it is the site of ``current_uid``, found in the store.
    """
    with closing(state.connect(home)) as con:
        audit_rows = con.execute(_AUDIT).fetchall()
        transfers = con.execute(_TRANSFERS).fetchall()
    rows: dict[str, dict] = {}
    compared: dict[str, str] = {}        # event id -> comparison id
    currents: dict[str, str] = {}        # comparison id -> the current study
    for event_id, occurred_at, action, user_id, study, detail in audit_rows:
        kind, key = _KINDS.get(action), f"audit:{event_id}"
        if action == "view":
            match = _COMPARISON.match(detail or "")
            if match is None:
                continue
            if match.group(2) == "current":
                currents[match.group(1)] = study
                continue
            kind, key = "compared", f"compare:{match.group(1)}:{study}"
            compared[key] = match.group(1)
        # The same comparison opened again in a session is one use, at its first opening.
        rows.setdefault(key, dict(event_id=key, study_instance_uid=study, kind=kind, site=None,
                                  used_at=_when(occurred_at), user_id=user_id, current_uid=None))
    for key, comparison in compared.items():
        rows[key]["current_uid"] = currents.get(comparison)
    for transfer_id, finished_at, user_id, study, site in transfers:
        key = f"transfer:{transfer_id}"
        rows[key] = dict(event_id=key, study_instance_uid=study, kind="retrieved", site=site,
                         used_at=_when(finished_at), user_id=user_id, current_uid=None)
    return pa.Table.from_pylist(list(rows.values()), schema=_SCHEMA)


def pending_count(con: duckdb.DuckDBPyConnection, home: Home) -> int:
    """How many prior uses the state database shows that ``prior_use_events`` does not hold yet."""
    uses = derived_uses(home)
    if not uses.num_rows:
        return 0
    known = {r[0] for r in con.execute("SELECT event_id FROM prior_use_events WHERE event_id IN "
                                       "(SELECT unnest(?))", [uses["event_id"].to_pylist()]).fetchall()}
    return sum(1 for event_id in uses["event_id"].to_pylist() if event_id not in known)


def copy_into_store(con: duckdb.DuckDBPyConnection, home: Home) -> int:
    """Add the uses of ``derived_uses`` not yet in ``prior_use_events``; return how many were added."""
    uses = derived_uses(home)
    if not uses.num_rows:
        return 0
    now = now_utc()

    def once() -> int:
        con.execute("BEGIN")
        try:
            con.register("derived_uses", uses)
            con.execute(
                "CREATE OR REPLACE TEMP TABLE new_uses AS "
                "SELECT u.event_id, u.study_instance_uid, u.kind, coalesce(u.site, s.site) AS site, "
                "u.used_at, u.user_id FROM derived_uses u "
                "LEFT JOIN studies s ON s.study_instance_uid = u.current_uid "
                "WHERE u.event_id NOT IN (SELECT event_id FROM prior_use_events)")
            added = scalar(con, "SELECT count(*) FROM temp.new_uses")
            if added:
                con.execute("INSERT INTO prior_use_events SELECT *, ? FROM temp.new_uses", [now])
            con.execute("DROP TABLE temp.new_uses")
            con.execute("COMMIT")
            return added
        except Exception:
            rollback(con)
            raise
        finally:
            con.unregister("derived_uses")
    return retrying(once)
