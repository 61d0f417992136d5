from tests.support.apptest import page, texts


def test_home_shows_the_archive_counts(home):
    at = page("home").run()
    assert not at.exception
    values = {m.label: m.value for m in at.metric}
    assert values["Patients"] == "4"
    assert values["Studies"] == "35"
    assert values["Series"] == "36"
    assert values["Images"] == "51"
    assert "Demo mode" in texts(at)
    assert "1 quarantined" in texts(at)


def test_empty_archive_is_an_empty_state_not_an_error(empty_home):
    at = page("home").run()
    assert not at.exception
    assert not at.error
    assert "archive is empty" in texts(at)


def test_nobody_signed_in_is_asked_to_sign_in(home):
    at = page("home", role=None).run()
    assert not at.exception
    assert "Please sign in" in texts(at)
    assert not at.metric


def test_user_without_a_known_role_is_refused(home):
    at = page("home", role=None)
    at.user = {"is_logged_in": True, "email": "x@example.org", "roles": ["visitor"]}
    at.run()
    assert "does not give access" in texts(at)
    assert not at.metric


def test_demo_mode_refuses_to_serve_beyond_this_computer(home, monkeypatch):
    import streamlit as st

    from dashboard import auth
    monkeypatch.setattr(st, "get_option", lambda name: "0.0.0.0" if name == "server.address" else None)
    assert not auth.bound_to_loopback()
    at = page("home").run()
    assert not at.exception
    assert "Demo mode only serves this computer" in texts(at)
    assert not at.metric


def test_an_unexpected_error_is_a_plain_message_and_the_log_has_no_patient_data(home, monkeypatch, caplog):
    from dashboard import data

    def broken(home):
        raise RuntimeError("could not read " + "TEST" + "^ALPHA")  # (the source line is logged)
    monkeypatch.setattr(data, "stats", broken)
    at = page("home").run()
    assert not at.exception
    assert "Something went wrong on this page" in texts(at)
    assert "RuntimeError" in caplog.text and "TEST^ALPHA" not in caplog.text


def test_admins_see_when_the_archive_was_last_backed_up_and_its_keys_escrowed(home, tmp_path):
    from archive.backup.history import record_backup, record_escrow
    from archive.home import Archive

    at = page("home").run()
    assert not at.exception
    values = {m.label: m.value for m in at.metric}
    assert values["Last backup"] == "never" and values["Last key escrow"] == "never"
    assert "never been backed up" in texts(at) and "in no key escrow" in texts(at)
    assert "Backups and keys" not in texts(page("home", role="clerk").run())

    archive = Archive.load(home=str(home.home))
    record_backup(archive.home, str(tmp_path / "nas"), {
        "id": "20261201T020000Z-abcdef", "started_at": "2026-12-01T02:00:00Z",
        "finished_at": "2026-12-01T02:03:00Z", "files": 60, "bytes": 5 * 2**20,
        "copied_files": 60, "copied_bytes": 5 * 2**20})
    record_escrow(archive.home, "esc-000000000001", "2026-12-01T02:05:00Z", archive.vault.keys.ids(),
                  archive.vault.keys.current_id, None)
    from dashboard import data
    data.protection.clear()
    at = page("home").run()
    values = {m.label: m.value for m in at.metric}
    assert values["Last backup"] == "2026-12-01 02:03 UTC"
    assert values["Last key escrow"] == "2026-12-01 02:05 UTC"
    assert "never been backed up" not in texts(at) and "in no key escrow" not in texts(at)
