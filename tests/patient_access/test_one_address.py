"""One e-mail address names one account, so a sign-in code by e-mail can only go to one person."""

from __future__ import annotations

import pytest

from archive.patient_access import accounts, actions
from archive.patient_access.accounts import AccountError
from tests.support.patient_flows import CLERK
from tests.support.patient_world import P_BIRTH, P_NORTH, P_SOUTH, Q_NORTH

pytestmark = pytest.mark.integration
SHARED = "one.address.fake@example.org"


def test_another_patients_address_is_refused_and_the_same_persons_reuses_its_account(own_world):
    archive = own_world.archive()
    first = actions.invite_patient(archive, P_NORTH, SHARED, CLERK, issuer="NORTH", send_email=False).issued
    assert accounts.enrol(archive.home, first.token, P_BIRTH).ok
    # Someone else (patient Q) with P's address: refused, with what to do.
    with pytest.raises(AccountError, match="already used by another patient's account"):
        actions.invite_patient(archive, Q_NORTH, SHARED.upper().replace("@EXAMPLE.ORG", "@example.org"),
                               CLERK, issuer="NORTH", send_email=False)
    # P's own record at the other site: the same person, so P's one account is invited again.
    again = actions.invite_patient(archive, P_SOUTH, SHARED, CLERK, issuer="SOUTH", send_email=False).issued
    assert again.account.account_id == first.account.account_id
    usable = [a for a in accounts.for_email(archive.home, SHARED) if a.status != "disabled"]
    assert [a.account_id for a in usable] == [first.account.account_id]    # sign-in by e-mail: one account
    # Once P's account is disabled, the address is free for whoever the clerk gives it to.
    accounts.disable(archive.home, first.account.account_id, by="cli:fake-clerk")
    q = actions.invite_patient(archive, Q_NORTH, SHARED, CLERK, issuer="NORTH", send_email=False).issued
    assert q.account.account_id != first.account.account_id
