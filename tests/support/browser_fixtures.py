"""Browser-test fixtures (a pytest plugin): the real app on a seeded archive, and Chromium.

``e2e_seeded`` is the browser tests' own seeded home (the AppTest page tests have ``seeded`` in
tests/dashboard/conftest.py): browser tests change it (links, views), page tests must not see that.
"""

from __future__ import annotations

import pytest

from tests.support import dashboard_seed as seed
from tests.support.browser import CHROMIUM_ARGS, running_app


@pytest.fixture(scope="session")
def e2e_seeded(tmp_path_factory) -> seed.SeededArchive:
    return seed.build(tmp_path_factory.mktemp("e2e") / "home")


@pytest.fixture(scope="session")
def app_url(e2e_seeded, tmp_path_factory):
    with running_app(e2e_seeded.home, tmp_path_factory.mktemp("log")) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import expect, sync_playwright
    # A shared 2-core machine can be slow; assertions poll up to this long before failing.
    expect.set_options(timeout=20000)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(20000)
    yield pg
    context.close()
