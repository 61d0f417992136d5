"""The patients' own door in the portal (``/me``): enrolment, sign-in, records, downloads, shares.

Routes (a study is named by its per-account ``ref``, a series and a report by their number; no
UID, patient id or link token of another person ever resolves)::

    GET  /me                         records (signed in) or the sign-in page
    GET  /me/enrol/<token>           birth-date check of an invitation; POST checks it
    GET  /me/setup                   choose a passkey or e-mail codes (after enrolment)
    POST /me/setup/email             send an enrolment code by e-mail
    POST /me/code/send, /me/code     e-mail a sign-in code; check it
    POST /me/passkey/register/options, /me/passkey/register, /me/passkey/signin/options, /me/passkey/signin
    GET  /me/study/<ref>             a study: reports, series
    GET  /me/view/<ref>/<n>          the client-side viewer; POST /me/chunk its frames; GET /me/thumb/<ref>/<n>.png
    GET  /me/report/<ref>/<n>.pdf    a released report's PDF
    GET  /me/download?s=<ref>...     ZIP + DICOMDIR of the chosen studies, streamed
    GET  /me/cd?s=<ref>...           a CD/USB image (ISO, IHE PDI) of the chosen studies
    GET  /me/share/new?s=<ref>...    share form; POST /me/share creates the link
    GET  /me/shares                  own shares and who opened what; POST /me/shares/<id>/revoke
    GET  /me/security                passkeys, sessions; POST /me/signout, /me/signout-all

Every refusal is the same plain 404 page. Every action is audited with the account's id.
"""

from __future__ import annotations

import inspect
import json
import logging
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from archive import audit, patient_access
from archive.media import pdi
from archive.media.dicomdir import plan as media_plan
from archive.patient_access import codes, mail, passkeys, records
from archive.patient_access import shares as patient_shares
from archive.patient_access.accounts import Account
from archive.reports import release
from archive.sharing.links import ShareError
from archive.sharing.scope import Contents
from archive.sharing.scope import contents as read_contents
from archive.vault import VaultError
from archive.viewing import frames as viewer_frames
from portal import family
from portal import patient_pages as pages
from portal.i18n import t
from portal.pages import has_images
from portal.streaming import read_ahead, zip_download

log = logging.getLogger("limestone.portal.patients")

COOKIE = "limestone_me"
CODE_COOKIE = "limestone_me_code"
JSON_BYTES = 16384
ZIP_README = b"""These are the original DICOM files of your imaging studies, exactly as the hospitals
archived them, with a DICOMDIR index. Open them with a DICOM viewer or give the folder to your doctor.
"""


