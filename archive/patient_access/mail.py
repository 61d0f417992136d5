"""Patient e-mails over SMTP (``LIMESTONE_SMTP_URL``, ``LIMESTONE_SMTP_SENDER``).

The messages never carry patient data: a sign-in code, an enrolment link, a share link for a
doctor, or "you have new images, sign in to see them". No name, no study, no hospital detail, so
an e-mail read by someone else gives nothing away. ``smtp://host:port`` uses STARTTLS when the
server offers it; ``smtps://`` is TLS from the start; ``user:password@`` logs in.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from archive import i18n
from archive.errors import LimestoneError
from archive.i18n import N_


class MailError(LimestoneError, RuntimeError):
    """The e-mail could not be sent (no server set, or the server refused it)."""


def send(smtp_url: str, sender: str, to: str, subject: str, body: str, timeout: float = 20.0) -> None:
    """Send one plain-text message."""
    if not smtp_url:
        raise MailError("no SMTP server is set (LIMESTONE_SMTP_URL): the e-mail cannot be sent")
    parts = urlsplit(smtp_url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise MailError("LIMESTONE_SMTP_URL must look like smtp://host:port or smtps://host:port")
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message.set_content(body)
    context = ssl.create_default_context()
    try:
        if parts.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(parts.hostname, parts.port or 465, timeout=timeout,
                                                   context=context)
        else:
            client = smtplib.SMTP(parts.hostname, parts.port or 25, timeout=timeout)
        with client:
            client.ehlo()
            if parts.scheme == "smtp" and client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
            if parts.username:
                client.login(unquote(parts.username), unquote(parts.password or ""))
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"the e-mail could not be sent: {type(exc).__name__}") from None


# The messages: fixed texts with a code or a link, nothing about the patient. Each goes out in
# English and French (Ontario's hospitals serve both, and a notice sent by a scheduled job knows no
# reader's language): the subject in the current language (the request's, else English), the body
# in it first and then in the other, both from the message catalogue (archive/i18n).
def _both(subject: str, body: str, **values: object) -> tuple[str, str]:
    first = i18n.current()
    order = [first] + [lang for lang in i18n.LANGUAGES if lang != first]
    parts = []
    for lang in order:
        with i18n.language(lang):
            parts.append(i18n.gettext(body).format(**values))
    return i18n.gettext(subject), "\n----\n\n".join(parts)


def code_message(code: str, minutes: int) -> tuple[str, str]:
    return _both(N_("Your sign-in code"),
                 N_("Your sign-in code is {code}\n\nIt works once, for {minutes} minutes. If you did not ask "
                    "for it, you can ignore this message.\n"), code=code, minutes=minutes)


def invitation_message(url: str, days: int) -> tuple[str, str]:
    return _both(N_("Your invitation to see your images"),
                 N_("You were invited to see your medical images and reports online.\n\nOpen this link to set "
                    "up your account (it works once, for {days} days):\n{url}\n\nYou will be asked for your "
                    "date of birth.\n"), url=url, days=days)


def new_images_message(url: str) -> tuple[str, str]:
    return _both(N_("You have new images"), N_("You have new images. Sign in to see them:\n{url}\n"), url=url)


def doctor_share_message(url: str, days: int) -> tuple[str, str]:
    return _both(N_("Images were shared with you"),
                 N_("A patient shared medical images with you.\n\nOpen this link (it works for {days} days):"
                    "\n{url}\n\nThe patient gives you the passcode separately.\n"), url=url, days=days)
