"""Key escrow: every master key sealed under a passphrase (optionally split k of n), recovered into
a home; a wrong passphrase, a missing share or a tampered file is a plain error and writes nothing."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from archive.escrow import EscrowError, checksum, open_escrow
from tests.backup.conftest import PASSPHRASE
from tests.support.peers import ROOT, Limestone

ENV = {"LIMESTONE_ESCROW_PASSPHRASE": PASSPHRASE}


@pytest.fixture
def keyed(tmp_path, ct_folder) -> Limestone:
    """A home with a few images and two master keys (one retired by a rotation)."""
    limestone = Limestone(tmp_path / "home", env=ENV)
    assert limestone("import", str(ct_folder)).returncode == 0
    rotated = limestone("keys", "rotate")
    assert rotated.returncode == 0
    assert "new key escrow is due" in rotated.stdout
    return limestone


def _keys(home: Path) -> dict[str, bytes]:
    """The key files and the current key id (not derived files such as a key's check value)."""
    if not (home / "keys").exists():
        return {}
    return {p.name: p.read_bytes() for p in (home / "keys").iterdir() if p.suffix == ".key" or p.name == "current"}


def test_escrow_then_recover_every_key_into_an_empty_home(keyed, tmp_path):
    stats = json.loads(keyed("stats", "--json").stdout)
    assert stats["escrow_due"] is True and stats["last_escrow"] is None
    out = tmp_path / "safe" / "escrow.json"
    out.parent.mkdir()
    made = keyed("keys", "escrow", "--out", str(out))
    assert made.returncode == 0, made.stderr
    assert out.exists() and (out.parent / "escrow.json.sheet.txt").exists()
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    stats = json.loads(keyed("stats", "--json").stdout)
    assert stats["escrow_due"] is False and stats["last_escrow"]["key_ids"] == sorted(
        p.stem for p in (keyed.home / "keys").glob("*.key"))
    text = out.read_text()
    for name, secret in _keys(keyed.home).items():     # the keys are sealed, not copied
        if name.endswith(".key"):
            assert secret.strip().decode() not in text
            assert base64.b64decode(secret) not in out.read_bytes()

    for source in (out, out.parent / "escrow.json.sheet.txt"):   # the file, or the printed sheet
        fresh = Limestone(tmp_path / f"fresh-{source.name}", env=ENV)
        recovered = fresh("keys", "recover", str(source))
        assert recovered.returncode == 0, recovered.stderr
        assert _keys(fresh.home) == _keys(keyed.home)
        assert fresh("keys", "recover", str(source)).returncode == 0    # again: nothing changes
        assert _keys(fresh.home) == _keys(keyed.home)


def test_wrong_passphrase_tampering_and_no_passphrase_write_nothing(keyed, tmp_path):
    out = tmp_path / "escrow.json"
    assert keyed("keys", "escrow", "--out", str(out)).returncode == 0
    assert keyed("keys", "escrow", "--out", str(out)).returncode == 2     # never overwritten
    fresh = Limestone(tmp_path / "fresh")

    wrong = fresh("keys", "recover", str(out), env={"LIMESTONE_ESCROW_PASSPHRASE": "not the passphrase"})
    assert wrong.returncode == 2 and "wrong passphrase" in wrong.stderr and "Traceback" not in wrong.stderr

    document = json.loads(out.read_text())
    edited = dict(document, current_key_id="mk-000000000000")           # a naive edit
    (tmp_path / "edited.json").write_text(json.dumps(edited))
    result = fresh("keys", "recover", str(tmp_path / "edited.json"), env=ENV)
    assert result.returncode == 2 and "altered" in result.stderr

    forged = dict(document)                       # an edit that also recomputes the checksum
    cipher = bytearray(base64.b64decode(forged["ciphertext"]))
    cipher[5] ^= 1
    forged["ciphertext"] = base64.b64encode(bytes(cipher)).decode()
    forged["checksum"] = checksum(forged)        # anyone can recompute the unkeyed checksum
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    result = fresh("keys", "recover", str(tmp_path / "forged.json"), env=ENV)
    assert result.returncode == 2 and "altered" in result.stderr

    result = fresh("keys", "recover", str(out), env={"LIMESTONE_ESCROW_PASSPHRASE": ""})
    assert result.returncode == 2 and "LIMESTONE_ESCROW_PASSPHRASE" in result.stderr
    assert not (fresh.home / "keys").exists()

    # A home that holds another key under the same id: refused, nothing changed.
    key_id = document["key_ids"][0]
    (fresh.home / "keys").mkdir(parents=True)
    (fresh.home / "keys" / f"{key_id}.key").write_text(base64.b64encode(b"x" * 32).decode())
    result = fresh("keys", "recover", str(out), env=ENV)
    assert result.returncode == 2 and "different master key" in result.stderr
    assert sorted(p.name for p in (fresh.home / "keys").iterdir()) == [f"{key_id}.key"]


def test_a_split_escrow_needs_k_shares_and_the_passphrase(keyed, tmp_path):
    out = tmp_path / "escrow.json"
    made = keyed("keys", "escrow", "--out", str(out), "--shares", "3", "--threshold", "2")
    assert made.returncode == 0, made.stderr
    shares = [tmp_path / f"escrow.json.share-{i}-of-3.txt" for i in (1, 2, 3)]
    assert all(s.exists() for s in shares)
    assert len(shares[0].read_text().split("\nWORDS:")[1].split()) == 33

    fresh = Limestone(tmp_path / "fresh", env=ENV)
    one = fresh("keys", "recover", str(out), str(shares[1]))
    assert one.returncode == 2 and "needs 2" in one.stderr and not (fresh.home / "keys").exists()
    wrong = fresh("keys", "recover", str(out), str(shares[0]), str(shares[2]),
                  env={"LIMESTONE_ESCROW_PASSPHRASE": "another passphrase"})
    assert wrong.returncode == 2 and not (fresh.home / "keys").exists()

    other = tmp_path / "other.json"
    assert keyed("keys", "escrow", "--out", str(other), "--shares", "3", "--threshold", "2").returncode == 0
    mixed = fresh("keys", "recover", str(out), str(shares[0]), str(tmp_path / "other.json.share-2-of-3.txt"))
    assert mixed.returncode == 2 and "another escrow" in mixed.stderr

    damaged = shares[2].read_text().replace("WORDS: ", "WORDS: academic ", 1)
    (tmp_path / "damaged.txt").write_text(damaged)
    bad = fresh("keys", "recover", str(out), str(shares[0]), str(tmp_path / "damaged.txt"))
    assert bad.returncode == 2 and not (fresh.home / "keys").exists()

    good = fresh("keys", "recover", str(out.parent / "escrow.json.sheet.txt"), str(shares[2]), str(shares[0]))
    assert good.returncode == 0, good.stderr
    assert _keys(fresh.home) == _keys(keyed.home)


def test_open_escrow_refuses_what_is_not_an_escrow():
    with pytest.raises(EscrowError, match="not a Limestone"):
        open_escrow(["hello"], PASSPHRASE)
    with pytest.raises(EscrowError, match="exactly one"):
        open_escrow([], PASSPHRASE)


def test_the_passphrase_cannot_be_given_on_the_command_line(keyed, tmp_path):
    result = keyed.run("keys", "escrow", "--out", str(tmp_path / "e.json"), "--passphrase", "visible in ps")
    assert result.returncode == 2 and not (tmp_path / "e.json").exists()


def test_the_passphrase_is_asked_for_in_a_terminal(keyed, tmp_path):
    """Without LIMESTONE_ESCROW_PASSPHRASE the command asks twice (escrow) or once (recover)."""
    import os
    import pty
    import subprocess
    import time

    def in_terminal(args: list[str], answers: list[str]) -> tuple[int, str]:
        master, slave = pty.openpty()
        env = dict(keyed.env)
        env.pop("LIMESTONE_ESCROW_PASSPHRASE", None)
        process = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT,
                                   start_new_session=True)
        os.close(slave)
        seen = b""
        deadline = time.monotonic() + 120
        for answer in answers:
            while b"passphrase" not in seen.lower() and b"again" not in seen.lower():
                assert time.monotonic() < deadline, seen
                seen += os.read(master, 1024)
            seen = b""
            os.write(master, answer.encode() + b"\n")
        output = b""
        try:
            while chunk := os.read(master, 1024):
                output += chunk
        except OSError:   # the other end closed
            pass
        os.close(master)
        return process.wait(60), output.decode(errors="replace")

    out = tmp_path / "typed.json"
    code, text = in_terminal(keyed.command("keys", "escrow", "--out", str(out)), [PASSPHRASE, PASSPHRASE])
    assert code == 0, text
    fresh = tmp_path / "fresh"
    code, text = in_terminal(Limestone(fresh).command("keys", "recover", str(out)), [PASSPHRASE])
    assert code == 0, text
    assert _keys(fresh) == _keys(keyed.home)
