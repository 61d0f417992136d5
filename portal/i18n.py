"""Every patient-facing string of the portal's patient pages goes through ``t()``.

Today ``t`` returns the English text with its ``{placeholders}`` filled; the message catalogues
(English and French, Babel/gettext) plug in here without touching the pages: extract with
``pybabel extract -k t`` and look the message up before formatting.
"""

from __future__ import annotations

from typing import Any


def t(message: str, **values: Any) -> str:
    """The message in the reader's language, with ``values`` put into its placeholders."""
    return message.format(**values) if values else message
