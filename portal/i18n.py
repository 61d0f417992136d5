"""Every patient-facing string of the portal's patient pages goes through ``t()``.

``t`` looks the message up in the catalogue of the request's language (``archive.i18n``: English
and French, Babel/gettext; the portal sets the language per request) and then fills its
``{placeholders}``. ``scripts/i18n`` extracts ``t("...")`` calls like ``_()``.
"""

from __future__ import annotations

from typing import Any

from archive.i18n import N_, gettext


def t(message: str, **values: Any) -> str:
    """The message in the reader's language, with ``values`` put into its placeholders."""
    text = gettext(message)
    return text.format(**values) if values else text


# Words the patient pages pass to t() as values (audit actions, link states, permissions):
# marked here so the catalogue holds them.
SHOWN_VALUES = (
    N_("opened the link"), N_("viewed"), N_("downloaded"), N_("entered a wrong passcode"), N_("was locked out"),
    N_("active"), N_("expired"), N_("revoked"), N_("locked"), N_("used up"), N_("view"), N_("download"),
)
