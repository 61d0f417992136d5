"""The managers' figures of patients' own access, by site and month (no PHI).

``monthly`` counts, for each month and site: accounts invited (created), accounts enrolled,
accounts active (a sign-in or any action of the account, delegates included), shares made by
patients, and distinct studies viewed by patients (and their delegates). ``totals`` adds the
current figures: accounts invited, enrolled, active in the last ``ACTIVE_DAYS`` days, shares made
by patients, studies viewed by patients. The state database holds the accounts, shares and audit
trail; an account's site is the site of its invited record's studies, a view's site the study's,
both read from the store.
"""

from __future__ import annotations

from contextlib import closing
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from archive import state
from archive.clock import now_utc
from archive.home import Home

ACTIVE_DAYS = 90
NO_SITE = "(no site)"
COLUMNS = ["month", "site", "invited", "enrolled", "active", "shares_by_patients", "studies_viewed"]


def _state_rows(home: Home, sql: str, params: list | tuple = ()) -> list[dict[str, Any]]:
    with closing(state.connect(home)) as con:
        return [dict(r) for r in con.execute(sql, params)]


def _sites(con: Any, column: str, values: list[str]) -> dict[str, str]:
    """``patient_key`` or ``study_instance_uid`` -> its site (the store's ``studies``)."""
    if not values:
        return {}
    rows = con.execute(f"SELECT {column}, any_value(site) FROM studies WHERE list_contains(?, {column}) "
                       f"GROUP BY {column}", [sorted(set(values))]).fetchall()
    return {key: site for key, site in rows if site}


def events(home: Home, con: Any) -> pd.DataFrame:
    """One row per counted thing: (kind, at, site, key); kinds are the figures' names."""
    accounts = _state_rows(home, "SELECT account_id, patient_key, created_at, enrolled_at FROM patient_accounts")
    site_of_patient = _sites(con, "patient_key", [a["patient_key"] for a in accounts])
    site_of_account = {a["account_id"]: site_of_patient.get(a["patient_key"], NO_SITE) for a in accounts}
    rows: list[tuple[str, str | None, str, str]] = []
    for a in accounts:
        rows.append(("invited", a["created_at"], site_of_account[a["account_id"]], a["account_id"]))
        if a["enrolled_at"]:
            rows.append(("enrolled", a["enrolled_at"], site_of_account[a["account_id"]], a["account_id"]))
    acts = _state_rows(home, "SELECT account_id, occurred_at FROM audit_events WHERE account_id IS NOT NULL "
                             "AND source = 'portal' AND outcome = 'success'")
    rows += [("active", e["occurred_at"], site_of_account.get(e["account_id"], NO_SITE), e["account_id"])
             for e in acts]
    shares = _state_rows(home, "SELECT link_id, site, created_at FROM share_links WHERE created_by_kind = 'patient'")
    rows += [("shares_by_patients", s["created_at"], s["site"] or NO_SITE, s["link_id"]) for s in shares]
    views = _state_rows(home, "SELECT study_instance_uid, occurred_at FROM audit_events WHERE action = 'view' "
                              "AND account_id IS NOT NULL AND study_instance_uid IS NOT NULL AND outcome = 'success'")
    site_of_study = _sites(con, "study_instance_uid", [v["study_instance_uid"] for v in views])
    rows += [("studies_viewed", v["occurred_at"], site_of_study.get(v["study_instance_uid"], NO_SITE),
              v["study_instance_uid"]) for v in views]
    frame = pd.DataFrame(rows, columns=["kind", "at", "site", "key"])
    frame["at"] = pd.to_datetime(frame["at"], format="ISO8601")
    return frame


def monthly(frame: pd.DataFrame, sites: tuple[str, ...] = ()) -> pd.DataFrame:
    """Distinct accounts (shares, studies) per month and site and figure, newest month first."""
    if sites:
        frame = frame[frame["site"].isin(sites)]
    if frame.empty:
        return pd.DataFrame(columns=COLUMNS)
    frame = frame.assign(month=frame["at"].dt.strftime("%Y-%m"))
    table = (frame.groupby(["month", "site", "kind"])["key"].nunique().unstack("kind", fill_value=0)
             .reindex(columns=COLUMNS[2:], fill_value=0).reset_index())
    return table.sort_values(["month", "site"], ascending=[False, True])[COLUMNS].reset_index(drop=True)


def totals(frame: pd.DataFrame, sites: tuple[str, ...] = (), now: datetime | None = None) -> dict[str, int]:
    """The figures as of now: each a count of distinct accounts (shares, studies)."""
    if sites:
        frame = frame[frame["site"].isin(sites)]
    since = pd.Timestamp((now or now_utc()) - timedelta(days=ACTIVE_DAYS))

    def count(kind: str, recent: bool = False) -> int:
        part = frame[frame["kind"] == kind]
        return int(part[part["at"] >= since]["key"].nunique() if recent else part["key"].nunique())

    return {"invited": count("invited"), "enrolled": count("enrolled"), "active_90_days": count("active", True),
            "shares_by_patients": count("shares_by_patients"), "studies_viewed": count("studies_viewed")}
