"""HTML of the patients' own pages (``/me``): phone-first, every value escaped, every text through ``t()``.

Scripts and styles come from ``/static`` (the portal's Content Security Policy forbids inline ones);
data for scripts travels in escaped ``data-`` attributes.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from html import escape
from typing import Any

from archive import i18n
from archive.dicom.pixels import PRESETS
from archive.reports import release
from portal.acting import banner as acting_banner
from portal.i18n import t
from portal.pages import language_switch, series_tile, viewer_text


def page(title: str, body: str, signed_in: bool = False, lang: str = "en") -> str:
    nav = ""
    if signed_in:
        nav = (f'<nav aria-label="{escape(t("Main"))}"><a href="/me">{escape(t("My records"))}</a>'
               f'<a href="/me/shares">{escape(t("My shares"))}</a>'
               f'<a href="/me/family">{escape(t("Family and caregivers"))}</a>'
               f'<a href="/me/security">{escape(t("Sign-in and security"))}</a>'
               f'<form method="post" action="/me/signout"><button class="link" type="submit">'
               f'{escape(t("Sign out"))}</button></form></nav>')
    return f"""<!doctype html>
<html lang="{escape(i18n.current())}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{escape(title)} · Limestone</title>
<link rel="stylesheet" href="/static/portal.css">
<link rel="stylesheet" href="/static/me.css">
</head><body class="me">
<a class="skip" href="#main">{escape(t("Skip to content"))}</a>
<header><span class="brand">Limestone</span> <span class="tag">{escape(t("My images and reports"))}</span>
{language_switch()}</header>
{nav}
<main id="main" tabindex="-1">
{acting_banner()}{body}
</main>
<footer>{escape(t("Every access to your records is recorded."))}</footer>
<script src="/static/me.js"></script>
</body></html>"""


def message(title: str, text: str, signed_in: bool = False) -> str:
    return page(title, f'<section class="card"><h1>{escape(title)}</h1><p>{escape(text)}</p></section>', signed_in)


def refusal() -> str:
    return message(t("Not available"), t("This page cannot be opened. The invitation or code may have expired "
                                         "or been used already. Please contact the imaging department."))


def _error(error: str | None) -> str:
    return f'<p class="error" role="alert">{escape(error)}</p>' if error else ""


def enrol_form(action: str, error: str | None = None) -> str:
    return page(t("Set up your account"), f"""
<section class="card narrow">
<h1>{escape(t("Set up your account"))}</h1>
<p>{escape(t("To check that this invitation is yours, enter your date of birth."))}</p>
{_error(error)}
<form method="post" action="{escape(action)}">
<label for="birth_date">{escape(t("Date of birth"))}</label>
<input id="birth_date" name="birth_date" type="date" required autocomplete="bday">
<button type="submit">{escape(t("Continue"))}</button>
</form>
</section>""")


def setup_page(error: str | None = None) -> str:
    return page(t("Choose how to sign in"), f"""
<section class="card narrow">
<h1>{escape(t("Choose how to sign in"))}</h1>
<p>{escape(t("A passkey is the safest: your phone or computer unlocks it with your fingerprint, face or PIN."))}</p>
{_error(error)}
<button type="button" id="passkey-register" data-next="/me">{escape(t("Create a passkey"))}</button>
<p class="error" role="alert" id="passkey-error" hidden>{escape(t("The passkey could not be created. "
                                                                  "Please try again or use e-mail codes."))}</p>
<hr>
<p>{escape(t("No passkey? We can send a one-time code to your e-mail address each time you sign in."))}</p>
<form method="post" action="/me/setup/email">
<button class="quiet" type="submit" id="use-email">{escape(t("Use e-mail codes"))}</button>
</form>
</section>""")


def sign_in_page(error: str | None = None) -> str:
    return page(t("Sign in"), f"""
<section class="card narrow">
<h1>{escape(t("Sign in to see your images"))}</h1>
{_error(error)}
<button type="button" id="passkey-signin" data-next="/me">{escape(t("Sign in with a passkey"))}</button>
<p class="error" role="alert" id="passkey-error" hidden>{escape(t("Signing in with a passkey did not work. "
                                                                  "Try again, or get a code by e-mail."))}</p>
