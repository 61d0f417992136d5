"""Nodes and per-node pull progress in the state database."""

from __future__ import annotations

from datetime import date

import pytest

from archive.home import Home
from archive.network.nodes import Node, NodeError, NodeRegistry


@pytest.fixture
def registry(tmp_path, state_url):
    with NodeRegistry(Home(tmp_path, state_url=state_url)) as reg:
        yield reg


def test_node_validation():
    node = Node("north-pacs", " NORTHPACS ", "10.0.0.5", 104, "NORTH", "move", 4)
    assert node.ae_title == "NORTHPACS" and node.retrieve_method == "move"
    assert node.address == "north-pacs (NORTHPACS@10.0.0.5:104)"
    for bad in (dict(name="bad name"), dict(ae_title="A" * 17), dict(ae_title="A\\B"), dict(host=""),
                dict(port=0), dict(port=70000), dict(retrieve_method="ftp"), dict(max_associations=0)):
        fields = dict(name="n", ae_title="AE", host="h", port=104) | bad
        with pytest.raises(NodeError):
            Node(**fields)


def test_add_list_replace_remove(registry):
    registry.add(Node("b", "BAE", "hb", 105))
    registry.add(Node("a", "AAE", "ha", 104, site="NORTH"))
    assert [n.name for n in registry.list()] == ["a", "b"]
    with pytest.raises(NodeError, match="already exists"):
        registry.add(Node("a", "X", "h", 1))
    registry.add(Node("a", "X", "h", 1), replace=True)
    assert registry.get("a").ae_title == "X"
    registry.remove("a")
    with pytest.raises(NodeError, match="no node named 'a' \\(known: b"):
        registry.get("a")


def test_study_progress_and_failures(registry):
    registry.add(Node("n", "AE", "h", 104))
    registry.record_studies("n", [("1.2.1", date(2024, 1, 1), 10, "found", None),
                                  ("1.2.2", date(2024, 1, 2), 5, "complete", None)])
    registry.record_studies("n", [("1.2.1", None, None, "partial", "3 of 10 failed")], count_attempt=True)
    assert registry.study_status("n") == {"1.2.1": "partial", "1.2.2": "complete"}
    assert registry.unfinished_studies("n") == ["1.2.1"]
    row = registry.con.execute("SELECT study_date, remote_instances, attempts, last_error FROM node_studies "
                               "WHERE study_instance_uid = '1.2.1'").fetchone()
    assert row == ("2024-01-01", 10, 1, "3 of 10 failed")
    registry.record_instance_failures("n", "1.2.1", [("1.2.1.9", "0xC000 unable to process")])
    assert registry.instance_failures("n") == [("1.2.1", "1.2.1.9", "0xC000 unable to process")]
    registry.clear_instance_failures("n", "1.2.1")
    assert registry.instance_failures("n") == []
    registry.remove("n")
    assert registry.con.execute("SELECT count(*) FROM node_studies").fetchone()[0] == 0


def test_only_a_good_run_moves_the_window(registry):
    registry.add(Node("n", "AE", "h", 104))
    assert registry.last_window("n", "retrieve") == (None, None)
    registry.record_run("n", "retrieve", None, date(2024, 3, 1), "failed")
    assert registry.last_window("n", "retrieve") == (None, None)
    registry.record_run("n", "retrieve", None, date(2024, 3, 1), "ok")
    registry.record_run("n", "retrieve", date(2024, 2, 29), date(2024, 3, 2), "failed")
    assert registry.last_window("n", "retrieve") == (None, date(2024, 3, 1))
    assert registry.last_window("n", "metadata") == (None, None)
    registry.record_run("n", "retrieve", date(2020, 1, 1), date(2020, 12, 31), "ok")  # a backfill
    assert registry.last_window("n", "retrieve")[1] == date(2024, 3, 1)
