"""Whose records a page shows: the signed-in account's own, or (family and caregivers) an owner's
opened by a delegate. ``portal.family`` sets it per request; the patient pages show ``banner()``."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from html import escape

from archive.patient_access.accounts import Account
from portal.i18n import t


@dataclass(frozen=True)
class Acting:
    delegate: Account
    owner: Account
    delegation_id: str
    label: str


_acting: ContextVar[Acting | None] = ContextVar("limestone_acting", default=None)


def set_acting(acting: Acting | None) -> None:
    _acting.set(acting)


def banner() -> str:
    """On a page shown for someone else: whose records these are, and the way back."""
    acting = _acting.get()
    if acting is None:
        return ""
    text = t("You are looking at the records of {name}, with the access they gave you.", name=acting.label)
    return (f'<section class="card acting" role="note" id="acting"><p>{escape(text)}</p>'
            f'<form method="post" action="/me/family/own"><button class="quiet" type="submit">'
            f'{escape(t("Back to my own records"))}</button></form></section>')
