"""Family and caregivers in the patients' door (``/me/family``), on ``archive.patient_access.delegation``.

    GET  /me/family                       who may open my records; whose records I may open; grant form
    POST /me/family/grant                 let another account open my records until a date
    POST /me/family/<id>/revoke           end a grant of my records
    POST /me/family/<id>/open             open the records of someone who granted me access
    POST /me/family/own                   back to my own records

Opening someone's records sets a cookie naming the grant; at every request ``acting_for`` checks
the grant again (end date, revocation, disabled accounts) and, on the record pages only
(``DELEGABLE``), answers with the owner's records. Sign-in, security, family and sharing pages
always stay the signed-in account's own. Every use is audited as the delegate's own action, with
``on_behalf_of`` naming the owner (``audit_fields``).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from html import escape
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from archive import i18n
from archive.clock import now_utc
from archive.patient_access import accounts, delegation
from archive.patient_access.accounts import Account, AccountError
from portal import patient_pages as pages
from portal.acting import Acting, set_acting
from portal.i18n import t

FOR_COOKIE = "limestone_me_for"
DELEGABLE = ("/me/study/", "/me/view/", "/me/thumb/", "/me/chunk", "/me/report/", "/me/download", "/me/cd")


def delegable(path: str) -> bool:
    return path == "/me" or path.startswith(DELEGABLE)


def acting_for(home: Any, request: Request, own: Account | None) -> Account | None:
    """The account whose records this request shows: the owner's when the signed-in account opened
    a grant that is still usable and the page is a record page; else the signed-in account."""
    set_acting(None)
    chosen = request.cookies.get(FOR_COOKIE)
    if own is None or not chosen or not delegable(request.url.path):
        return own
    owner = delegation.usable(home, chosen, own)
    if owner is None:           # ended, revoked or someone else's: back to one's own records
        return own
    found = delegation.get(home, chosen)
    acting = Acting(own, owner, chosen, found.label if found else "")
    request.state.acting = acting
    set_acting(acting)
    return owner


def audit_fields(request: Request) -> dict[str, Any]:
    """What the audit event of this request says about who acted: the delegate, for the owner."""
    acting = getattr(request.state, "acting", None)
    if acting is None:
        return {}
    return {"user_id": f"patient:{acting.delegate.account_id}", "user_role": "delegate",
            "account_id": acting.delegate.account_id, "on_behalf_of": acting.owner.account_id}


def _date_input(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")


def family_page(own: Account, given: list[delegation.Delegation], emails: dict[str, str],
                received: list[delegation.Delegation], notice: str | None = None, error: str | None = None) -> str:
    now = now_utc()
    rows = []
    for g in given:
        status = g.status(now)
        revoke = (f'<form method="post" action="/me/family/{escape(g.delegation_id)}/revoke">'
                  f'<button class="quiet" type="submit">{escape(t("Withdraw"))}</button></form>'
                  if status == "active" else "")
        rows.append(f'<li class="grant" id="grant-{escape(g.delegation_id)}"><strong>'
                    f'{escape(emails.get(g.delegate_account_id, ""))}</strong> · '
                    f'{escape(t("until {when}", when=i18n.format_date(g.ends_at, "d MMM y")))} · '
                    f'<span class="status">{escape(t(status))}</span>'
                    f'{" · " + escape(t("granted by the hospital")) if g.granted_by_kind == "clerk" else ""}'
                    f'{revoke}</li>')
    opens = "".join(
        f'<li class="grant"><form method="post" action="/me/family/{escape(g.delegation_id)}/open">'
        f'<button type="submit">{escape(t("Open the records of {name}", name=g.label))}</button></form>'
        f'<span class="muted">{escape(t("until {when}", when=i18n.format_date(g.ends_at, "d MMM y")))}</span></li>'
        for g in received)
    default_end = _date_input(now + timedelta(days=365))
    done = f'<p class="notice" role="status">{escape(notice)}</p>' if notice else ""
    problem = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    body = f"""
<section class="card">
<h1>{escape(t("Family and caregivers"))}</h1>
{done}{problem}
<h2>{escape(t("Records you can open"))}</h2>
<ul class="grants" id="received">{opens or '<li>' + escape(t("Nobody has given you access to their records."))
                                   + '</li>'}</ul>
<h2>{escape(t("Who can open your records"))}</h2>
<ul class="grants" id="given">{"".join(rows) or '<li>' + escape(t("Nobody else can open your records.")) + '</li>'}</ul>
</section>
<section class="card narrow">
<h2>{escape(t("Give someone access to your records"))}</h2>
<p class="muted">{escape(t("They need their own account. They will see your images and reports until the end "
                           "date, and everything they open is recorded under their name."))}</p>