<hr>
<form method="post" action="/me/code/send">
<label for="email">{escape(t("Or get a code by e-mail"))}</label>
<input id="email" name="email" type="email" required autocomplete="email">
<button class="quiet" type="submit">{escape(t("Send me a code"))}</button>
</form>
</section>""")


def code_form(error: str | None = None) -> str:
    return page(t("Enter your code"), f"""
<section class="card narrow">
<h1>{escape(t("Enter your code"))}</h1>
<p>{escape(t("If an account uses this address, we sent it a code. It works once, for a few minutes."))}</p>
{_error(error)}
<form method="post" action="/me/code">
<label for="code">{escape(t("Code"))}</label>
<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required
 pattern="[0-9 ]*" maxlength="12">
<button type="submit">{escape(t("Sign in"))}</button>
</form>
<p><a href="/me">{escape(t("Start again"))}</a></p>
</section>""")


def _date(value: Any) -> str:
    return i18n.format_date(value, "d MMM y") if isinstance(value, date) else t("date unknown")


def _site(study: dict) -> str:
    return str(study.get("site_name") or study.get("institution_name") or study.get("site") or "")


_DOCUMENT_MODALITIES = frozenset({"SR", "PR", "KO", "DOC", "REG", "SEG"})   # reports and such, not images


def _modalities(study: dict) -> str:
    return ", ".join(m for m in (study.get("modalities") or []) if m not in _DOCUMENT_MODALITIES)


def records_page(studies: list[dict]) -> str:
    """Every study, newest first, with a choice box for sharing and downloads."""
    if not studies:
        body = f'<section class="card"><h1>{escape(t("My records"))}</h1><p>{escape(t("No images yet."))}</p></section>'
        return page(t("My records"), body, signed_in=True)
    rows = []
    for s in studies:
        ref = escape(s["ref"])
        rows.append(f"""<li class="study" id="study-{ref}">
<input type="checkbox" name="s" value="{ref}" id="pick-{ref}" aria-label="{escape(t("Choose this study"))}">
<a class="study-link" href="/me/study/{ref}">
<strong class="desc">{escape(s.get("study_description") or t("Imaging study"))}</strong>
<span class="meta"><span class="date">{escape(_date(s.get("study_date")))}</span> ·
<span class="modality">{escape(_modalities(s))}</span> · <span class="site">{escape(_site(s))}</span></span>
</a></li>""")
    return page(t("My records"), f"""
<section class="card">
<h1>{escape(t("My records"))}</h1>
<p class="muted">{escape(t("Your imaging studies from every hospital of the region, newest first."))}</p>
<form method="get" action="/me/share/new" id="records">
<ul class="studies">{"".join(rows)}</ul>
<div class="actions">
<button type="submit" id="share-chosen">{escape(t("Share the chosen studies"))}</button>
<button class="quiet" type="submit" formaction="/me/download" id="download-chosen">
{escape(t("Download the chosen studies (ZIP)"))}</button>
<button class="quiet" type="submit" formaction="/me/cd" id="cd-chosen">
{escape(t("CD/USB image of the chosen studies"))}</button>
</div>
</form>
</section>""", signed_in=True)


def _reports(ref: str, reports: list[dict]) -> str:
    parts = []
    for n, report in enumerate(reports, start=1):
        pdf = (f'<p><a class="report-pdf" href="/me/report/{escape(ref)}/{n}.pdf" download>'
               f'{escape(t("Download the report (PDF)"))}</a></p>' if release.has_document(report) else "")
        text = (f'<pre class="report">{escape(report["text"])}</pre>' if report.get("text") else "")
        parts.append(f'<article class="report" id="report-{n}"><h2>{escape(t("Report"))}</h2>'
                     f'<p class="muted">{escape(release.heading(report))}</p>{text}{pdf}</article>')
    return "".join(parts)


def study_page(study: dict, series: list[dict], reports: list[dict]) -> str:
    ref = escape(study["ref"])
    tiles = []
    for n, r in enumerate(series, start=1):
        label = f'{r.get("modality") or ""} {r.get("series_description") or ""}'.strip() or t("Series {n}", n=n)
        tiles.append(series_tile(r, label, f"/me/view/{ref}/{n}", f"/me/thumb/{ref}/{n}.png"))
    return page(study.get("study_description") or t("Imaging study"), f"""
