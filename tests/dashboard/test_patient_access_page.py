"""AppTest of the Patient access page (seeded archive): a clerk invites, re-sends, unlocks and
disables accounts and gives a caregiver access; a manager sees the figures; others are refused."""

from __future__ import annotations

from archive import audit
from archive.home import Archive, Home
from archive.patient_access import accounts, delegation, figures
from tests.support.apptest import page, raw_labels, texts


def _button(at, label):
    return next(b for b in at.button if b.label == label)


def _invite(at, patient_id: str, issuer: str, email: str):
    at.text_input(key="patient_access.patient_id").input(patient_id)
    at.text_input(key="patient_access.issuer").input(issuer)
    at.text_input(key="patient_access.email").input(email)
    _button(at, "Invite").click().run()
    assert not at.exception, at.exception


def test_clerk_invites_resends_grants_and_disables(home):
    at = page("patient_access", "clerk")
    at.run()
    assert not at.exception and "Patient access" in texts(at)
    assert "Patients' use of their own access" not in texts(at)          # the figures are the managers'
    _invite(at, "N2002", "NORTH-MRN", "beta.fake@example.org")
    first = at.code[0].value
    assert "/me/enrol/lpi_" in first and "cannot be shown again" in texts(at)
    beta = accounts.for_email(Home(home.home), "beta.fake@example.org")[0]
    assert beta.status == "invited" and beta.account_id in at.dataframe[0].value["Account"].tolist()
    assert raw_labels(at) == []

    at.selectbox(key="patient_access.account").set_value(beta.account_id).run()
    _button(at, "Resend invitation").click().run()
    assert not at.exception and at.code[0].value != first and "/me/enrol/lpi_" in at.code[0].value
    assert accounts.find_invitation(Home(home.home), first.rsplit("/", 1)[1]) is None      # the old one is void

    _invite(at, "S3003", "SOUTH-MRN", "gamma.fake@example.org")
    at.text_input(key="patient_access.grant_patient").input("N2002")
    at.text_input(key="patient_access.grant_issuer").input("NORTH-MRN")
    at.text_input(key="patient_access.grant_email").input("gamma.fake@example.org")
    at.text_input(key="patient_access.grant_label").input("TEST Beta (FAKE ward)")
    _button(at, "Give access").click().run()
    assert not at.exception and "given until" in texts(at)
    grants = delegation.granted_by_owner(Home(home.home), beta.account_id)
    assert len(grants) == 1 and grants[0].granted_by_kind == "clerk" and grants[0].status() == "active"
    at.selectbox(key="patient_access.grant").set_value(grants[0].delegation_id).run()
    _button(at, "End this access now").click().run()
    assert delegation.get(Home(home.home), grants[0].delegation_id).status() == "revoked"

    at.selectbox(key="patient_access.account").set_value(beta.account_id).run()
    _button(at, "Disable...").click().run()
    assert accounts.get(Home(home.home), beta.account_id).status == "invited"     # it asks first
    _button(at, "Yes, disable the account").click().run()
    assert not at.exception and accounts.get(Home(home.home), beta.account_id).status == "disabled"
    done = {e["action"] for e in audit.search(Home(home.home), actions=["invite", "disable", "delegate",
                                                                          "delegate_revoke"])}
    assert done == {"invite", "disable", "delegate", "delegate_revoke"}


def test_manager_sees_the_figures_by_site_and_month(home):
    archive = Archive.load(home=str(home.home))
    at = page("patient_access", "clerk")
    at.run()
    _invite(at, "N1001", "NORTH-MRN", "alpha.fake@example.org")
    con = archive.store(read_only=True)
    try:
        expected = figures.totals(figures.events(archive.home, con))
    finally:
        con.close()
    assert expected["invited"] >= 1
    at = page("patient_access", "manager")
    at.run()
    assert not at.exception and "Invite a patient" not in texts(at)                # the desk is the clerks'
    shown = texts(at)
    assert f"Accounts invited={expected['invited']:,}" in shown
    assert f"Active (last 90 days)={expected['active_90_days']:,}" in shown
    table = at.dataframe[0].value
    assert list(table.columns) == ["Month", "Site", "Invited", "Enrolled", "Active", "Shares by patients",
                                   "Studies viewed"]
    assert table["Invited"].sum() == expected["invited"] and "NORTH" in " ".join(table["Site"])


def test_other_roles_are_refused(home):
    for role in ("technologist", "quality"):
        at = page("patient_access", role)
        at.run()
        assert "Invite a patient" not in texts(at) and "Accounts invited" not in texts(at)
