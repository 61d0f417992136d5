"""Key escrow: every vault master key (current and retired) sealed under a passphrase.

Without its master keys the vault is noise, and backups never hold them. An escrow is a small
text file that holds all of them, encrypted with AES-256-GCM under a key derived from a
passphrase with scrypt (n=2^17, r=8, p=1: 128 MiB and about half a second per guess). The escrow's
description (id, date, key ids, parameters) is the cipher's associated data, so nothing in it can
be changed unnoticed, and a SHA-256 over the whole file tells a damaged file from a wrong passphrase.

Optionally the escrow is split between custodians: a random 256-bit secret is split k of n with
SLIP-39 (``shamir-mnemonic``, the reference implementation: each share is 33 words with a
checksum), and the sealing key is derived from that secret *and* the passphrase. Any k shares
with the passphrase open the escrow; k-1 shares tell nothing about it.

``render_sheet`` gives a printable recovery sheet: the escrow itself in an armoured text block, so
the paper alone (retyped or scanned) is enough. ``open_escrow`` reads escrow files, sheets and
share sheets alike, and checks everything before anything is written.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import textwrap
from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from archive.errors import LimestoneError
from archive.vault import KeyRing

FORMAT = "limestone-key-escrow/1"
SCRYPT = {"n": 2 ** 17, "r": 8, "p": 1}
BEGIN, END = "-----BEGIN LIMESTONE KEY ESCROW-----", "-----END LIMESTONE KEY ESCROW-----"
SHARE_TAG = "LIMESTONE ESCROW SHARE"
MIN_PASSPHRASE = 12


class EscrowError(LimestoneError, ValueError):
    """An escrow cannot be made or opened (plain message; nothing was written)."""


@dataclass(frozen=True)
class Sealed:
    escrow_id: str
    document: dict
    shares: list[str]           # SLIP-39 mnemonics, one per custodian (empty when not split)

    def text(self) -> str:
        return json.dumps(self.document, indent=1, sort_keys=True) + "\n"


@dataclass(frozen=True)
class Recovered:
    escrow_id: str
    created_at: str
    keys: dict[str, bytes]
    current: str | None
    split: str | None = None      # 'k of n' when the escrow is split between custodians


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _scrypt(passphrase: str, salt: bytes, params: dict) -> bytes:
    return hashlib.scrypt(passphrase.encode(), salt=salt, n=params["n"], r=params["r"], p=params["p"],
                          maxmem=256 * 1024 * 1024, dklen=32)


def _sealing_key(passphrase: str, salt: bytes, params: dict, shared_secret: bytes | None) -> bytes:
    stretched = _scrypt(passphrase, salt, params)
    if shared_secret is None:
        return stretched
    return HKDF(hashes.SHA256(), 32, salt=salt, info=b"limestone-escrow-split").derive(shared_secret + stretched)


def _aad(document: dict) -> bytes:
    return json.dumps({k: v for k, v in document.items() if k not in ("ciphertext", "checksum")},
                      sort_keys=True, separators=(",", ":")).encode()


def checksum(document: dict) -> str:
    """The unkeyed SHA-256 of an escrow document (tells a damaged file from a wrong passphrase)."""
    body = json.dumps({k: v for k, v in document.items() if k != "checksum"}, sort_keys=True,
                      separators=(",", ":")).encode()
    return hashlib.sha256(body).hexdigest()


def seal(keys: KeyRing, passphrase: str, *, shares: int = 0, threshold: int = 0) -> Sealed:
    """Seal every key of ``keys`` under ``passphrase`` (and, with ``shares``, k-of-n custodians)."""
    exported = keys.export()
    if not exported:
        raise EscrowError("there is no master key to escrow yet (one is made by the first import)")
    if len(passphrase) < MIN_PASSPHRASE:
        raise EscrowError(f"the passphrase must be at least {MIN_PASSPHRASE} characters")
    if shares or threshold:
        if not (2 <= threshold <= shares <= 16):
            raise EscrowError("a split needs 2 <= threshold <= shares <= 16 (e.g. --shares 3 --threshold 2)")
    now = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    escrow_id = "esc-" + secrets.token_hex(6)
    salt = os.urandom(16)
    document: dict = {
        "format": FORMAT, "escrow_id": escrow_id, "created_at": now,
        "key_ids": sorted(exported), "current_key_id": keys.current_id,
        "kdf": {"name": "scrypt", **SCRYPT, "salt": _b64(salt)},
        "cipher": "AES-256-GCM", "split": None,
    }
    mnemonics: list[str] = []
    secret = None
    if shares:
        import shamir_mnemonic
        from shamir_mnemonic.share import Share

        secret = os.urandom(32)
        mnemonics = shamir_mnemonic.generate_mnemonics(1, [(threshold, shares)], secret)[0]
        document["split"] = {"scheme": "SLIP-39", "threshold": threshold, "shares": shares,
                             "identifier": Share.from_mnemonic(mnemonics[0]).identifier}
    nonce = os.urandom(12)
    document["nonce"] = _b64(nonce)
    payload = json.dumps({"keys": {k: _b64(v) for k, v in exported.items()}}).encode()
    key = _sealing_key(passphrase, salt, SCRYPT, secret)
    document["ciphertext"] = _b64(AESGCM(key).encrypt(nonce, payload, _aad(document)))
    document["checksum"] = checksum(document)
    return Sealed(escrow_id, document, mnemonics)


def render_sheet(sealed: Sealed) -> str:
    """A printable recovery sheet: what the escrow holds, how to recover, and the escrow itself."""
    doc = sealed.document
    armour = textwrap.wrap(base64.b64encode(sealed.text().encode()).decode(), 64)
    split = doc["split"]
    lines = [
        "LIMESTONE IMAGING ARCHIVE - MASTER KEY RECOVERY SHEET",
        "=" * 56,
        f"Escrow id:      {doc['escrow_id']}",
        f"Made:           {doc['created_at']}",
        f"Current key:    {doc['current_key_id']}",
        f"Keys sealed:    {', '.join(doc['key_ids'])}",
        f"Sealed with:    passphrase (scrypt n={doc['kdf']['n']}), AES-256-GCM",
    ]
    if split:
        lines.append(f"Split:          any {split['threshold']} of {split['shares']} custodian shares "
                     "are needed as well as the passphrase")
    lines += [
        "",
        "Keep this sheet in a safe, apart from the backups. It does not hold the passphrase:",
        "the passphrase is kept by a different person or in a different place.",
        "",
        "To recover the keys into a home (for example after a restore on a new machine):",
        "  limestone --home HOME keys recover THIS-SHEET.txt" + (" SHARE... (k share sheets)" if split else ""),
        "  (the passphrase is asked for, or read from LIMESTONE_ESCROW_PASSPHRASE)",
        "A typed copy of the block below, saved as a text file, works as well as the file.",
        "",
        BEGIN, *armour, END, "",
    ]
    return "\n".join(lines)


def render_share(sealed: Sealed, index: int) -> str:
    """A printable sheet for custodian ``index`` (1-based) with that share's words."""
    doc = sealed.document
    words = sealed.shares[index - 1].split()
    numbered = [f"{i + 1:>2}. {w}" for i, w in enumerate(words)]
    rows = [" ".join(f"{cell:<16}" for cell in numbered[i:i + 4]).rstrip() for i in range(0, len(numbered), 4)]
    split = doc["split"]
    return "\n".join([
        f"{SHARE_TAG} {index} OF {split['shares']} (any {split['threshold']} recover the keys)",
        "=" * 56,
        f"Escrow id: {doc['escrow_id']}    Made: {doc['created_at']}",
        "",
        "Custodian: keep this sheet safe and private. It is useless alone and with fewer",
        f"than {split['threshold']} shares; it does not hold the passphrase.",
        "",
        f"The {len(words)} words of this share:",
        *rows,
        "",
        "WORDS: " + " ".join(words),
        "",
    ])


