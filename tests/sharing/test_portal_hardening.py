"""The share portal hardened (issue 17, items 13-15 and 17-20): sessions that end, a use-limit
link that works for its use, addresses behind a proxy, Host checks, bounded requests, per-session
rendering, thinned refusal events and a lockout that counts atomically."""

from __future__ import annotations

import logging
import socket
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from archive import audit, sharing
from archive.home import Archive
from portal import app as portal_app
from portal.pages import REFUSAL
from portal.session import COOKIE, Sessions
from tests.support.share_helpers import issue, link_url, signed_in
from tests.support.share_world import RunningPortal


def _refused(response) -> bool:
    return response.status_code == 404 and REFUSAL in response.text


def _events(shared, link_id, action=None):
    rows = audit.search(shared.archive().home, link_id=link_id)
    return [r for r in rows if action is None or r["action"] == action]


def _flush(portal) -> None:
    """Wait for the portal's background audit writer (refusals are recorded off the request)."""
    portal.portal._background.submit(lambda: None).result(10)


# ---- 15: a use-limit link works for its uses ------------------------------------------------------
def test_a_use_limit_1_link_serves_the_session_its_use_opened(shared, portal):
    issued = issue(shared, "a_ct", use_limit=1)
    session = signed_in(portal, issued)
    url = link_url(portal, issued)
    page = session.get(url)
    assert page.status_code == 200 and "Open shared images" not in page.text and "/view/1/1" in page.text
    assert session.get(url + "/view/1/1").status_code == 200
    assert session.get(url + "/image/1/1/1.png").headers["content-type"] == "image/png"
    assert session.get(url + "/download").status_code == 200
    link = sharing.get(shared.archive().home, issued.link.link_id)
    assert link.uses == 1 and link.status() == "used up"
    # the use is spent: another browser, even with the passcode, gets the plain refusal
    assert _refused(requests.get(url))
    assert _refused(requests.post(url, data={"answer": issued.passcode}, allow_redirects=False))
    # and the session that used it ends with the link's other limits (here: revocation)
    sharing.revoke(shared.archive().home, issued.link.link_id, by="test")
    assert _refused(session.get(url + "/view/1/1"))


# ---- 18: sign-out ends the session on the server -----------------------------------------------
def test_close_ends_the_session_and_the_old_cookie_is_refused(shared, portal):
    issued = issue(shared, "a_ct")
    session = signed_in(portal, issued)
    url = link_url(portal, issued)
    cookie = session.cookies.get(COOKIE)
    assert cookie and "/view/1/1" in session.get(url).text
    closed = session.post(url + "/signout", allow_redirects=False)
    assert closed.status_code == 303
    # someone who kept the cookie (a copy, a shared computer) cannot use it any more
    replay = requests.Session()
    replay.cookies.set(COOKIE, cookie, path=f"/s/{issued.token}")
    page = replay.get(url)
    assert page.status_code == 200 and "Open shared images" in page.text and "/view/1/1" not in page.text
    for path in ("/view/1/1", "/image/1/1/1.png", "/thumb/1/1.png", "/download"):
        assert _refused(replay.get(url + path)), path
    assert len(_events(shared, issued.link.link_id, "sign_out")) == 1
    # the passcode opens a new session as before
    assert "/view/1/1" in signed_in(portal, issued).get(url).text


# ---- 14: expired or tampered cookies -----------------------------------------------------------
def test_expired_tampered_and_foreign_cookies_are_refused(shared, portal):
    home = shared.archive().home
    now = [1_900_000_000.0]
    sessions = Sessions(home, 60, clock=lambda: now[0])
    cookie = sessions.issue("L000000000001", "h" * 64)
    assert sessions.valid(cookie, "L000000000001", "h" * 64)
    link_id, secret, expires, signature = cookie.split(".")
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    for bad in (f"{link_id}.{secret}.{expires}.{flipped}",                 # signature changed
                f"{link_id}.{secret}.{int(expires) + 3600}.{signature}",   # expiry pushed out
                f"{link_id}.{secret[:-1]}A.{expires}.{signature}",         # another secret
                "", "a.b.c", cookie + ".x", "x" * 1000):
        assert not sessions.valid(bad, "L000000000001", "h" * 64), bad
    assert not sessions.valid(cookie, "L000000000002", "h" * 64)           # another link
    assert not sessions.valid(cookie, "L000000000001", "g" * 64)           # the link's token changed
    now[0] += 3601                                                         # past the session's hour
    assert not sessions.valid(cookie, "L000000000001", "h" * 64)
    # over HTTP: a tampered cookie gets the passcode form, never the studies
    issued = issue(shared, "a_ct")
    real = signed_in(portal, issued).cookies.get(COOKIE)
    parts = real.split(".")
    forged = requests.Session()
    forged.cookies.set(COOKIE, ".".join(parts[:2] + [str(int(parts[2]) + 86400), parts[3]]),
                       path=f"/s/{issued.token}")
    assert "Open shared images" in forged.get(link_url(portal, issued)).text
    assert _refused(forged.get(link_url(portal, issued) + "/view/1/1"))