<section class="card">
<p><a href="/me">&larr; {escape(t("My records"))}</a></p>
<h1>{escape(study.get("study_description") or t("Imaging study"))}</h1>
<p class="muted">{escape(_date(study.get("study_date")))} · {escape(_modalities(study))} · {escape(_site(study))}</p>
<p><a class="button" href="/me/download?s={ref}" download>{escape(t("Download the original images (ZIP)"))}</a>
<a class="button quiet" href="/me/share/new?s={ref}">{escape(t("Share with a doctor"))}</a></p>
{_reports(study["ref"], reports) or '<p class="muted">' + escape(t("No report is available yet.")) + '</p>'}
<h2>{escape(t("Images"))}</h2>
<div class="series">{"".join(tiles)}</div>
</section>""", signed_in=True)


def viewer_page(study: dict, series: dict, n: int, count: int) -> str:
    label = f'{series.get("modality") or ""} {series.get("series_description") or ""}'.strip()
    config = json.dumps({
        "panes": [{"url": "/me/chunk", "body": {"study": study["ref"], "series": n}, "count": count, "label": label}],
        "presets": {k: [w.center, w.width] for k, w in PRESETS.items()},
        "help": t("Swipe up or down (or use the arrow keys) to move through the images; pick a window or press "
                  "Invert; + and − zoom."), "text": viewer_text()})
    return page(t("Image viewer"), f"""
<section class="card viewer">
<p><a href="/me/study/{escape(study['ref'])}">&larr;
{escape(study.get("study_description") or t("Imaging study"))}</a></p>
<h1>{escape(label or t("Images"))}</h1>
<div data-limestone-viewer data-config="{escape(config, quote=True)}"></div>
</section>
<link rel="stylesheet" href="/static/viewer.css">
<script src="/static/viewer.js"></script>""", signed_in=True)


def share_form(studies: list[dict], error: str | None = None, max_days: int = 90, default_days: int = 30) -> str:
    chosen = "".join(f'<li>{escape(s.get("study_description") or t("Imaging study"))} · '
                     f'{escape(_date(s.get("study_date")))}'
                     f'<input type="hidden" name="s" value="{escape(s["ref"])}"></li>' for s in studies)
    return page(t("Share with a doctor"), f"""
<section class="card narrow">
<h1>{escape(t("Share with a doctor"))}</h1>
{_error(error)}
<form method="post" action="/me/share">
<p>{escape(t("Studies to share:"))}</p><ul>{chosen}</ul>
<label for="doctor">{escape(t("Doctor's name"))}</label>
<input id="doctor" name="doctor" type="text" required maxlength="120">
<label for="doctor_email">{escape(t("Doctor's e-mail (optional: we send the link, you give the passcode)"))}</label>
<input id="doctor_email" name="doctor_email" type="email" maxlength="254">
<label for="days">{escape(t("Days the link works"))}</label>
<input id="days" name="days" type="number" min="1" max="{max_days}" value="{default_days}" required>
<fieldset><legend>{escape(t("The doctor may"))}</legend>
<label class="inline"><input type="checkbox" name="perm" value="view" checked> {escape(t("view the images"))}</label>
<label class="inline"><input type="checkbox" name="perm" value="download" checked>
{escape(t("download the originals"))}</label>
</fieldset>
<button type="submit" id="share-submit">{escape(t("Create the link"))}</button>
</form>
</section>""", signed_in=True)


def shared_page(url: str, passcode: str, expires: datetime, emailed: bool) -> str:
    note = (t("We e-mailed the link to the doctor. Give them the passcode yourself (by phone or in person).")
            if emailed else t("Give the doctor the link and the passcode (the passcode separately if you can)."))
    return page(t("Link created"), f"""
<section class="card narrow">
<h1>{escape(t("Link created"))}</h1>
<p>{escape(note)}</p>
<p>{escape(t("Link"))}: <code id="share-url">{escape(url)}</code></p>
<p>{escape(t("Passcode"))}: <code id="share-passcode">{escape(passcode)}</code></p>
<p class="muted">{escape(t("It works until {when} (UTC). You can withdraw it at any time in My shares.",
                           when=i18n.format_datetime(expires, "d MMM y HH:mm")))}</p>