class PatientDoor:
    """Handlers of ``/me``; ``portal`` is the share portal (store, vault, limits, audit plumbing)."""

    def __init__(self, portal: Any):
        self.portal = portal
        self.archive = portal.archive
        self.home = portal.home
        s = self.archive.settings
        self.idle = int(s.patient_session_minutes)
        self.max_hours = int(s.patient_session_max_hours)
        self.lockout = int(s.patient_lockout_attempts)
        self.delay = int(s.patient_report_delay_hours)
        self.rp = passkeys.RelyingParty.from_base_url(str(s.portal_base_url))

    # ---- plumbing --------------------------------------------------------------------------
    def audit(self, request: Request, action: str, account: Account | None, studies=(), outcome: str = "success",
              detail: str | None = None, link_id: str | None = None) -> None:
        ip, agent = self.portal.client(request)
        audit.record_many(self.home, audit.AuditEvent(
            action=action, user_id=f"patient:{account.account_id}" if account else None, user_role="patient",
            patient_key=account.patient_key if account else None, outcome=outcome, source="portal",
            detail=detail, link_id=link_id, ip=ip, user_agent=agent,
            account_id=account.account_id if account else None) if not family.audit_fields(request) else
            audit.AuditEvent(action=action, patient_key=account.patient_key if account else None, outcome=outcome,
                             source="portal", detail=detail, link_id=link_id, ip=ip, user_agent=agent,
                             **family.audit_fields(request)), list(studies))

    def account(self, request: Request) -> Account | None:
        own = patient_access.session_account(self.home, request.cookies.get(COOKIE), idle_minutes=self.idle)
        return family.acting_for(self.home, request, own)     # a delegate opening someone's records

    def refuse(self, status: int = 404) -> HTMLResponse:
        return HTMLResponse(pages.refusal(), status_code=status)

    def too_many(self) -> HTMLResponse:
        return HTMLResponse(pages.message(t("Please wait"), t("Too many attempts. Please wait a few minutes.")),
                            status_code=429, headers={"retry-after": "60"})

    def allow_attempt(self, request: Request) -> bool:
        ip, _ = self.portal.client(request)
        return self.portal.attempts.allow(ip or "unknown")

    def signed_in_response(self, response: Response, account: Account, method: str) -> Response:
        secret = patient_access.start_session(self.home, account.account_id, method, idle_minutes=self.idle,
                                              max_hours=self.max_hours)
        response.set_cookie(COOKIE, secret, max_age=self.max_hours * 3600, path="/me", httponly=True,
                            secure=self.portal.secure_cookie, samesite="strict")
        return response

    async def json_body(self, request: Request) -> Any:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await request.body()
        if kind != "application/json" or len(body) > JSON_BYTES:
            return None
        try:
            return json.loads(body or b"{}")
        except ValueError:
            return None

    def studies(self, account: Account) -> list[dict]:
        cur = self.portal.cursor()
        try:
            return records.studies(cur, account.account_id, account.patient_key)
        finally:
            cur.close()

    def contents(self, rows: list[dict]) -> Contents:
        cur = self.portal.cursor()
        try:
            return read_contents(cur, [r["study_instance_uid"] for r in rows])
        finally:
            cur.close()

    def reports(self, study_uid: str) -> list[dict]:
        cur = self.portal.cursor()
        try:
            return records.released_reports(cur, study_uid, self.delay)
        finally:
            cur.close()

    def chosen(self, request: Request) -> tuple[Account, list[dict]] | Response:
        """The signed-in account and the studies its ``?s=`` references chose; nothing chosen goes
        back to the list, and a reference that is not the account's (or no account) is refused."""
        account = self.account(request)
        if account is None:
            return self.refuse()
        refs = request.query_params.getlist("s")[:200]
        if not refs:
            return RedirectResponse("/me", status_code=303)
        picked = records.resolve(self.studies(account), refs)
        return self.refuse() if picked is None else (account, picked)

    # ---- enrolment -------------------------------------------------------------------------
    def enrol_page(self, request: Request) -> Response:
        token = request.path_params["token"]
        if patient_access.find_invitation(self.home, token) is None:
            return self.refuse()
        return HTMLResponse(pages.enrol_form(f"/me/enrol/{token}"))

    async def enrol(self, request: Request) -> Response:
        token = request.path_params["token"]
        if not self.allow_attempt(request):
            return self.too_many()
        form = await self.portal.small_form(request)
        if isinstance(form, Response):
            return form
        answer = (form.get("birth_date") or [""])[0][:32]
        invitation = await run_in_threadpool(patient_access.find_invitation, self.home, token)
        result = await run_in_threadpool(patient_access.enrol, self.home, token, answer, self.lockout)
        if result.ok and result.account is not None:
            await run_in_threadpool(self.audit, request, "enrol", result.account)
            return self.signed_in_response(RedirectResponse("/me/setup", status_code=303), result.account,
                                           "enrolment")
        if invitation is None:
            return self.refuse()
        who = patient_access.get(self.home, invitation.account_id)
        await run_in_threadpool(self.audit, request, "sign_in", who, (), "failure", "enrolment: wrong birth date")
        if result.locked_now:
            await run_in_threadpool(self.audit, request, "lockout", who, (), "failure", "invitation locked")
            return self.refuse()
        return HTMLResponse(pages.enrol_form(f"/me/enrol/{token}", t("The date of birth does not match. "
                                                                      "Please check it and try again.")),
                            status_code=401)

    def setup_session(self, request: Request) -> tuple[Account, str] | None:
        return patient_access.current_session(self.home, request.cookies.get(COOKIE), idle_minutes=self.idle)

    def setup(self, request: Request) -> Response:
        if self.setup_session(request) is None:
            return RedirectResponse("/me", status_code=303)
        return HTMLResponse(pages.setup_page())

    def send_code(self, request: Request, account: Account, purpose: str) -> Response:
        issued = codes.issue(self.home, account.account_id, purpose,
                             int(self.archive.settings.patient_code_minutes))
        subject, body = mail.code_message(issued.code, int(self.archive.settings.patient_code_minutes))
        try:
            mail.send(self.archive.settings.smtp_url, self.archive.settings.smtp_sender, account.email, subject, body)
            self.audit(request, "code_sent", account, detail=purpose)
        except mail.MailError as exc:
            log.warning("sign-in code not sent: %s", exc)
        response = RedirectResponse("/me/code", status_code=303)
        response.set_cookie(CODE_COOKIE, issued.code_id, max_age=3600, path="/me", httponly=True,
                            secure=self.portal.secure_cookie, samesite="strict")
        return response

    async def setup_email(self, request: Request) -> Response:
        found = await run_in_threadpool(self.setup_session, request)
        if found is None:
            return RedirectResponse("/me", status_code=303)
        return await run_in_threadpool(self.send_code, request, found[0], "enrol")

    # ---- sign-in ---------------------------------------------------------------------------
    def records_or_sign_in(self, request: Request) -> Response:
        account = self.account(request)
        if account is None:
            return HTMLResponse(pages.sign_in_page())
        rows = self.studies(account)
        self.audit(request, "view", account, detail=f"records list: {len(rows)} studies")
        return HTMLResponse(pages.records_page(rows))

    async def code_send(self, request: Request) -> Response:
        if not self.allow_attempt(request):
            return self.too_many()
        form = await self.portal.small_form(request)
        if isinstance(form, Response):
            return form
        email = (form.get("email") or [""])[0][:254]
        found = [a for a in await run_in_threadpool(patient_access.for_email, self.home, email) if a.usable]
        if found:
            return await run_in_threadpool(self.send_code, request, found[-1], "sign_in")
        # The same answer whether or not an account uses the address.
        response = RedirectResponse("/me/code", status_code=303)
        response.set_cookie(CODE_COOKIE, "C" + secrets.token_hex(8), max_age=3600, path="/me", httponly=True,
                            secure=self.portal.secure_cookie, samesite="strict")
        return response

    def code_page(self, request: Request) -> Response:
        return HTMLResponse(pages.code_form())

    async def code_check(self, request: Request) -> Response:
        if not self.allow_attempt(request):
            return self.too_many()
        form = await self.portal.small_form(request)
        if isinstance(form, Response):
            return form
        answer = (form.get("code") or [""])[0][:16]
        code_id = request.cookies.get(CODE_COOKIE) or ""
        result = await run_in_threadpool(codes.check, self.home, code_id, answer, self.lockout)
        account = patient_access.get(self.home, result.account_id) if result.account_id else None
        if result.ok and account is not None and account.status != "disabled" and account.locked_at is None:
            if account.status == "invited":
                return self.refuse()
            previous = request.cookies.get(COOKIE)
            if previous:
                patient_access.end_session(self.home, previous)
            await run_in_threadpool(self.audit, request, "sign_in", account, detail="e-mail code")
            response = self.signed_in_response(RedirectResponse("/me", status_code=303), account, "email_code")
            response.delete_cookie(CODE_COOKIE, path="/me")
            return response
        if account is not None:
            locked = await run_in_threadpool(patient_access.sign_in_failed, self.home, account.account_id,
                                             self.lockout)
            await run_in_threadpool(self.audit, request, "sign_in", account, (), "failure", "wrong e-mail code")
            if locked:
                await run_in_threadpool(self.audit, request, "lockout", account, (), "failure", "account locked")
        return HTMLResponse(pages.code_form(t("The code is not right or has expired. Check it, or start again to "
                                              "get a new one.")), status_code=401)

    async def passkey_register_options(self, request: Request) -> Response:
        found = await run_in_threadpool(self.setup_session, request)
        if found is None:
            return JSONResponse({"ok": False}, status_code=404)
        account = found[0]
        options = await run_in_threadpool(passkeys.registration_options, self.home, self.rp, account.account_id,
                                          account.email)
        return JSONResponse(options)

    async def passkey_register(self, request: Request) -> Response:
        found = await run_in_threadpool(self.setup_session, request)
        body = await self.json_body(request)
        if found is None or not isinstance(body, dict):
            return JSONResponse({"ok": False}, status_code=404)
        account, method = found
        ok = await run_in_threadpool(passkeys.register, self.home, self.rp, account.account_id,
                                     str(body.get("challenge_id") or ""), body.get("credential"))
        if not ok:
            return JSONResponse({"ok": False}, status_code=400)
        await run_in_threadpool(self.audit, request, "sign_in", account, detail="passkey created")
        response = JSONResponse({"ok": True})
        if method == "enrolment":   # the enrolment session becomes a full one
            patient_access.end_session(self.home, request.cookies.get(COOKIE) or "")
            return self.signed_in_response(response, account, "passkey")
        return response

    async def passkey_signin_options(self, request: Request) -> Response:
        if not self.allow_attempt(request):
            return JSONResponse({"ok": False}, status_code=429)
        return JSONResponse(await run_in_threadpool(passkeys.authentication_options, self.home, self.rp))

    async def passkey_signin(self, request: Request) -> Response:
        if not self.allow_attempt(request):
            return JSONResponse({"ok": False}, status_code=429)
        body = await self.json_body(request)
        if not isinstance(body, dict):
            return JSONResponse({"ok": False}, status_code=400)
        result = await run_in_threadpool(passkeys.authenticate, self.home, self.rp,
                                         str(body.get("challenge_id") or ""), body.get("credential"))
        account = patient_access.get(self.home, result.account_id) if result.account_id else None
        if result.ok and account is not None and account.usable:
            await run_in_threadpool(self.audit, request, "sign_in", account, detail="passkey")
            return self.signed_in_response(JSONResponse({"ok": True}), account, "passkey")
        if account is not None:
            locked = await run_in_threadpool(patient_access.sign_in_failed, self.home, account.account_id,
                                             self.lockout)
            await run_in_threadpool(self.audit, request, "sign_in", account, (), "failure", "passkey refused")
            if locked:
                await run_in_threadpool(self.audit, request, "lockout", account, (), "failure", "account locked")
        return JSONResponse({"ok": False}, status_code=401)

    def signout(self, request: Request) -> Response:
        account = self.account(request)
        patient_access.end_session(self.home, request.cookies.get(COOKIE) or "")
        if account is not None:
            self.audit(request, "sign_out", account)
        response = RedirectResponse("/me", status_code=303)
        response.delete_cookie(COOKIE, path="/me")
        return response

    def signout_all(self, request: Request) -> Response:
        account = self.account(request)
        if account is not None:
            ended = patient_access.end_all_sessions(self.home, account.account_id)
            self.audit(request, "sign_out", account, detail=f"everywhere: {ended} sessions")
        response = RedirectResponse("/me", status_code=303)
        response.delete_cookie(COOKIE, path="/me")
        return response

    # ---- records ---------------------------------------------------------------------------
    def _study(self, request: Request) -> tuple[Account, dict, Contents] | None:
        account = self.account(request)
        if account is None:
            return None
        picked = records.resolve(self.studies(account), [request.path_params["ref"]])
        if picked is None:
            return None
        found = self.contents(picked)
        return (account, picked[0], found) if found.studies else None

    @staticmethod
    def image_series(contents: Contents) -> list:
        """The study's series that hold images (reports and other documents are shown as reports)."""
        return [s for s in contents.studies[0].series if has_images(s.instances)]

    def study(self, request: Request) -> Response:
        found = self._study(request)
        if found is None:
            return self.refuse()
        account, row, contents = found
        reports = self.reports(row["study_instance_uid"])
        series = [{"modality": s.modality, "series_description": s.series_description, "instances": s.instances}
                  for s in self.image_series(contents)]
        self.audit(request, "view", account, [row["study_instance_uid"]],
                   detail="study and reports" if reports else "study")
        return HTMLResponse(pages.study_page(row, series, reports))

    def _series(self, request: Request, n: int):
        found = self._study(request)
        if found is None:
            return None
        account, row, contents = found
        series = self.image_series(contents)
        if not 1 <= n <= len(series):
            return None
        return account, row, series[n - 1]

    def viewer(self, request: Request) -> Response:
        n = request.path_params["n"]
        found = self._series(request, n)
        if found is None:
            return self.refuse()
        account, row, series = found
        self.audit(request, "view", account, [row["study_instance_uid"]], detail=f"series {n}")
        count = len(viewer_frames.images(series.instances))
        return HTMLResponse(pages.viewer_page(row, {"modality": series.modality,
                                                    "series_description": series.series_description}, n, count))

    async def chunk(self, request: Request) -> Response:
        body = await request.body()
        try:
            ask = json.loads(body) if len(body) <= 1024 else None
            ref, n, start, count = str(ask["study"]), int(ask["series"]), int(ask["start"]), int(ask["count"])
        except (ValueError, KeyError, TypeError):
            return self.refuse()
        request.path_params["ref"] = ref
        found = await run_in_threadpool(self._series, request, n)
        if found is None:
            return self.refuse()
        images = viewer_frames.images(found[2].instances)
        data = await run_in_threadpool(viewer_frames.chunk, images, start, count, self.portal.decoded)
        return Response(data, media_type="application/octet-stream")

    def thumb(self, request: Request) -> Response:
        from archive.dicom import pixels
        found = self._series(request, request.path_params["n"])
        if found is None or not found[2].instances:
            return self.refuse()
        rows = found[2].instances
        try:
            png = pixels.thumbnail(self.archive.vault.get(rows[len(rows) // 2]["content_hash"]))
        except (VaultError, pixels.PixelError):
            return Response(status_code=204)
        return Response(png, media_type="image/png")

    def report_pdf(self, request: Request) -> Response:
        found = self._study(request)
        if found is None:
            return self.refuse()
        account, row, _ = found
        reports = self.reports(row["study_instance_uid"])
        n = request.path_params["n"]
        if not 1 <= n <= len(reports) or not release.has_document(reports[n - 1]):
            return self.refuse()
        try:
            document = release.document(self.archive.vault, reports[n - 1])
        except VaultError:
            document = None
        if document is None:
            return HTMLResponse(pages.message(t("Report not available"), t("Please contact the hospital."),
                                              signed_in=True), status_code=404)
        self.audit(request, "download", account, [row["study_instance_uid"]], detail=f"report PDF {n}")
        return StreamingResponse(read_ahead(iter(document.chunks())), media_type="application/pdf", headers={
            "content-length": str(document.size), "content-disposition": f'attachment; filename="report-{n}.pdf"'})

    def download(self, request: Request) -> Response:
        chosen = self.chosen(request)
        if isinstance(chosen, Response):
            return chosen
        account, picked = chosen
        media = media_plan(self.contents(picked), self.archive.vault)
        self.audit(request, "download", account, [r["study_instance_uid"] for r in picked],
                   detail=f"zip: {len(media.files) + len(media.unindexed)} files, {media.bytes} bytes")
        return zip_download(media, self.archive.vault, ZIP_README, "my-images.zip")

    def cd_image(self, request: Request) -> Response:
        chosen = self.chosen(request)
        if isinstance(chosen, Response):
            return chosen
        account, picked = chosen
        contents = self.contents(picked)
        cur = self.portal.cursor()
        try:
            reports = {s.study_instance_uid: records.released_reports(cur, s.study_instance_uid, self.delay)
                       for s in contents.studies}
        finally:
            cur.close()
        folder = Path(tempfile.mkdtemp(prefix="limestone-me-cd-"))
        try:
            result = pdi.export(contents, self.archive.vault, folder / "images.iso",
                                created_by=f"patient:{account.account_id}", reports=reports)
        except pdi.PdiError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            log.warning("patient CD image not made: %s", exc)
            return HTMLResponse(pages.message(t("Not available"), t("The disc image could not be made. "
                                                                   "Please try the ZIP download."), True),
                                status_code=503)
        self.audit(request, "export", account, [r["study_instance_uid"] for r in picked],
                   detail=f"iso, {result.files} files")
        from starlette.background import BackgroundTask
        return FileResponse(result.path, media_type="application/x-iso9660-image", filename="my-images.iso",
                            background=BackgroundTask(shutil.rmtree, folder, True))

    # ---- shares ----------------------------------------------------------------------------
    def share_new(self, request: Request) -> Response:
        chosen = self.chosen(request)
        if isinstance(chosen, Response):
            return chosen
        account, picked = chosen
        s = self.archive.settings
        return HTMLResponse(pages.share_form(picked, max_days=int(s.share_max_days),
                                             default_days=int(s.share_default_days)))

    async def share(self, request: Request) -> Response:
        account = await run_in_threadpool(self.account, request)
        form = await self.portal.small_form(request)
        if account is None or isinstance(form, Response):
            return self.refuse()
        picked = await run_in_threadpool(lambda: records.resolve(self.studies(account), form.get("s", [])[:200]))
        if picked is None:
            return self.refuse()
        doctor = (form.get("doctor") or [""])[0][:120]
        email = (form.get("doctor_email") or [""])[0][:254].strip() or None
        permissions = tuple(p for p in form.get("perm", []) if p in ("view", "download"))
        try:
            days = int((form.get("days") or ["0"])[0])
            ip, agent = self.portal.client(request)
            issued = await run_in_threadpool(lambda: patient_shares.share(
                self.archive, account, picked, recipient_name=doctor, recipient_email=email,
                permissions=permissions, days=days, ip=ip, user_agent=agent))
        except (ShareError, ValueError) as exc:
            s = self.archive.settings
            return HTMLResponse(pages.share_form(picked, str(exc), int(s.share_max_days), int(s.share_default_days)),
                                status_code=400)
        url = issued.url(self.portal.base_url)
        emailed = False
        if email:
            subject, body = mail.doctor_share_message(url, (issued.link.expires_at - issued.link.created_at).days)
            try:
                await run_in_threadpool(mail.send, self.archive.settings.smtp_url, self.archive.settings.smtp_sender,
                                        email, subject, body)
                emailed = True
            except mail.MailError as exc:
                log.warning("share e-mail not sent: %s", exc)
        return HTMLResponse(pages.shared_page(url, issued.passcode or "", issued.link.expires_at, emailed))

    def shares(self, request: Request) -> Response:
        account = self.account(request)
        if account is None:
            return RedirectResponse("/me", status_code=303)
        links = patient_shares.own_links(self.home, account)
        names = {r["study_instance_uid"]: f'{r.get("study_description") or t("Imaging study")}'
                 for r in self.studies(account)}
        return HTMLResponse(pages.shares_page(links, patient_shares.openings(self.home, account), names))

    def revoke(self, request: Request) -> Response:
        account = self.account(request)
        if account is None:
            return self.refuse()
        ip, agent = self.portal.client(request)
        link = patient_shares.revoke(self.archive, account, request.path_params["link_id"], ip, agent)
        if link is None:
            return self.refuse()
        return RedirectResponse("/me/shares", status_code=303)

    def security(self, request: Request) -> Response:
        account = self.account(request)
        if account is None:
            return RedirectResponse("/me", status_code=303)
        from archive.patient_access.accounts import open_sessions
        return HTMLResponse(pages.security_page(passkeys.list_passkeys(self.home, account.account_id),
                                                open_sessions(self.home, account.account_id)))


def _same_origin(door: PatientDoor, handler: Callable) -> Callable:
    """A POST handler that refuses a request another site's page sent, on top of the SameSite=Strict
    cookies: by ``Sec-Fetch-Site`` where the browser sends it, else by ``Origin`` (the portal's
    no-referrer policy makes a browser send ``Origin: null`` on its own forms, so null passes)."""
    async def checked(request: Request) -> Response:
        origin = request.headers.get("origin")
        fetch_site = request.headers.get("sec-fetch-site")
        if fetch_site in ("cross-site", "same-site") or (
                origin and origin != "null" and origin.rstrip("/") != door.rp.origin):
            return door.refuse(403)
        if inspect.iscoroutinefunction(handler):
            return await handler(request)
        return await run_in_threadpool(handler, request)
    return checked


def routes(portal: Any) -> list[Route]:
    door = PatientDoor(portal)
    portal.patient_door = door
    table = [
        Route("/me", door.records_or_sign_in),
        Route("/me/enrol/{token}", door.enrol_page, methods=["GET"]),
        Route("/me/enrol/{token}", door.enrol, methods=["POST"]),
        Route("/me/setup", door.setup),
        Route("/me/setup/email", door.setup_email, methods=["POST"]),
        Route("/me/code/send", door.code_send, methods=["POST"]),
        Route("/me/code", door.code_page, methods=["GET"]),
        Route("/me/code", door.code_check, methods=["POST"]),
        Route("/me/passkey/register/options", door.passkey_register_options, methods=["POST"]),
        Route("/me/passkey/register", door.passkey_register, methods=["POST"]),
        Route("/me/passkey/signin/options", door.passkey_signin_options, methods=["POST"]),
        Route("/me/passkey/signin", door.passkey_signin, methods=["POST"]),
        Route("/me/signout", door.signout, methods=["POST"]),
        Route("/me/signout-all", door.signout_all, methods=["POST"]),
        Route("/me/study/{ref}", door.study),
        Route("/me/view/{ref}/{n:int}", door.viewer),
        Route("/me/thumb/{ref}/{n:int}.png", door.thumb),
        Route("/me/chunk", door.chunk, methods=["POST"]),
        Route("/me/report/{ref}/{n:int}.pdf", door.report_pdf),
        Route("/me/download", door.download),
        Route("/me/cd", door.cd_image),
        Route("/me/share/new", door.share_new),
        Route("/me/share", door.share, methods=["POST"]),
        Route("/me/shares", door.shares),
        Route("/me/shares/{link_id}/revoke", door.revoke, methods=["POST"]),
        Route("/me/security", door.security),
        *family.routes(door),
    ]
    return [Route(r.path, _same_origin(door, r.endpoint), methods=["POST"]) if r.methods and "POST" in r.methods
            else r for r in table]