def _parse(text: str) -> dict | str:
    """An escrow document (dict) or a share's mnemonic (str) from a file's text."""
    if BEGIN in text:
        block = text.split(BEGIN, 1)[1].split(END, 1)[0]
        try:
            text = base64.b64decode("".join(block.split()), validate=True).decode()
        except ValueError:
            raise EscrowError("the escrow block on the sheet is damaged (not valid base64)") from None
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            document = json.loads(stripped)
            if isinstance(document, dict):
                return document
        except ValueError:
            raise EscrowError("the escrow file is damaged (not valid JSON)") from None
    match = re.search(r"^WORDS:\s*(.+)$", text, re.MULTILINE)
    words = match.group(1) if match else stripped
    if re.fullmatch(r"[a-z]+( [a-z]+){19,}", " ".join(words.split())):
        return " ".join(words.split())
    raise EscrowError("not a Limestone key escrow, recovery sheet or share sheet")


def open_escrow(texts: list[str], passphrase: str) -> Recovered:
    """Open an escrow from the texts of its file (or sheet) and, when split, k share sheets."""
    documents: list[dict] = []
    mnemonics: list[str] = []
    for text in texts:
        value = _parse(text)
        if isinstance(value, dict):
            documents.append(value)
        else:
            mnemonics.append(value)
    if len(documents) != 1:
        raise EscrowError("give exactly one escrow file or recovery sheet" + (
            f" ({len(documents)} given)" if documents else ""))
    doc = documents[0]
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise EscrowError("not a Limestone key escrow (unknown format)")
    if doc.get("checksum") != checksum(doc):
        raise EscrowError("the escrow file is damaged or was altered (its checksum does not match)")
    secret = None
    split = doc.get("split")
    if split:
        import shamir_mnemonic
        from shamir_mnemonic.share import Share

        try:
            for m in mnemonics:
                if Share.from_mnemonic(m).identifier != split["identifier"]:
                    raise EscrowError("a share belongs to another escrow")
            if len(set(mnemonics)) < split["threshold"]:
                raise EscrowError(f"this escrow needs {split['threshold']} different custodian shares; "
                                  f"{len(set(mnemonics))} given")
            secret = shamir_mnemonic.combine_mnemonics(mnemonics)
        except shamir_mnemonic.MnemonicError as exc:
            raise EscrowError(f"the custodian shares cannot be combined: {exc}") from None
    elif mnemonics:
        raise EscrowError("this escrow is not split: give only the escrow file")
    try:
        kdf = doc["kdf"]
        key = _sealing_key(passphrase, _unb64(kdf["salt"]), kdf, secret)
        payload = AESGCM(key).decrypt(_unb64(doc["nonce"]), _unb64(doc["ciphertext"]), _aad(doc))
    except InvalidTag:
        raise EscrowError("wrong passphrase (or shares), or the escrow was altered: nothing was recovered") from None
    except (KeyError, TypeError, ValueError):
        raise EscrowError("the escrow file is damaged (a field is missing or malformed)") from None
    keys = {k: _unb64(v) for k, v in json.loads(payload)["keys"].items()}
    if sorted(keys) != sorted(doc["key_ids"]):
        raise EscrowError("the escrow file is damaged (its key list does not match)")
    return Recovered(doc["escrow_id"], doc["created_at"], keys, doc.get("current_key_id"),
                     f"{split['threshold']} of {split['shares']}" if split else None)


def install(keys: KeyRing, recovered: Recovered) -> list[str]:
    """Put the recovered keys into a home's key folder; return the ids written now.

    Every key is checked against the ones already there before any file is written: a different
    key under a known id stops the recovery with nothing changed.
    """
    existing = keys.export()
    for key_id, key in recovered.keys.items():
        if key_id in existing and not hmac.compare_digest(existing[key_id], key):
            raise EscrowError(f"a different master key '{key_id}' is already in {keys.keys_dir}: nothing recovered")
    written = []
    current = recovered.current if recovered.current in recovered.keys else None
    if current and keys.install(current, recovered.keys[current], make_current=keys.current_id is None):
        written.append(current)
    written += [k for k in sorted(recovered.keys) if k != current and keys.install(k, recovered.keys[k])]
    return written
