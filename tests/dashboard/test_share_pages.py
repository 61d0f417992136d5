"""AppTest of the share-link desk, the audit trail and the usage report (seeded archive)."""

from __future__ import annotations

from archive import audit, sharing
from archive.home import Home
from tests.support.apptest import page, texts


def _button(at, label):
    return next(b for b in at.button if b.label == label)


def test_clerk_issues_lists_and_revokes_a_link(home):
    at = page("share_links", "clerk")
    at.run()
    assert not at.exception and "Share links" in texts(at)
    at.text_input(key="share_links.lookup").input("N1001").run()
    studies = at.multiselect(key="share_links.studies")
    labels = " | ".join(studies.options)
    assert "CT HEAD" in labels and "MR KNEE" in labels and len(studies.options) == 2
    assert "US ABDOMEN" not in labels                                          # another patient
    studies.set_value([home.studies["ct_head"], home.studies["mr_knee"]]).run()
    at.text_input(key="share_links.recipient").input("Dr Outside")
    at.selectbox(key="share_links.role").set_value("doctor")
    _button(at, "Create link").click().run()
    assert not at.exception
    shown = [c.value for c in at.code]
    assert len(shown) == 2 and "/s/lsl_" in shown[0] and len(shown[1]) == 11
    token = shown[0].rsplit("/", 1)[1]
    link = sharing.open_link(Home(home.home), token)
    assert link is not None and link.recipient_role == "doctor" and link.created_by == "clerk@example.org"
    assert set(link.study_instance_uids) == {home.studies["ct_head"], home.studies["mr_knee"]}
    events = audit.search(Home(home.home), link_id=link.link_id, actions=["share"])
    assert len(events) == 2 and events[0]["user_role"] == "clerk"
    assert "Link" in texts(at) and link.link_id in at.dataframe[0].value["Link"].tolist()
    at.selectbox(key="share_links.selected").set_value(link.link_id)
    _button(at, "Revoke").click().run()
    assert not at.exception and "is now revoked" in texts(at)
    assert sharing.open_link(Home(home.home), token) is None


def test_other_roles_are_refused(home):
    for name, role in (("share_links", "technologist"), ("audit_log", "clerk"), ("share_usage", "clerk")):
        at = page(name, role)
        at.run()
        assert "does not give access" in texts(at), name


def test_audit_trail_and_usage_report(home):
    h = Home(home.home)
    audit.record(h, audit.AuditEvent("view", "tech@example.org", "technologist", home.studies["ct_head"],
                                     home.patients["alpha"], ip="10.1.2.3"))
    at = page("audit_log", "admin")
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert "tech@example.org" in table["Who"].tolist() and "10.1.2.3" in table["IP"].tolist()
    assert any(b.label.startswith("Export as DICOM audit messages") for b in at.get("download_button"))
    at = page("share_usage", "manager")
    at.run()
    assert not at.exception
    text = texts(at)
    assert "Links issued" in text or "No share links" in text
