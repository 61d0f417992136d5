"""Every page x every role (issue 17, item 12): each role opens exactly its pages, signed-out and
unknown roles open none; managers see studies but not who the patient is; looking at a study is
audited (item 13)."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from archive import audit, study_keys
from archive.home import Home
from dashboard import access, auth
from tests.support.apptest import PAGES, page, texts, viewers

M, T, Q, C, A = "manager", "technologist", "quality", "clerk", "admin"
# The table the hospital agreed, written out here on purpose (not read from dashboard.access).
EXPECTED = {
    "home": {M, T, Q, C, A},
    "browse": {M, T, Q, C, A},
    "study": {M, T, Q, C, A},
    "viewer": {T, Q, A},
    "compare": {T, Q, A},
    "metrics": {M, Q, A},
    "repeats": {M, Q, A},
    "share_links": {C, A},
    "audit_log": {A},
    "share_usage": {M, A},
    "hl7_review": {Q, A},
    "sites": {A},
    "patient_access": {C, M, A},
}
USERS = [M, T, Q, C, A, "janitor", None]          # an unknown role, and nobody signed in
REFUSED = ("does not give access", "Please sign in to use Limestone")


def test_the_table_covers_every_page():
    assert {p.name for p in access.PAGES} == set(EXPECTED)
    for role in (M, T, Q, C, A):
        assert {p.name for p in access.pages_for({role})} == {n for n, roles in EXPECTED.items() if role in roles}
    assert access.pages_for(set()) == [] and access.pages_for({"janitor"}) == []


def _open(name: str, who: str | None) -> AppTest:
    at = AppTest.from_file(str(PAGES / access.BY_NAME[name].file), default_timeout=90)
    if who is not None:
        at.user = {"is_logged_in": True, "email": f"{who}@example.org", "name": f"Test {who}", "roles": [who]}
    return at.run()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_role_opens_exactly_its_pages(home, name):
    for who in USERS:
        at = _open(name, who)
        assert not at.exception, (name, who, at.exception)
        shown = texts(at)
        refused = any(r in shown for r in REFUSED)
        assert refused == (who not in EXPECTED[name]), (name, who, shown[:300])
        if refused:   # a refused page shows nothing of the archive (the sign-in's hidden table is empty)
            assert "TEST, Alpha" not in shown and "N1001" not in shown
            assert not any(len(df.value) for df in at.dataframe)


def test_sign_in_is_for_everyone(home):
    at = _open("sign_in", None)
    assert not at.exception and "Please sign in to use Limestone" not in texts(at)


def key(home, role="ct_head"):
    return study_keys.encode(Home(Path(home.home)), home.studies[role])


IDENTITY = ("TEST, Alpha", "N1001", "S77", "Born 02 Jan 1960", "Female")


def test_managers_see_studies_but_not_patients(home):
    at = page("browse", role=M).run()
    assert not at.exception
    columns = list(at.dataframe[0].value.columns)
    assert "Patient" not in columns and "Patient ID" not in columns and "Site" in columns
    assert not any(w.label in ("Patient name", "Patient ID") for w in at.text_input)
    assert "TEST, Alpha" not in str(at.dataframe[0].value.to_dict())
    assert "not shown to your role" in texts(at)
    at = page("study", role=M, study=key(home)).run()
    shown = texts(at)
    assert not at.exception and "CT HEAD WITHOUT CONTRAST" in shown and "not shown to your role" in shown
    assert not any(word in shown for word in IDENTITY), shown
    assert "Reports" not in shown and len(at.get("image")) == 0
    # the others see the patient, as before
    for role in (T, Q, C, A):
        at = page("study", role=role, study=key(home)).run()
        assert all(word in texts(at) for word in IDENTITY), role
        at = page("browse", role=role).run()
        assert "Patient ID" in list(at.dataframe[0].value.columns)


def test_the_study_page_is_audited_once_per_session(home):
    uid = home.studies["ct_head"]
    before = [e for e in audit.events(Home(Path(home.home)), uid) if e["action"] == "view"]
    at = page("study", role=T, study=key(home)).run()
    assert not at.exception and len(viewers(at, "limestone_thumbnail")) == 1  # preview via the grant
    at.run()                                               # a rerun of the same browser session
    events = [e for e in audit.events(Home(Path(home.home)), uid) if e["action"] == "view"]
    new = events[:len(events) - len(before)]
    assert len(new) == 1
    assert new[0]["user_id"] == f"{T}@example.org" and new[0]["user_role"] == T
    assert new[0]["detail"] == "study page: details, patient identity, reports, thumbnails"
    assert new[0]["patient_key"] and new[0]["patient_key"] in home.patients.values()
    at = page("study", role=M, study=key(home)).run()     # a manager's look is a view too
    events = audit.events(Home(Path(home.home)), uid)
    assert events[0]["action"] == "view" and events[0]["detail"] == "study page: details"


def test_demo_mode_answers_only_loopback_host_names():
    for host in (None, "127.0.0.1:8501", "localhost:8501", "LOCALHOST", "[::1]:8501", "127.0.0.1"):
        assert auth.loopback_host(host), host
    for host in ("attacker.example", "attacker.example:8501", "127.0.0.1.attacker.example:8501",
                 "localhost.attacker.example", "[::2]:8501", "0.0.0.0:8501", ""):
        assert not auth.loopback_host(host), host
