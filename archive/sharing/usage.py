"""The managers' usage report of share links: issued, opened, downloaded, never opened, time to
first open and revoked, by site and month of issue (from the state database; no PHI).

``uptake`` adds what the quality team asks (notebook 04): the uptake rate (opened / issued),
failed passcode attempts and lockouts of those links (from the audit trail, where the portal records
each ``passcode_failed`` and ``lockout`` with the link's id; a link's own counter is reset by a
right answer, so it cannot say how many failed)."""

from __future__ import annotations

from contextlib import closing
from datetime import date, datetime, timedelta

import pandas as pd

from archive import state
from archive.clock import now_utc
from archive.home import Home

COLUMNS = ["month", "site", "issued", "by_patients", "opened", "never_opened", "open_rate", "downloads",
           "links_downloaded", "median_hours_to_first_open", "revoked", "expired_unopened"]


def links_frame(home: Home, date_from: date | None = None, date_to: date | None = None) -> pd.DataFrame:
    """One row per link (issue time, site, first open, downloads, revocation, expiry)."""
    where, params = [], []
    if date_from:
        where.append("created_at >= ?")
        params.append(date_from.isoformat())
    if date_to:
        where.append("created_at < ?")
        params.append((date_to + timedelta(days=1)).isoformat())
    sql = ("SELECT link_id, site, recipient_role, created_at, expires_at, first_opened_at, downloads, "
           "revoked_at, created_by_kind FROM share_links" + (" WHERE " + " AND ".join(where) if where else ""))
    with closing(state.connect(home)) as con:
        rows = [dict(r) for r in con.execute(sql, params)]
    frame = pd.DataFrame(rows, columns=["link_id", "site", "recipient_role", "created_at", "expires_at",
                                        "first_opened_at", "downloads", "revoked_at", "created_by_kind"])
    for column in ("created_at", "expires_at", "first_opened_at", "revoked_at"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def report(home: Home, date_from: date | None = None, date_to: date | None = None,
           sites: tuple[str, ...] = (), now: datetime | None = None) -> pd.DataFrame:
    """The report, one row per month of issue and site (newest month first)."""
    links = links_frame(home, date_from, date_to)
    if sites:
        links = links[links["site"].fillna("(no site)").isin(sites)]
    if links.empty:
        return pd.DataFrame(columns=COLUMNS)
    now = pd.Timestamp(now or now_utc())
    links = links.assign(
        month=links["created_at"].dt.strftime("%Y-%m"), site=links["site"].fillna("(no site)"),
        opened=links["first_opened_at"].notna(),
        hours=(links["first_opened_at"] - links["created_at"]).dt.total_seconds() / 3600,
        downloaded=links["downloads"] > 0, revoked=links["revoked_at"].notna(),
        by_patient=links["created_by_kind"] == "patient")
    links["expired_unopened"] = ~links["opened"] & (links["expires_at"] <= now)
    grouped = links.groupby(["month", "site"], sort=True)
    out = grouped.agg(issued=("link_id", "count"), by_patients=("by_patient", "sum"),
                      opened=("opened", "sum"), downloads=("downloads", "sum"),
                      links_downloaded=("downloaded", "sum"), median_hours_to_first_open=("hours", "median"),
                      revoked=("revoked", "sum"), expired_unopened=("expired_unopened", "sum")).reset_index()
    out["never_opened"] = out["issued"] - out["opened"]
    out["open_rate"] = (out["opened"] / out["issued"]).round(3)
    out["median_hours_to_first_open"] = out["median_hours_to_first_open"].round(1)
    for column in ("issued", "by_patients", "opened", "never_opened", "downloads", "links_downloaded", "revoked",
                   "expired_unopened"):
        out[column] = out[column].astype(int)
    return out[COLUMNS].sort_values(["month", "site"], ascending=[False, True]).reset_index(drop=True)


def totals(frame: pd.DataFrame) -> dict[str, float | int | None]:
    """Headline numbers over a report frame."""
    if frame.empty:
        return {"issued": 0, "opened": 0, "never_opened": 0, "downloads": 0, "revoked": 0, "open_rate": None}
    issued = int(frame["issued"].sum())
    return {"issued": issued, "opened": int(frame["opened"].sum()), "never_opened": int(frame["never_opened"].sum()),
            "downloads": int(frame["downloads"].sum()), "revoked": int(frame["revoked"].sum()),
            "open_rate": round(float(frame["opened"].sum()) / issued, 3) if issued else None}


UPTAKE_COLUMNS = COLUMNS + ["failed_passcodes", "lockouts"]


def _passcode_events(home: Home) -> pd.DataFrame:
    with closing(state.connect(home)) as con:
        rows = con.execute("SELECT DISTINCT link_id, action, occurred_at FROM audit_events "
                           "WHERE action IN ('passcode_failed', 'lockout') AND link_id IS NOT NULL").fetchall()
    return pd.DataFrame(rows, columns=["link_id", "action", "occurred_at"])


def uptake(home: Home, date_from: date | None = None, date_to: date | None = None,
           now: datetime | None = None) -> pd.DataFrame:
    """``report`` plus failed passcode attempts and lockouts per month of issue and site
    (``UPTAKE_COLUMNS``); empty when no link was issued."""
    base = report(home, date_from, date_to, now=now)
    if base.empty:
        return pd.DataFrame(columns=UPTAKE_COLUMNS)
    links = links_frame(home, date_from, date_to)
    links = links.assign(month=links["created_at"].dt.strftime("%Y-%m"), site=links["site"].fillna("(no site)"))
    events = _passcode_events(home).merge(links[["link_id", "month", "site"]], on="link_id")
    counts = (events.groupby(["month", "site", "action"]).size().unstack("action", fill_value=0)
              .reindex(columns=["passcode_failed", "lockout"], fill_value=0).reset_index()
              .rename(columns={"passcode_failed": "failed_passcodes", "lockout": "lockouts"}))
    out = base.merge(counts, on=["month", "site"], how="left")
    for column in ("failed_passcodes", "lockouts"):
        out[column] = out[column].fillna(0).astype(int)
    return out[UPTAKE_COLUMNS]
