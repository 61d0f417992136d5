"""Which window an incremental pull asks a node for."""

from __future__ import annotations

import argparse
from datetime import date

import pytest

from archive.network.nodes import Node, NodeRegistry
from archive.network.pull import Puller, PullRequest
from pipelines.pull import parse_date


@pytest.fixture
def puller(archive):
    registry = NodeRegistry(archive.home)
    node = registry.add(Node("n", "AE", "127.0.0.1", 104))
    yield Puller(archive, node, registry)
    registry.close()


def test_first_run_asks_for_everything_then_from_the_last_good_window(puller):
    selection, advances = puller.window(PullRequest())
    assert (selection.since, selection.until, advances) == (None, None, True)
    puller.registry.record_run("n", "retrieve", None, date(2024, 5, 10), "ok")
    selection, advances = puller.window(PullRequest())
    assert selection.since == date(2024, 5, 9) and advances  # one day of overlap by default
    assert puller.window(PullRequest(metadata_only=True))[0].since is None  # each mode keeps its own window


def test_explicit_or_filtered_runs(puller):
    puller.registry.record_run("n", "retrieve", None, date(2024, 5, 10), "ok")
    selection, advances = puller.window(PullRequest(since=date(2020, 1, 1)))
    assert selection.since == date(2020, 1, 1) and advances
    selection, advances = puller.window(PullRequest(modality="CT"))
    assert selection.since is None and selection.modality == "CT" and not advances
    with pytest.raises(ValueError):
        puller.window(PullRequest(since=date(2024, 2, 1), until=date(2024, 1, 1)))


def test_dates_on_the_command_line():
    assert parse_date("2024-03-05") == parse_date("20240305") == date(2024, 3, 5)
    with pytest.raises(argparse.ArgumentTypeError, match="not a date"):
        parse_date("05/03/2024")