# ---- 14: the client address behind a proxy -----------------------------------------------------
def test_client_address_believes_only_trusted_proxies():
    trusted = portal_app.trusted_networks("10.0.0.0/8, 192.168.1.10")
    assert portal_app.client_address("203.0.113.9", "198.51.100.1", trusted) == "203.0.113.9"   # not a proxy
    assert portal_app.client_address("10.1.2.3", "198.51.100.1", trusted) == "198.51.100.1"
    # a client's own forged entry sits left of what our proxies appended: it is not reached
    assert portal_app.client_address("10.1.2.3", "1.1.1.1, 198.51.100.1, 192.168.1.10", trusted) == "198.51.100.1"
    assert portal_app.client_address("10.1.2.3", "not-an-ip", trusted) == "10.1.2.3"
    assert portal_app.client_address("10.1.2.3", None, trusted) == "10.1.2.3"
    assert portal_app.client_address("127.0.0.1", "198.51.100.1", ()) == "127.0.0.1"


def _wrong(url, forwarded):
    return requests.post(url, data={"answer": "WRONG-WRONG"}, headers={"X-Forwarded-For": forwarded})


def test_forwarded_for_from_an_untrusted_address_is_ignored(shared):
    untrusted = Archive.load(home=str(shared.home), portal_trusted_proxies="10.9.9.9",
                             portal_attempts_per_minute=3, portal_requests_per_minute=100000)
    running = RunningPortal(untrusted).start()
    try:
        issued = issue(shared, "b_ct")
        url = f"{running.url}/s/{issued.token}"
        codes = [_wrong(url, f"203.0.113.{n}").status_code for n in range(4)]
        assert codes == [401, 401, 401, 429]          # a new spoofed address each time does not help
        ips = {e["ip"] for e in _events(shared, issued.link.link_id, "passcode_failed")}
        assert ips == {"127.0.0.1"}
    finally:
        running.stop()
    behind = Archive.load(home=str(shared.home), portal_trusted_proxies="127.0.0.1",
                          portal_attempts_per_minute=3, portal_requests_per_minute=100000)
    running = RunningPortal(behind).start()
    try:
        issued = issue(shared, "b_ct")
        url = f"{running.url}/s/{issued.token}"
        codes = [_wrong(url, "203.0.113.7").status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]          # the limit follows the real client
        assert _wrong(url, "203.0.113.8").status_code == 401   # another client behind the proxy
        ips = [e["ip"] for e in _events(shared, issued.link.link_id, "passcode_failed")]
        assert sorted(set(ips)) == ["203.0.113.7", "203.0.113.8"]
    finally:
        running.stop()


def test_the_per_address_request_limit(shared):
    strict = Archive.load(home=str(shared.home), portal_requests_per_minute=5)
    running = RunningPortal(strict).start()
    try:
        codes = [requests.get(running.url + "/").status_code for _ in range(7)]
        assert codes == [200] * 5 + [429, 429]
        assert requests.get(running.url + "/static/portal.css").headers["retry-after"] == "60"
    finally:
        running.stop()


# ---- 17: Host checks and absolute addresses -----------------------------------------------------
def test_host_names():
    assert portal_app.host_name("127.0.0.1:8502") == "127.0.0.1" and portal_app.host_name("[::1]:80") == "::1"
    assert portal_app.host_name("Share.Example.ORG") == "share.example.org" and portal_app.host_name(None) is None
    assert portal_app.allowed_hosts("http://127.0.0.1:8502") == {"127.0.0.1", "localhost", "::1"}
    assert portal_app.allowed_hosts("https://share.example.org") == {"share.example.org"}


def test_unknown_hosts_are_refused(shared, portal):
    issued = issue(shared, "a_ct")
    session = signed_in(portal, issued)
    url = link_url(portal, issued)
    for host in (f"127.0.0.1:{portal.port}", f"localhost:{portal.port}"):
        assert session.get(url, headers={"Host": host}).status_code == 200
    # a DNS-rebinding page reaches 127.0.0.1 under its own name: it gets nothing
    for host in ("attacker.example", f"attacker.example:{portal.port}", "127.0.0.1.attacker.example", ""):
        response = session.get(url + "/view/1/1", headers={"Host": host})
        assert response.status_code in (400, 421) and "SAMPLE" not in response.text, host


