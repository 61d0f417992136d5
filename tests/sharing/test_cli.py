"""The real ``limestone share`` and ``limestone audit`` commands in a subprocess."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from archive import sharing
from pipelines.cli import main
from tests.support.cli import limestone


def test_share_create_revoke_and_audit_export(shared, tmp_path, capsys):
    home = shared.home
    created = limestone("share", "create", "--study", shared.studies["a_ct"], "--study", shared.studies["a_mixed"],
                        "--recipient", "Dr Example", "--role", "doctor", "--days", "7", "--use-limit", "3",
                        "--json", "--by", "desk1", home=home, env={"LIMESTONE_PORTAL_BASE_URL": "https://share.example.org"})
    assert created.returncode == 0, created.stderr
    link = json.loads(created.stdout)
    token = link["url"].rsplit("/", 1)[1]
    assert link["url"].startswith("https://share.example.org/s/lsl_") and sharing.looks_like_token(token)
    assert len(link["passcode"]) == 11 and link["use_limit"] == 3 and link["recipient_role"] == "doctor"
    assert "token" not in link and "secret_hash" not in link
    assert sharing.open_link(shared.archive().home, token).link_id == link["link_id"]

    # The rest in-process (each subprocess start costs seconds on a busy machine): same main().
    assert main(["--home", str(home), "share", "create", "--study", shared.studies["a_ct"],
                 "--study", shared.studies["b_ct"]]) == 2
    assert "one patient" in capsys.readouterr().err

    assert main(["--home", str(home), "share", "revoke", link["link_id"], "--by", "desk1"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert sharing.open_link(shared.archive().home, token) is None

    out = tmp_path / "audit.xml"
    assert main(["--home", str(home), "audit", "export", "--link", link["link_id"], "--out", str(out)]) == 0
    messages = ET.parse(out).getroot().findall("AuditMessage")
    codes = [(m.find("EventIdentification/EventID").get("csd-code"),
              m.find("EventIdentification").get("EventActionCode")) for m in messages]
    assert codes == [("110113", "C")] * 2 + [("110113", "D")] * 2       # share, then revoke, per study
    assert all(m.find("ActiveParticipant").get("UserID") == "cli:desk1" for m in messages)
    assert token.encode() not in out.read_bytes()
