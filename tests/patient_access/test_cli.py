"""``limestone patients invite`` as a clerk types it: JSON, the letter, and plain refusals."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import limestone as run_cli
from tests.support.patient_world import P_NORTH, Q_NORTH

pytestmark = pytest.mark.integration


def test_invite_prints_json_writes_the_letter_and_refuses_unknown_patients(world, tmp_path):
    letter = tmp_path / "letter.html"
    done = run_cli("--home", str(world.home), "patients", "invite", "--patient-id", Q_NORTH, "--issuer", "NORTH",
                   "--email", "cli.fake@example.org", "--no-email", "--letter", str(letter), "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert set(out) == {"account_id", "invitation_id", "status", "url", "expires_at", "emailed", "letter"}
    assert "/me/enrol/lpi_" in out["url"] and out["emailed"] is False
    text = letter.read_text()
    assert out["url"] in text and "<svg" in text and Q_NORTH not in text and "FAKE^OTHER" not in text
    # English first (the clerk's language), then French from the catalogue, each marked with its lang
    assert text.index('<section lang="en">') < text.index('<section lang="fr">')
    assert "Your images and reports, online" in text and "Vos images et vos rapports, en ligne" in text
    unknown = run_cli("--home", str(world.home), "patients", "invite", "--patient-id", "FAKE-NOBODY",
                      "--email", "x.fake@example.org")
    assert unknown.returncode == 2 and "no patient" in unknown.stderr
    wrong_issuer = run_cli("--home", str(world.home), "patients", "invite", "--patient-id", P_NORTH,
                           "--issuer", "SOUTH", "--email", "x.fake@example.org")
    assert wrong_issuer.returncode == 2
    bad_mail = run_cli("--home", str(world.home), "patients", "invite", "--patient-id", P_NORTH,
                       "--email", "not-an-address")
    assert bad_mail.returncode == 2 and "e-mail" in bad_mail.stderr
