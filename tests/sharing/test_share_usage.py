"""The managers' share-link usage report, on links with known times."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from archive import sharing
from archive.home import Home
from archive.sharing import usage as share_usage
from archive.sharing.links import Scope


def test_usage_by_site_and_month(tmp_path, state_url):
    home = Home(tmp_path / "home", state_url=state_url)
    north, south = Scope("pk1", ("1.1",), "NORTH"), Scope("pk2", ("2.1",), "SOUTH")

    def link(scope, when, days=30):
        return sharing.issue(home, scope, recipient_name="R", created_by="clerk", days=days, now=when)

    jan = datetime(2026, 1, 5, 9)
    a = link(north, jan)                                   # opened after 3 h, downloaded twice
    sharing.verify(home, a.token, a.passcode, now=jan + timedelta(hours=3))
    sharing.count_download(home, a.link.link_id)
    sharing.count_download(home, a.link.link_id)
    b = link(north, jan + timedelta(days=1))               # opened after 9 h
    sharing.verify(home, b.token, b.passcode, now=jan + timedelta(days=1, hours=9))
    c = link(north, jan + timedelta(days=2), days=3)       # never opened, expired
    d = link(north, jan + timedelta(days=3))               # revoked, never opened
    sharing.revoke(home, d.link.link_id, by="clerk")
    e = link(south, datetime(2026, 2, 1, 8))               # another site and month
    frame = share_usage.report(home, now=datetime(2026, 1, 20))   # c has expired, d not yet
    months = list(frame[["month", "site"]].itertuples(index=False, name=None))
    assert months == [("2026-02", "SOUTH"), ("2026-01", "NORTH")]
    jan_north = frame.iloc[1]
    assert (jan_north.issued, jan_north.opened, jan_north.never_opened, jan_north.downloads,
            jan_north.links_downloaded, jan_north.revoked, jan_north.expired_unopened) == (4, 2, 2, 2, 1, 1, 1)
    assert jan_north.median_hours_to_first_open == 6.0 and jan_north.open_rate == 0.5
    assert share_usage.totals(frame)["issued"] == 5
    assert len(share_usage.report(home, date_from=date(2026, 2, 1), now=datetime(2026, 3, 1))) == 1
    assert share_usage.report(home, sites=("WEST",)).empty
    assert share_usage.report(Home(tmp_path / "empty")).empty
    del c, e
