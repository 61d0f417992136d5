"""The share portal under attack: guessing, stale links, lockout, scope, traversal, timing, limits."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from archive import audit, sharing
from archive.clock import now_utc
from archive.sharing.scope import resolve
from portal.limits import RateLimit
from portal.pages import REFUSAL
from tests.support.share_helpers import issue, link_url, signed_in
from tests.support.share_world import RunningPortal


def _refusal(response) -> None:
    assert response.status_code == 404
    assert REFUSAL in response.text
    assert "SAMPLE" not in response.text  # nothing about the patient


def test_unknown_expired_revoked_locked_and_used_up_links_get_the_same_refusal(shared, portal):
    archive = shared.archive()
    revoked = issue(shared, "a_ct")
    sharing.revoke(archive.home, revoked.link.link_id, by="test")
    scope = resolve(shared.store(), [shared.studies["a_ct"]])
    expired = sharing.issue(archive.home, scope, recipient_name="X", days=1, created_by="test",
                            now=now_utc() - timedelta(days=2))
    locked = issue(shared, "a_ct")
    for _ in range(5):
        requests.post(link_url(portal, locked), data={"answer": "WRONG-CODE1"})
    used_up = issue(shared, "a_ct", use_limit=1)
    signed_in(portal, used_up)
    unknown = sharing.new_token()
    bodies = []
    for token in (revoked.token, expired.token, locked.token, used_up.token, unknown, "lsl_short",
                  "lsl_" + "A" * 43, "%00", "../../etc/passwd"):
        for method in ("get", "post"):
            response = getattr(requests, method)(f"{portal.url}/s/{token}", data={"answer": "x"})
            _refusal(response)
            bodies.append(response.text)
    assert len(set(bodies)) == 1
    # the right passcode does not help a locked, revoked or used-up link
    for issued in (locked, revoked, used_up):
        response = requests.post(link_url(portal, issued), data={"answer": issued.passcode}, allow_redirects=False)
        _refusal(response)
    # the token is never stored: only its SHA-256
    import sqlite3
    con = sqlite3.connect(archive.home.state_path)
    dump = "\n".join(con.iterdump())
    con.close()
    assert revoked.token not in dump and revoked.token[4:] not in dump and revoked.passcode not in dump
    assert sharing.token_hash(revoked.token) in dump


def test_wrong_passcodes_lock_the_link_until_a_clerk_unlocks_it(shared, portal):
    archive = shared.archive()
    issued = issue(shared, "a_ct")
    url = link_url(portal, issued)
    for _ in range(4):
        response = requests.post(url, data={"answer": "AAAAA-AAAAA"})
        assert response.status_code == 401 and "not correct" in response.text
    _refusal(requests.post(url, data={"answer": "AAAAA-AAAAA"}))       # 5th: locked
    _refusal(requests.post(url, data={"answer": issued.passcode}))
    assert sharing.get(archive.home, issued.link.link_id).status() == "locked"
    events = audit.search(archive.home, link_id=issued.link.link_id)
    actions = [e["action"] for e in events]
    assert actions.count("passcode_failed") == 5 and actions.count("lockout") == 1
    assert all(e["ip"] == "127.0.0.1" for e in events if e["source"] == "portal")
    from archive.sharing import actions as share_actions
    from tests.support.share_helpers import CLERK
    share_actions.unlock(archive, issued.link.link_id, CLERK)
    session = signed_in(portal, issued)                                  # the passcode works again
    assert session.get(url).status_code == 200
    assert "unlock" in [e["action"] for e in audit.search(archive.home, link_id=issued.link.link_id)]


def test_revocation_applies_at_once_to_an_open_session(shared, portal):
    issued = issue(shared, "a_ct")
    session = signed_in(portal, issued)
    url = link_url(portal, issued)
    assert session.get(url + "/view/1/1").status_code == 200
    sharing.revoke(shared.archive().home, issued.link.link_id, by="test")
    for path in ("", "/view/1/1", "/image/1/1/1.png", "/download", "/thumb/1/1.png"):
        _refusal(session.get(url + path))


def test_a_token_reaches_only_its_own_studies_and_no_staff_page(shared, portal):
    a = issue(shared, "a_ct")                  # one study of patient A
    b = issue(shared, "b_ct")                  # patient B
    session_a = signed_in(portal, a)
    url_a = link_url(portal, a)
    assert session_a.get(url_a + "/view/1/1").status_code == 200
    for path in ("/view/2/1", "/view/1/2", "/view/0/1", "/image/2/1/1.png", "/image/1/1/16.png",
                 "/image/1/1/0.png", "/thumb/2/1.png", "/download/2", "/download/0", "/view/-1/1",
                 "/image/1/1/1.png?window=../../etc", "/download/1/../../2", "/view/1/1/../../../b"):
        _refusal(session_a.get(url_a + path))
    # A's session cookie does not open B's link, and B's pages never show A's patient
    assert "Open shared images" in session_a.get(link_url(portal, b)).text
    _refusal(session_a.get(link_url(portal, b) + "/download"))
    # staff pages and files are simply not there
    for path in ("/browse", "/study?study=x", "/viewer", "/metrics", "/_stcore/health",
                 "/static/../archive/vault.py", "/static/..%2f..%2fpyproject.toml",
                 "/s/" + a.token + "/..%2f..%2fstatic%2fportal.js", "/etc/passwd"):
        response = session_a.get(portal.url + path)
        assert response.status_code == 404 and "[project]" not in response.text and "root:" not in response.text


def test_unknown_revoked_and_live_tokens_run_the_same_slow_check(shared, portal, monkeypatch):
    """Constant work instead of a stopwatch: every answer runs exactly one scrypt, whatever the token."""
    import hashlib
    revoked = issue(shared, "b_ct")
    sharing.revoke(shared.archive().home, revoked.link.link_id, by="test")
    live = issue(shared, "b_ct")
    calls = []
    real = hashlib.scrypt

    def counting(*args, **kwargs):
        calls.append(kwargs.get("n"))
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting)
    counts = {}
    for name, token in (("unknown", sharing.new_token()), ("malformed", "lsl_short"),
                        ("revoked", revoked.token), ("live", live.token)):
        calls.clear()
        response = requests.post(f"{portal.url}/s/{token}", data={"answer": "BBBBB-BBBBB"})
        assert response.status_code in (401, 404)
        counts[name] = list(calls)
    # one scrypt at full cost for each, so the time taken says nothing about the token
    assert all(c == [2 ** 14] for c in counts.values()), counts


def test_rate_limits(shared):
    clock = [0.0]
    limit = RateLimit(3, 60, clock=lambda: clock[0])
    assert [limit.allow("1.2.3.4") for _ in range(4)] == [True, True, True, False]
    assert limit.allow("5.6.7.8")
    clock[0] = 61
    assert limit.allow("1.2.3.4")
    archive = shared.archive()
    from archive.home import Archive
    strict = Archive.load(home=str(shared.home), portal_attempts_per_minute=2, portal_requests_per_minute=1000)
    running = RunningPortal(strict).start()
    try:
        url = f"{running.url}/s/{sharing.new_token()}"
        codes = [requests.post(url, data={"answer": "x"}).status_code for _ in range(3)]
        assert codes == [404, 404, 429]
        assert "Too many attempts" in requests.post(url, data={"answer": "x"}).text
    finally:
        running.stop()
    del archive


def test_https_when_a_certificate_is_configured(shared, tmp_path):
    cert, key = _self_signed(tmp_path)
    from archive.home import Archive
    secure = Archive.load(home=str(shared.home), portal_tls_cert=str(cert), portal_tls_key=str(key))
    running = RunningPortal(secure).start()
    try:
        assert running.url.startswith("https://")
        issued = issue(shared, "b_ct")
        url = f"{running.url}/s/{issued.token}"
        first = requests.get(url, verify=str(cert))
        assert first.status_code == 200 and "max-age" in first.headers["strict-transport-security"]
        answer = requests.post(url, data={"answer": issued.passcode}, verify=str(cert), allow_redirects=False)
        assert answer.status_code == 303 and "Secure" in answer.headers["set-cookie"]
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(url.replace("https://", "http://"), timeout=5)
    finally:
        running.stop()


def _self_signed(folder):
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path
