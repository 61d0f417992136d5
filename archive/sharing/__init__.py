"""Patient share links: issuing and checking them, a clerk's actions on them, what they reach, their usage.

- ``links``: the links themselves (opaque tokens, passcodes, expiry, use limits, lockout, revocation);
- ``actions``: a clerk's actions (create, revoke, extend, unlock), each audited;
- ``scope``: the studies and series a link (or a CD export) reaches;
- ``usage``: the managers' report of links issued, opened, downloaded and never opened.
"""

from archive.sharing.links import (
    PASSCODE_LENGTH,
    PERMISSIONS,
    RECIPIENT_ROLES,
    TOKEN_BYTES,
    TOKEN_PREFIX,
    VERIFY_KINDS,
    IssuedLink,
    Scope,
    ShareError,
    ShareLink,
    Verification,
    check_secret,
    count_download,
    extend,
    find,
    get,
    hash_secret,
    issue,
    list_links,
    looks_like_token,
    new_passcode,
    new_token,
    normalise_answer,
    open_link,
    revoke,
    token_hash,
    unlock,
    verify,
)

__all__ = [
    "PASSCODE_LENGTH", "PERMISSIONS", "RECIPIENT_ROLES", "TOKEN_BYTES", "TOKEN_PREFIX", "VERIFY_KINDS",
    "IssuedLink", "Scope", "ShareError", "ShareLink", "Verification", "check_secret", "count_download",
    "extend", "find", "get", "hash_secret", "issue", "list_links", "looks_like_token", "new_passcode",
    "new_token", "normalise_answer", "open_link", "revoke", "token_hash", "unlock", "verify",
]
