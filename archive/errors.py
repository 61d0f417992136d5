"""The one base of Limestone's own errors: ``LimestoneError``, whose message is what a user sees.

Every domain error (a home that cannot be used, a store that cannot be opened, a node that does
not answer, a share link that cannot be issued...) derives from it, so the command line and the
dashboard catch one type and show its message as it is: one plain sentence saying what went wrong
(and, where there is one, what to do), naming no patient. Details go to the log, not the message.
Errors that were ``ValueError`` or ``RuntimeError`` stay so as well, for callers that catch those.
"""

from __future__ import annotations


class LimestoneError(Exception):
    """An error a user can understand and often fix; ``message`` is the sentence to show."""

    @property
    def message(self) -> str:
        return str(self)
