"""The share portal's limits counted in the state (what portal replicas share), on both backends."""

from __future__ import annotations

from archive.home import Home
from portal.limits import OncePerWindow, RateLimit, SharedOncePerWindow, SharedRateLimit, portal_limits


def test_shared_rate_limit_counts_one_window_for_every_replica(tmp_path, state_url):
    clock = [1_000_000.0]
    one = SharedRateLimit(Home(tmp_path / "a", state_url=state_url), "attempts", 3, 60, clock=lambda: clock[0])
    # Another replica: its own home folder, the same state (SQLite: the same file stands in for it).
    other_home = Home(tmp_path / "a" if not state_url else tmp_path / "b", state_url=state_url)
    other = SharedRateLimit(other_home, "attempts", 3, 60, clock=lambda: clock[0])
    assert [one.allow("1.2.3.4"), other.allow("1.2.3.4"), one.allow("1.2.3.4")] == [True, True, True]
    assert not other.allow("1.2.3.4") and not one.allow("1.2.3.4")     # refused ones are not counted
    assert other.allow("5.6.7.8")                                      # per address
    assert SharedRateLimit(other_home, "requests", 3, 60, clock=lambda: clock[0]).allow("1.2.3.4")  # per kind
    clock[0] += 61
    assert [other.allow("1.2.3.4") for _ in range(4)] == [True, True, True, False]   # a new window


def test_shared_refusal_thinning_holds_back_and_reports_the_count(tmp_path, state_url):
    clock = [2_000_000.0]
    home = Home(tmp_path, state_url=state_url)
    a, b = (SharedOncePerWindow(home, 60, clock=lambda: clock[0]) for _ in range(2))
    assert a.pass_("L1|ip") == 0
    assert [b.pass_("L1|ip"), a.pass_("L1|ip"), b.pass_("L1|ip")] == [None, None, None]
    assert a.pass_("L2|ip") == 0
    clock[0] += 61
    assert b.pass_("L1|ip") == 3 and a.pass_("L1|ip") is None
    clock[0] += 61
    assert a.pass_("L1|ip") == 1


def test_limits_are_shared_only_when_the_state_is(tmp_path, state_url):
    requests, attempts, refusals = portal_limits(Home(tmp_path, state_url=state_url), 600, 10)
    if state_url:
        assert isinstance(requests, SharedRateLimit) and isinstance(refusals, SharedOncePerWindow)
    else:    # the embedded portal keeps them in memory, as before
        assert isinstance(attempts, RateLimit) and isinstance(refusals, OncePerWindow)
