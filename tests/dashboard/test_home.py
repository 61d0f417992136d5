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
