"""``limestone migrate-home``: an embedded home into PostgreSQL + S3 and back, verified by counts and verify."""

from __future__ import annotations

import json

import pytest

from archive.home import Home
from archive.store.connection import connect
from tests.support.samples import write_ct_studies
from tests.support.workers import limestone

pytestmark = pytest.mark.integration

EMBEDDED = {"LIMESTONE_CATALOG": "", "LIMESTONE_LAKE": "", "LIMESTONE_VAULT": "", "LIMESTONE_STATE": ""}


def stats(distributed, root, env=None) -> dict:
    result = limestone(distributed, "stats", "--json", root=root, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_embedded_home_to_distributed_and_back(distributed, tmp_path):
    first, second = tmp_path / "laptop", tmp_path / "restored"
    write_ct_studies(tmp_path / "ct", 45, per_series=15, seed=51)
    imported = limestone(distributed, "import", str(tmp_path / "ct"), "--json", root=first, env=EMBEDDED)
    assert imported.returncode == 0, imported.stderr
    before = stats(distributed, first, EMBEDDED)
    assert before["instances"] == 45 and before["backends"]["catalog"] == "sqlite"
    # State too: a share link (and its audit event) made on the laptop.
    study = json.loads(limestone(distributed, "sites", "list", "--json", root=first, env=EMBEDDED).stdout)
    assert study["no_site_studies"] == 3
    con = connect(Home(first), read_only=True)
    try:
        uid = con.execute("SELECT min(study_instance_uid) FROM studies").fetchone()[0]
    finally:
        con.close()
    shared = limestone(distributed, "share", "create", "--study", uid, "--json", root=first, env=EMBEDDED)
    assert shared.returncode == 0, shared.stderr
    link_id = json.loads(shared.stdout)["link_id"]

    moved = limestone(distributed, "migrate-home", "--to-distributed", "--json", root=first)
    assert moved.returncode == 0, moved.stderr
    result = json.loads(moved.stdout)
    assert result["ok"] and result["tables"]["instances"] == 45 and result["vault_files"] == 45
    assert result["copied_files"] == 45 and result["mismatched"] == {}
    assert result["state"] == "moved to postgresql" and result["state_tables"]["share_links"] == 1
    after = stats(distributed, first)
    assert after["backends"] == {"catalog": "postgresql", "lake": "s3", "vault": "s3", "state": "postgresql"}
    listed = json.loads(limestone(distributed, "share", "list", "--json", root=tmp_path / "another-machine").stdout)
    assert [link["link_id"] for link in listed] == [link_id]
    assert {k: after[k] for k in ("patients", "studies", "series", "instances", "bytes")} == \
        {k: before[k] for k in ("patients", "studies", "series", "instances", "bytes")}
    assert limestone(distributed, "verify", root=first).returncode == 0
    # The distributed archive works: a new import lands there, nothing twice.
    write_ct_studies(tmp_path / "more", 5, per_series=5, seed=52)
    assert json.loads(limestone(distributed, "import", str(tmp_path / "more"), str(tmp_path / "ct"), "--json",
                                root=first).stdout)["imported"] == 5

    # Back: into a new machine's empty home; the old embedded copy is refused as a target.
    refused = limestone(distributed, "migrate-home", "--to-embedded", root=first)
    assert refused.returncode == 2 and "already holds" in refused.stderr
    back = limestone(distributed, "migrate-home", "--to-embedded", "--json", root=second)
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["tables"]["instances"] == 50
    assert json.loads(back.stdout)["state_tables"]["share_links"] == 1
    assert [link["link_id"] for link in json.loads(limestone(
        distributed, "share", "list", "--json", root=second, env=EMBEDDED).stdout)] == [link_id]
    returned = stats(distributed, second, EMBEDDED)
    assert returned["instances"] == 50 and returned["backends"]["vault"] == "folder"
    assert len(list((second / "vault").rglob("*.lsv"))) == 50
    check = limestone(distributed, "verify", "--json", root=second, env=EMBEDDED)
    assert check.returncode == 0 and json.loads(check.stdout)["ok"] == 50
    # The browse table and views came along: a study page's query works in the returned home.
    studies = limestone(distributed, "sites", "list", "--json", root=second, env=EMBEDDED)
    assert studies.returncode == 0 and json.loads(studies.stdout)["no_site_studies"] == returned["studies"]