<p><a class="button" href="/me/shares">{escape(t("My shares"))}</a></p>
</section>""", signed_in=True)


_ACTIONS = {"open": "opened the link", "view": "viewed", "download": "downloaded",
            "passcode_failed": "entered a wrong passcode", "lockout": "was locked out"}


def _what(event: dict, names: dict[str, str]) -> str:
    uid = event.get("study_instance_uid")
    return f" · {escape(names.get(uid, ''))}" if uid else ""


def shares_page(links: list, openings: dict[str, list[dict]], names: dict[str, str]) -> str:
    """Every share the patient made: to whom, what, status, and who opened what and when."""
    if not links:
        empty = (f'<section class="card"><h1>{escape(t("My shares"))}</h1>'
                 f'<p>{escape(t("You have not shared anything yet."))}</p></section>')
        return page(t("My shares"), empty, signed_in=True)
    parts = [f'<section class="card"><h1>{escape(t("My shares"))}</h1></section>']
    for link in links:
        status = link.status()
        events = openings.get(link.link_id, [])
        trail = "".join(
            f'<li><time>{escape(i18n.format_datetime(e["occurred_at"], "d MMM y HH:mm"))}</time> '
            f'{escape(t(_ACTIONS.get(e["action"], e["action"])))}{_what(e, names)}</li>'
            for e in events) or f'<li>{escape(t("Not opened yet."))}</li>'
        studies = ", ".join(names.get(u, t("a study")) for u in link.study_instance_uids)
        revoke = (f'<form method="post" action="/me/shares/{escape(link.link_id)}/revoke">'
                  f'<button class="quiet" type="submit">{escape(t("Withdraw"))}</button></form>'
                  if status == "active" else "")
        parts.append(f"""<section class="card share" id="share-{escape(link.link_id)}">
<h2>{escape(link.recipient_name)}</h2>
<p class="muted"><span class="status">{escape(t(status))}</span> ·
{escape(t("until {when}", when=_date(link.expires_at)))}
 · {escape(", ".join(t(p) for p in sorted(link.permissions)))}</p>
<p>{escape(studies)}</p>
<h3>{escape(t("Who opened what and when"))}</h3><ul class="trail">{trail}</ul>
{revoke}</section>""")
    return page(t("My shares"), "\n".join(parts), signed_in=True)


def security_page(passkeys: list, sessions: int, notice: str | None = None) -> str:
    keys = "".join(
        f'<li>{escape(p.label or t("Passkey"))} · {escape(t("added {when}", when=_date(p.created_at)))}'
        '</li>' for p in passkeys) or f'<li>{escape(t("No passkey yet: you sign in with e-mail codes."))}</li>'
    done = f'<p class="notice" role="status">{escape(notice)}</p>' if notice else ""
    return page(t("Sign-in and security"), f"""