def test_a_public_address_is_the_only_host_and_the_base_of_absolute_addresses(shared):
    public = Archive.load(home=str(shared.home), portal_base_url="https://share.example.org",
                          portal_requests_per_minute=100000, portal_attempts_per_minute=100000)
    running = RunningPortal(public).start()
    try:
        issued = issue(shared, "a_ct")
        url = f"{running.url}/s/{issued.token}"
        assert requests.get(url).status_code == 421          # Host 127.0.0.1 is not the portal's name
        host = {"Host": "share.example.org"}
        answer = requests.post(url, data={"answer": issued.passcode}, headers=host, allow_redirects=False)
        assert answer.status_code == 303 and "Secure" in answer.headers["set-cookie"]   # TLS at the proxy
        cookie = answer.cookies.get(COOKIE)
        page = requests.get(url, headers={**host, "Cookie": f"{COOKIE}={cookie}"})
        assert page.status_code == 200
        assert f"https://share.example.org/s/{issued.token}/dicomweb" in page.text
        assert "127.0.0.1" not in page.text
    finally:
        running.stop()


# ---- 19: bounded requests ------------------------------------------------------------------------
def test_the_passcode_form_refuses_large_or_multipart_bodies_before_parsing(shared, portal, monkeypatch):
    from starlette.requests import Request
    parsed = []
    real_form = Request.form

    def counting_form(self, *args, **kwargs):
        parsed.append(1)
        return real_form(self, *args, **kwargs)

    monkeypatch.setattr(Request, "form", counting_form)
    issued = issue(shared, "a_ct")
    url = link_url(portal, issued)
    big = b"x" * (2 * 1024 * 1024)
    upload = requests.post(url, files={"answer": ("a.bin", big)})
    assert upload.status_code == 415
    long_form = requests.post(url, data={"answer": "A" * 10000})
    assert long_form.status_code == 413

    def chunks():                               # no Content-Length: cut off as it streams
        for _ in range(64):
            yield b"answer=" + b"A" * 1024

    streamed = requests.post(url, data=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert streamed.status_code == 413
    assert parsed == []                         # nothing was handed to the multipart/form parser
    assert sharing.get(shared.archive().home, issued.link.link_id).failed_attempts == 0
    assert signed_in(portal, issued)            # a normal answer still works


def _raw(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return sock


def test_slow_headers_and_bodies_time_out(shared, portal, monkeypatch):
    from portal.server import BoundedH11Protocol
    monkeypatch.setattr(BoundedH11Protocol, "header_seconds", 0.5)
    monkeypatch.setattr(portal_app, "BODY_SECONDS", 0.5)
    # headers trickling in: the server closes the connection
    sock = _raw(portal.port)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    started = time.monotonic()
    while time.monotonic() - started < 3:
        sock.sendall(b"X-a: b\r\n")            # a byte now and then does not keep it open
        time.sleep(0.1)
        try:
            sock.settimeout(0.05)
            if sock.recv(1024) == b"":
                break
        except socket.timeout:
            continue
        except OSError:
            break
    else:
        pytest.fail("a request whose headers never end kept its connection")
    sock.close()
    # a body announced but not sent: 408 when the time is up
    issued = issue(shared, "a_ct")
    sock = _raw(portal.port)
    sock.sendall((f"POST /s/{issued.token} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nanswer=A").encode())
    sock.settimeout(10)
    assert sock.recv(1024).startswith(b"HTTP/1.1 408")
    sock.close()
    # an ordinary keep-alive client is not affected
    with requests.Session() as s:
        assert [s.get(portal.url + "/").status_code for _ in range(3)] == [200] * 3


def test_one_session_renders_at_most_two_images_at_once(shared, portal, monkeypatch):
    from archive.dicom import pixels
    running, peak, lock = [0], [0], threading.Lock()
    real = pixels.render_frame

    def slow_render(*args, **kwargs):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            time.sleep(0.3)            # the render being held open, to see how many overlap
            return real(*args, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(pixels, "render_frame", slow_render)
    issued = issue(shared, "a_ct")
    session = signed_in(portal, issued)
    url = link_url(portal, issued)
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda n: session.get(f"{url}/image/1/1/{n}.png").status_code, range(1, 9)))
    assert codes == [200] * 8          # they queue, they are not refused
    assert peak[0] <= portal_app.RENDERS_PER_SESSION, peak[0]
    assert portal.portal.renders.busy(session.cookies.get(COOKIE)) == 0


def test_a_client_leaving_a_download_is_not_an_error(shared, portal):
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    keep = Keep(level=logging.WARNING)
    watched = [logging.getLogger(n) for n in ("uvicorn.error", "uvicorn", "limestone.portal", "")]
    for logger in watched:            # uvicorn's loggers do not propagate to the root
        logger.addHandler(keep)
    try:
        issued = issue(shared, "a_ct", "a_mixed")
        session = signed_in(portal, issued)
        for path in ("/download", "/report/1/1.pdf", "/download/1"):
            with session.get(link_url(portal, issued) + path, stream=True) as response:
                if response.status_code != 200:
                    continue
                next(response.iter_content(1024))
                response.raw._fp.fp.raw._sock.shutdown(socket.SHUT_RDWR)   # the browser tab is closed
        for path in (f"/s/{issued.token}", f"/s/{sharing.new_token()}"):   # a form half sent, then gone
            sock = _raw(portal.port)
            sock.sendall((f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                          "application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nans").encode())
            time.sleep(0.2)
            sock.close()
        time.sleep(2)
    finally:
        for logger in watched:
            logger.removeHandler(keep)
    errors = [r for r in records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


def test_repeated_refusals_write_one_event_a_minute_with_a_count(shared, portal):
    issued = issue(shared, "b_ct")
    sharing.revoke(shared.archive().home, issued.link.link_id, by="test")
    url = link_url(portal, issued)
    for _ in range(40):
        assert _refused(requests.get(url + "/view/1/1"))
    _flush(portal)
    refused = _events(shared, issued.link.link_id, "refused")
    assert len(refused) == 1
    assert refused[0]["detail"] == "revoked" and refused[0]["ip"] == "127.0.0.1"
    assert refused[0]["outcome"] == "failure" and refused[0]["source"] == "portal"
    # after the minute, the next one is written with the number held back
    key = f"{issued.link.link_id}|127.0.0.1"
    portal.portal.refusals._seen[key][0] -= 61
    assert _refused(requests.get(url))
    _flush(portal)
    refused = _events(shared, issued.link.link_id, "refused")
    assert len(refused) == 2 and refused[0]["detail"] == "revoked; 39 more refusals not recorded separately"


# ---- 20: atomic lockout --------------------------------------------------------------------------
def test_nine_wrong_answers_at_once_lock_the_link_once(shared, portal):
    issued = issue(shared, "a_ct")
    url = link_url(portal, issued)
    barrier = threading.Barrier(9)

    def wrong(_):
        barrier.wait()
        return requests.post(url, data={"answer": "WRONG-WRONG"}).status_code

    with ThreadPoolExecutor(9) as pool:
        codes = list(pool.map(wrong, range(9)))
    link = sharing.get(shared.archive().home, issued.link.link_id)
    assert link.status() == "locked" and link.failed_attempts == 5
    assert len(_events(shared, issued.link.link_id, "lockout")) == 1
    assert len(_events(shared, issued.link.link_id, "passcode_failed")) == 5
    assert sorted(codes).count(401) <= 4 and codes.count(404) >= 5


def test_a_correct_answer_racing_wrong_ones_cannot_pass_a_lock(shared, monkeypatch):
    home = shared.archive().home
    issued = issue(shared, "a_ct")
    checked = []
    real = sharing.links.check_secret

    def counting(kind, answer, stored):
        if stored == issued.link.secret_hash:
            checked.append(answer)
        return real(kind, answer, stored)

    monkeypatch.setattr(sharing.links, "check_secret", counting)
    answers = ["WRONG-WRONG"] * 11 + [issued.passcode]
    barrier = threading.Barrier(len(answers))

    def answer(text):
        barrier.wait()
        return sharing.verify(home, issued.token, text, lockout_attempts=5)

    with ThreadPoolExecutor(len(answers)) as pool:
        results = list(pool.map(answer, answers))
    # at most five answers were ever compared with the secret, however many came at once
    assert len(checked) <= 5, len(checked)
    assert sum(r.locked_now for r in results) <= 1
    # a lock that is due (five answers taken, none right yet) refuses the right passcode
    other = issue(shared, "a_ct")
    con = sqlite3.connect(home.state_path)
    con.execute("UPDATE share_links SET failed_attempts = 5 WHERE link_id = ?", [other.link.link_id])
    con.commit()
    con.close()
    result = sharing.verify(home, other.token, other.passcode, lockout_attempts=5)
    assert not result.ok and sharing.get(home, other.link.link_id).uses == 0
