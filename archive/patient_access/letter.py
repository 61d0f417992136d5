"""The printable invitation letter: what to do, the enrolment link and its QR code (``segno``).

The letter is handed or posted to the patient; it carries the one-time link (as text and as a QR
code a phone camera opens) and says the date of birth will be asked. It names the patient only
as the clerk prints it for them (the greeting is the patient's name, given by the caller).
"""

from __future__ import annotations

import io
from datetime import datetime
from html import escape

import segno

from archive import i18n
from archive.i18n import _


def qr_svg(url: str) -> str:
    """The link as an inline SVG QR code (error correction M, 4 px modules)."""
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=4, border=2, xmldecl=False, svgns=True,
                                    title="QR code of the enrolment link")
    return out.getvalue().decode()


def _section(url: str, expires_at: datetime, patient_name: str, hospital: str, lang: str) -> str:
    """The letter's text in the current language (its own ``lang`` attribute, for screen readers)."""
    greeting = (_("Dear {name},").format(name=escape(patient_name)) if patient_name else _("Dear patient,"))
    return f"""<section lang="{lang}">
<p>{escape(hospital or _("Imaging department"))}</p>
<h1>{_("Your images and reports, online")}</h1>
<p>{greeting}</p>
<p>{_("You can now see your medical images and reports from every hospital of the region, on your "
      "phone or computer, and share them with any doctor.")}</p>
<ol>
<li>{_("Scan the code below with your phone's camera, or type the address into a web browser.")}</li>
<li>{_("Enter your date of birth.")}</li>
<li>{_("Create a passkey (your phone's fingerprint, face or PIN) or choose to receive codes by e-mail.")}</li>
</ol>
<p>{_("This invitation works once, until {date} (UTC). Keep it private: anyone with it and your date of "
      "birth could open your account. If it has expired, ask the imaging department for a new one.")
    .format(date=i18n.format_date(expires_at, "long"))}</p>
</section>"""


def letter_html(url: str, expires_at: datetime, *, patient_name: str = "", hospital: str = "") -> str:
    """A one-page HTML letter ready to print (A4/Letter): the text in the current language first,
    then in the region's other one (as the e-mails are), then the QR code of ``url`` below both."""
    first = i18n.current()
    sections = []
    for lang in [first] + [lang for lang in i18n.LANGUAGES if lang != first]:
        with i18n.language(lang):
            sections.append(_section(url, expires_at, patient_name, hospital, lang))
    with i18n.language(first):
        title, address = _("Your invitation to see your images"), _("Address:")
    return f"""<!doctype html>
<html lang="{first}"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:17cm;margin:2cm auto;color:#111;line-height:1.45}}
h1{{font-size:1.4rem}} .qr svg{{width:5cm;height:5cm}} code{{word-break:break-all;font-size:.85rem}}
ol li{{margin:.3rem 0}} section+section{{border-top:1px solid #999;margin-top:1rem}}
@media print{{body{{margin:1.5cm}}}}
</style></head><body>
{"".join(sections)}
<div class="qr" id="qr">{qr_svg(url)}</div>
<p>{address} <code id="enrol-url">{escape(url)}</code></p>
</body></html>"""
