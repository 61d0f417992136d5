"""Production sign-in end to end: st.login against a real OpenID provider (oidc-provider-mock).

The provider runs from its own virtualenv (it pins its own Authlib); point LIMESTONE_OIDC_MOCK at
its ``oidc-provider-mock`` executable, or create it once with::

    python3 -m venv /tmp/oidc-venv && /tmp/oidc-venv/bin/pip install oidc-provider-mock

The app needs Authlib (streamlit[auth]) in the project's environment. Without either, the test is
skipped with the reason.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.browser import free_port, wait_healthy
from tests.support.cli import ROOT
from tests.support.screenshots import shot

pytestmark = pytest.mark.e2e

USERS = [
    {"sub": "meg", "email": "meg@example.org", "name": "Meg Manager", "roles": ["manager"]},
    {"sub": "cal", "email": "cal@example.org", "name": "Cal Clerk"},  # role from the e-mail table
    {"sub": "nobody", "email": "nobody@example.org", "name": "No Role"},
]


def _mock_executable() -> str | None:
    for candidate in (os.environ.get("LIMESTONE_OIDC_MOCK"), "/tmp/oidc-venv/bin/oidc-provider-mock",
                      shutil.which("oidc-provider-mock")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="module")
def oidc_app(e2e_seeded, tmp_path_factory):
    pytest.importorskip("authlib", reason="st.login needs Authlib (streamlit[auth]) in the app's environment")
    mock = _mock_executable()
    if mock is None:
        pytest.skip("oidc-provider-mock is not installed (see this module's docstring)")
    tmp = tmp_path_factory.mktemp("oidc")
    idp_port, app_port = free_port(), free_port()
    args = [mock, "--port", str(idp_port), "--host", "127.0.0.1"]
    for user in USERS:
        args += ["--user-claims", json.dumps(user)]
    idp = subprocess.Popen(args, stdout=open(tmp / "idp.log", "w"), stderr=subprocess.STDOUT,
                           start_new_session=True)
    secrets_file = tmp / "secrets.toml"
    secrets_file.write_text(f"""
[auth]
redirect_uri = "http://127.0.0.1:{app_port}/oauth2callback"
cookie_secret = "{secrets.token_hex(32)}"
client_id = "limestone-test"
client_secret = "{secrets.token_hex(16)}"
server_metadata_url = "http://127.0.0.1:{idp_port}/.well-known/openid-configuration"

[limestone]
role_claim = "roles"

[limestone.user_roles]
"cal@example.org" = "clerk"
""")
    app = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
         "--server.port", str(app_port), "--server.address", "127.0.0.1",
         "--secrets.files", str(secrets_file), "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=dict(os.environ, LIMESTONE_HOME=str(e2e_seeded.home)),
        stdout=open(tmp / "app.log", "w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_healthy(f"http://127.0.0.1:{idp_port}", idp, path="/.well-known/openid-configuration")
        wait_healthy(f"http://127.0.0.1:{app_port}", app)
        yield f"http://127.0.0.1:{app_port}"
    finally:
        _stop(app)
        _stop(idp)


def oidc_sign_in(page, url: str, sub: str) -> None:
    page.goto(url)
    expect(page.get_by_role("heading", name="Sign in to Limestone")).to_be_visible()
    expect(page.get_by_text("Demo mode")).to_have_count(0)
    page.get_by_role("button", name="Sign in with the hospital account").click()
    expect(page.get_by_role("heading", name="Authorize Client")).to_be_visible()
    page.get_by_role("button", name=sub, exact=True).click()


def test_manager_signs_in_through_the_identity_provider(page, oidc_app):
    oidc_sign_in(page, oidc_app, "meg")
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text("Signed in as")).to_contain_text("Meg Manager")
    expect(sidebar.get_by_text("Signed in as")).not_to_contain_text("demo mode")
    page.get_by_test_id("stSidebarNav").get_by_text("Department metrics", exact=True).click()
    expect(page.get_by_text("35 studies in the range")).to_be_visible(timeout=60000)  # heaviest page
    expect(page.get_by_test_id("stSidebarNav").get_by_text("Image viewer")).to_have_count(0)
    shot(page, "08_oidc_manager_metrics")
    # The sign-in lives in a cookie: a typed-in URL keeps the user, and the role still applies.
    page.goto(oidc_app + "/metrics")
    expect(page.get_by_text("35 studies in the range")).to_be_visible(timeout=60000)


def test_clerk_from_the_email_table_and_a_user_without_role(page, oidc_app):
    oidc_sign_in(page, oidc_app, "cal")
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_text("Browse studies")).to_be_visible()
    expect(nav.get_by_text("Department metrics")).to_have_count(0)
    page.goto(oidc_app + "/metrics")  # not in the clerk's navigation: the app falls back to home
    expect(page.get_by_text("Page not found")).to_be_visible()
    expect(page.get_by_role("heading", name="Limestone imaging archive")).to_be_visible()
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(0)
    expect(page.get_by_role("heading", name="Department metrics")).to_have_count(0)
    shot(page, "09_oidc_clerk")


def test_signed_in_user_without_a_role_gets_no_pages(page, oidc_app):
    oidc_sign_in(page, oidc_app, "nobody")
    expect(page.get_by_text("Your account has no Limestone role yet")).to_be_visible()
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_text("Browse studies")).to_have_count(0)
    expect(nav.get_by_text("Home")).to_have_count(0)
