"""Small helpers for the sharing tests: issue a link as a clerk, open it as a recipient."""

from __future__ import annotations

import requests

from archive.sharing import actions as share_actions
from archive.sharing.actions import Actor

CLERK = Actor("clerk@example.org", "clerk", source="dashboard", ip="10.0.0.5", user_agent="pytest")


def issue(shared, *roles: str, **options):
    """A link to the studies named by role, issued as the dashboard's clerk would."""
    options.setdefault("recipient_name", "Test Recipient")
    return share_actions.create(shared.archive(), [shared.studies[r] for r in roles], CLERK,
                                con=shared.store(), **options)


def link_url(portal, issued) -> str:
    return f"{portal.url}/s/{issued.token}"


def signed_in(portal, issued, **kw) -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = "pytest-recipient"
    response = session.post(link_url(portal, issued), data={"answer": issued.passcode},
                            allow_redirects=False, **kw)
    assert response.status_code == 303, response.text
    return session