<form method="post" action="/me/family/grant">
<label for="delegate_email">{escape(t("Their e-mail address (the one their account uses)"))}</label>
<input id="delegate_email" name="email" type="email" required maxlength="254" autocomplete="off">
<label for="label">{escape(t("Your name, as they will see it"))}</label>
<input id="label" name="label" type="text" required maxlength="80">
<label for="until">{escape(t("Until"))}</label>
<input id="until" name="until" type="date" required value="{default_end}">
<button type="submit" id="grant-submit">{escape(t("Give access"))}</button>
</form>
</section>"""
    return pages.page(t("Family and caregivers"), body, signed_in=True)


class Family:
    """The handlers; ``door`` is the patients' door (sessions, audit, limits)."""

    def __init__(self, door: Any):
        self.door = door
        self.home = door.home

    def own(self, request: Request) -> Account | None:
        """The signed-in account itself (never the one it opened)."""
        return self.door.account(request)      # /me/family is not a record page: always one's own

    def render(self, own: Account, notice: str | None = None, error: str | None = None,
               status: int = 200) -> HTMLResponse:
        given = delegation.granted_by_owner(self.home, own.account_id)
        emails = {g.delegate_account_id: (accounts.get(self.home, g.delegate_account_id) or own).email
                  for g in given}
        received = delegation.granted_to(self.home, own.account_id)
        return HTMLResponse(family_page(own, given, emails, received, notice, error), status_code=status)

    def page(self, request: Request) -> Response:
        own = self.own(request)
        if own is None:
            return RedirectResponse("/me", status_code=303)
        return self.render(own)

    async def grant(self, request: Request) -> Response:
        own = await run_in_threadpool(self.own, request)
        if own is None:
            return RedirectResponse("/me", status_code=303)
        form = await self.door.portal.small_form(request)
        if isinstance(form, Response):
            return form
        email, label, until = ((form.get(k) or [""])[0].strip() for k in ("email", "label", "until"))
        return await run_in_threadpool(self._grant, request, own, email, label, until)

    def _grant(self, request: Request, own: Account, email: str, label: str, until: str) -> Response:
        try:
            ends = datetime.combine(datetime.strptime(until, "%Y-%m-%d").date(), time(23, 59, 59))
        except ValueError:
            return self.render(own, error=t("Please give the end date."), status=400)
        try:
            delegate = delegation.delegate_account(self.home, email=email, not_account=own.account_id)
            delegation.grant(self.home, own, delegate, ends, label=label, granted_by=f"patient:{own.account_id}",
                             granted_by_kind="patient")
        except AccountError:
            # The same answer whether or not the address has an account: nothing is learnt about others.
            return self.render(own, error=t("Access could not be given. Check that the address is the one "
                                            "their own account uses, and that the end date is in the future."),
                               status=400)
        return self.render(own, notice=t("Done: they can open your records until {when}.",
                                         when=i18n.format_date(ends, "d MMM y")))

    def revoke(self, request: Request) -> Response:
        own = self.own(request)
        if own is None:
            return RedirectResponse("/me", status_code=303)
        try:
            delegation.revoke(self.home, request.path_params["delegation_id"], f"patient:{own.account_id}",
                              owner_account_id=own.account_id)
        except AccountError:
            return self.door.refuse()
        return self.render(own, notice=t("Access withdrawn."))

    def open(self, request: Request) -> Response:
        own = self.own(request)
        chosen = request.path_params["delegation_id"]
        if own is None or delegation.usable(self.home, chosen, own) is None:
            return self.door.refuse()
        response = RedirectResponse("/me", status_code=303)
        response.set_cookie(FOR_COOKIE, chosen, path="/me", httponly=True, secure=self.door.portal.secure_cookie,
                            samesite="strict")
        return response

    def back(self, request: Request) -> Response:
        response = RedirectResponse("/me", status_code=303)
        response.delete_cookie(FOR_COOKIE, path="/me")
        return response


def routes(door: Any) -> list[Route]:
    family = Family(door)
    return [
        Route("/me/family", family.page),
        Route("/me/family/grant", family.grant, methods=["POST"]),
        Route("/me/family/{delegation_id}/revoke", family.revoke, methods=["POST"]),
        Route("/me/family/{delegation_id}/open", family.open, methods=["POST"]),
        Route("/me/family/own", family.back, methods=["POST"]),
    ]