<section class="card">
<h1>{escape(t("Sign-in and security"))}</h1>
{done}
<h2>{escape(t("Passkeys"))}</h2><ul id="passkeys">{keys}</ul>
<button type="button" id="passkey-register" data-next="/me/security">{escape(t("Add a passkey"))}</button>
<p class="error" role="alert" id="passkey-error" hidden>{escape(t("The passkey could not be created."))}</p>
<h2>{escape(t("Signed-in devices"))}</h2>
<p>{escape(t("You are signed in on {n} device(s) or browser(s).", n=sessions))}</p>
<form method="post" action="/me/signout-all"><button class="quiet" type="submit" id="signout-all">
{escape(t("Sign out everywhere"))}</button></form>
</section>""", signed_in=True)


CSS = """
body.me main{max-width:760px;margin:1rem auto;padding:0 .75rem}
body.me nav{display:flex;flex-wrap:wrap;gap:.25rem 1rem;align-items:center;padding:.5rem .9rem;background:#fff;
 border-bottom:1px solid #dde2e8}
body.me nav a,body.me nav button.link{color:#16324f;font-weight:600;text-decoration:none;padding:.55rem .2rem;
 min-height:44px;box-sizing:border-box;display:inline-flex;align-items:center}
body.me nav form{margin:0}
button.link{background:none;border:0;margin:0;font-size:1rem;cursor:pointer}
body.me button,body.me .button{min-height:44px}
ul.studies{list-style:none;padding:0;margin:0}
li.study{display:flex;gap:.6rem;align-items:flex-start;border-top:1px solid #e6e9ee;padding:.7rem 0}
li.study input{width:1.4rem;height:1.4rem;margin-top:.2rem;flex:none}
a.study-link{display:flex;flex-direction:column;color:inherit;text-decoration:none;flex:1}
a.study-link .meta{color:#4a5663;font-size:.95rem}
.actions{display:flex;flex-wrap:wrap;gap:.5rem}
.actions button{margin-top:.5rem}
fieldset{border:1px solid #dde2e8;border-radius:6px;margin-top:.8rem}
label.inline{display:flex;gap:.5rem;align-items:center;font-weight:400}
input[type=email],input[type=number]{font-size:1.1rem;padding:.5rem;width:100%;box-sizing:border-box}
code{overflow-wrap:anywhere;word-break:break-all}
ul.trail{padding-left:1.1rem}
.button.quiet{background:#e6e9ee;color:#1d2733}
.notice{background:#e7f5e9;padding:.5rem .8rem;border-radius:6px}
a:focus,button:focus,input:focus{outline:3px solid #1f6feb;outline-offset:2px}
@media (min-width:700px){body.me main{margin:1.5rem auto}}
"""

JS = """
(function(){
  function b64urlToBuf(s){s=s.replace(/-/g,'+').replace(/_/g,'/');while(s.length%4)s+='=';
    var b=atob(s),a=new Uint8Array(b.length);for(var i=0;i<b.length;i++)a[i]=b.charCodeAt(i);return a.buffer;}
  function bufToB64url(buf){var a=new Uint8Array(buf),s='';for(var i=0;i<a.length;i++)s+=String.fromCharCode(a[i]);
    return btoa(s).replace(/\\+/g,'-').replace(/\\//g,'_').replace(/=+$/,'');}
  function post(url,body){return fetch(url,{method:'POST',credentials:'same-origin',cache:'no-store',
    headers:{'content-type':'application/json'},body:JSON.stringify(body||{})}).then(function(r){
      if(!r.ok) throw new Error('refused '+r.status); return r.json();});}
  function fail(){var e=document.getElementById('passkey-error'); if(e) e.hidden=false;}
  var reg=document.getElementById('passkey-register');
  if(reg) reg.addEventListener('click',function(){
    post('/me/passkey/register/options').then(function(o){
      var pk=o.publicKey; pk.challenge=b64urlToBuf(pk.challenge); pk.user.id=b64urlToBuf(pk.user.id);
      (pk.excludeCredentials||[]).forEach(function(c){c.id=b64urlToBuf(c.id);});
      return navigator.credentials.create({publicKey:pk}).then(function(c){
        return post('/me/passkey/register',{challenge_id:o.challenge_id,credential:{id:c.id,rawId:bufToB64url(c.rawId),
          type:c.type,response:{clientDataJSON:bufToB64url(c.response.clientDataJSON),
          attestationObject:bufToB64url(c.response.attestationObject)}}});});
    }).then(function(r){ if(r.ok) location.href=reg.dataset.next; else fail(); }).catch(fail);
  });
  var sign=document.getElementById('passkey-signin');
  if(sign) sign.addEventListener('click',function(){
    post('/me/passkey/signin/options').then(function(o){
      var pk=o.publicKey; pk.challenge=b64urlToBuf(pk.challenge);
      (pk.allowCredentials||[]).forEach(function(c){c.id=b64urlToBuf(c.id);});
      return navigator.credentials.get({publicKey:pk}).then(function(c){
        return post('/me/passkey/signin',{challenge_id:o.challenge_id,credential:{id:c.id,rawId:bufToB64url(c.rawId),
          type:c.type,response:{clientDataJSON:bufToB64url(c.response.clientDataJSON),
          authenticatorData:bufToB64url(c.response.authenticatorData),signature:bufToB64url(c.response.signature),
          userHandle:c.response.userHandle?bufToB64url(c.response.userHandle):null}}});});
    }).then(function(r){ if(r.ok) location.href=sign.dataset.next; else fail(); }).catch(fail);
  });
})();
"""
