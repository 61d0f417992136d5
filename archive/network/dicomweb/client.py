"""A DICOMweb client for one node: QIDO-RS searches, WADO-RS streamed retrieval, STOW-RS stores.

Built on httpx. Every request names the node in its errors and never shows a credential: the
user name and password (basic) or token (bearer) come from the settings' credentials file, are
given to httpx as an auth object and are never put in a URL, a message or a log line. TLS
certificates are always verified (against ``dicomweb_ca_bundle`` when set). A 429 or 503 is
retried after the ``Retry-After`` the node asks for (capped), a dropped connection after a short
backoff, up to ``retries`` times; 401/403/404 and answers that are not what was asked for
(an HTML page instead of DICOM JSON, a multipart stream cut short) raise ``DicomWebError`` with
one plain line.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Callable, Generator, Iterable, Iterator

import httpx

from archive.network.dicomweb.multipart import MultipartError, boundary_of, iter_parts
from archive.network.errors import NetworkError
from archive.network.nodes import Node

log = logging.getLogger("limestone.dicomweb")

DICOM_JSON = "application/dicom+json"
MULTIPART_DICOM = 'multipart/related; type="application/dicom"'
# Longest wait a Retry-After may impose before the request is tried again.
MAX_RETRY_AFTER = 120.0


class DicomWebError(NetworkError):
    """A DICOMweb node could not be reached or answered wrongly; the message names the node."""

    def __init__(self, message: str, unreachable: bool = False, status: int | None = None):
        super().__init__(message, unreachable=unreachable)
        self.status = status


@dataclass(frozen=True)
class WebSettings:
    """What a DICOMweb client needs from the settings (picklable, for worker processes)."""

    timeout: float = 60.0
    retries: int = 3
    ca_bundle: str = ""
    page_size: int = 1000
    credentials: tuple[tuple[str, str], ...] = ()   # (kind, value) pairs: ("username", ...)

    def __repr__(self) -> str:  # never show the credentials, even in a traceback
        return f"WebSettings(timeout={self.timeout}, retries={self.retries}, ca_bundle={self.ca_bundle!r})"


def load_credentials(path: Path, node: str) -> dict[str, str]:
    """The node's entry of the credentials file ({} when none)."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise NetworkError(f"the DICOMweb credentials file {path} cannot be read "
                           f"({type(exc).__name__})") from None
    entry = data.get(node) if isinstance(data, dict) else None
    return {k: str(v) for k, v in entry.items()} if isinstance(entry, dict) else {}


def web_settings(settings: Any, home_root: Path, node: Node) -> WebSettings:
    """WebSettings for ``node`` from Limestone's settings (credentials read from their file)."""
    path = Path(settings.dicomweb_credentials)
    if not path.is_absolute():
        path = home_root / path
    creds = load_credentials(path, node.name) if node.auth != "none" else {}
    ca = settings.dicomweb_ca_bundle
    if ca and not Path(ca).is_absolute():
        ca = str(home_root / ca)
    return WebSettings(float(settings.dicomweb_timeout), int(settings.dicomweb_retries), ca,
                       int(settings.dicomweb_page_size), tuple(sorted(creds.items())))


class _Bearer(httpx.Auth):
    def __init__(self, token: str):
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


def _auth(node: Node, web: WebSettings) -> httpx.Auth | None:
    creds = dict(web.credentials)
    if node.auth == "basic":
        if "username" not in creds or "password" not in creds:
            raise DicomWebError(f"node {node.address}: basic auth needs a username and password for "
                                f"{node.name!r} in the dicomweb_credentials file", unreachable=True)
        return httpx.BasicAuth(creds["username"], creds["password"])
    if node.auth == "bearer":
        if "token" not in creds:
            raise DicomWebError(f"node {node.address}: bearer auth needs a token for {node.name!r} in "
                                "the dicomweb_credentials file", unreachable=True)
        return _Bearer(creds["token"])
    return None


def retry_after(value: str | None, default: float) -> float:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date), capped."""
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return default
    return max(0.0, min(seconds, MAX_RETRY_AFTER))


_PLAIN = {
    401: "refused our credentials (HTTP 401): check its auth setting and the credentials file",
    403: "does not allow us this (HTTP 403)",
    404: "has no such resource (HTTP 404)",
    429: "is busy (HTTP 429, too many requests)",
    503: "is unavailable (HTTP 503)",
}


class DicomWebClient:
    """One node's DICOMweb service: a pool of up to ``max_connections`` HTTP connections."""

    def __init__(self, node: Node, web: WebSettings, *, sleep: Callable[[float], None] = time.sleep,
                 transport: httpx.BaseTransport | None = None):
        if not node.url:
            raise DicomWebError(f"node {node.address} has no DICOMweb URL")
        self.node, self.web, self.sleep = node, web, sleep
        self.capped = False
        verify: Any = True
        if web.ca_bundle:
            if not os.path.isfile(web.ca_bundle):
                raise DicomWebError(f"node {node.address}: the CA bundle {web.ca_bundle} does not exist",
                                    unreachable=True)
            import ssl
            verify = ssl.create_default_context(cafile=web.ca_bundle)
        limits = httpx.Limits(max_connections=node.max_connections,
                              max_keepalive_connections=node.max_connections)
        timeout = httpx.Timeout(web.timeout, connect=min(web.timeout, 30.0))
        self.http = httpx.Client(base_url=node.url + "/", auth=_auth(node, web), verify=verify, limits=limits,
                                 timeout=timeout, transport=transport, follow_redirects=False,
                                 headers={"User-Agent": "limestone", "Accept-Encoding": "identity"})

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "DicomWebClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- requests with retries ------------------------------------------------------------------
    def _error(self, what: str, response: httpx.Response) -> DicomWebError:
        plain = _PLAIN.get(response.status_code, f"answered HTTP {response.status_code}")
        return DicomWebError(f"node {self.node.address}: {what}: the node {plain}",
                             unreachable=response.status_code in (401, 403), status=response.status_code)

    def _send(self, what: str, request: Callable[[], httpx.Response], ok: Iterable[int] = (200,)) -> httpx.Response:
        """Run ``request`` (a streamed response) with retries; the caller closes the response."""
        ok = set(ok)
        delay = 1.0
        for attempt in range(self.web.retries + 1):
            last = attempt == self.web.retries
            try:
                response = request()
            except httpx.TimeoutException:
                if last:
                    raise DicomWebError(f"node {self.node.address}: {what}: no answer within "
                                        f"{self.web.timeout:.0f} s", unreachable=True) from None
                self.sleep(delay)
                delay *= 2
                continue
            except httpx.TransportError as exc:
                if "CERTIFICATE_VERIFY_FAILED" in str(exc) or "certificate verify failed" in str(exc):
                    raise DicomWebError(f"node {self.node.address}: {what}: its TLS certificate is not "
                                        "trusted (a hospital CA goes in the dicomweb_ca_bundle setting)",
                                        unreachable=True) from None
                if last:
                    raise DicomWebError(f"node {self.node.address}: {what}: cannot connect or the "
                                        f"connection was dropped ({type(exc).__name__})",
                                        unreachable=True) from None
                self.sleep(delay)
                delay *= 2
                continue
            if response.status_code in ok:
                return response
            response.close()
            if response.status_code in (429, 503) and not last:
                wait = retry_after(response.headers.get("retry-after"), delay)
                log.info("node %s: %s: HTTP %s, trying again in %.1f s", self.node.name, what,
                         response.status_code, wait)
                self.sleep(wait)
                delay *= 2
                continue
            raise self._error(what, response)
        raise AssertionError("unreachable")

    def get_json(self, path: str, params: dict | None, what: str, ok: Iterable[int] = (200,)) -> list[dict]:
        def go() -> httpx.Response:
            req = self.http.build_request("GET", path, params=params, headers={"Accept": DICOM_JSON})
            return self.http.send(req, stream=True)
        response = self._send(what, go, ok=(*ok, 204))
        try:
            if response.status_code == 204:
                return []
            body = response.read()
        except httpx.HTTPError as exc:
            raise DicomWebError(f"node {self.node.address}: {what}: the answer was cut short "
                                f"({type(exc).__name__})") from None
        finally:
            response.close()
        kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if not body.strip():
            return []
        if kind not in (DICOM_JSON, "application/json"):
            raise DicomWebError(f"node {self.node.address}: {what}: answered {kind or 'no content type'} "
                                "instead of DICOM JSON (is the URL the DICOMweb root?)")
        try:
            data = json.loads(body)
        except ValueError:
            raise DicomWebError(f"node {self.node.address}: {what}: the DICOM JSON answer is malformed") from None
        if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
            raise DicomWebError(f"node {self.node.address}: {what}: the answer is not a list of datasets")
        return data

    # ---- QIDO-RS ---------------------------------------------------------------------------------
    def search(self, path: str, params: dict[str, str], what: str, page_size: int | None = None) -> list[dict]:
        """Every answer to a QIDO-RS search, asked page by page (``limit``/``offset``).

        Pages go on until one comes back empty (a node may answer fewer than ``limit`` and still
        have more). A node that ignores ``offset`` answers the same page again: the search stops
        and ``self.capped`` is set, so the caller can ask for narrower windows.
        """
        size = page_size or self.web.page_size
        out: list[dict] = []
        seen: set[str] = set()
        offset = 0
        self.capped = False
        while True:
            page = self.get_json(path, {**params, "limit": str(size), "offset": str(offset)}, what)
            fresh = 0
            for item in page:
                key = "|".join(json.dumps(item.get(tag), sort_keys=True)
                               for tag in ("0020000D", "0020000E", "00080018"))
                if key not in seen:
                    seen.add(key)
                    out.append(item)
                    fresh += 1
            if not page:
                return out
            if fresh == 0:
                self.capped = True
                return out
            offset += len(page)

    def echo(self) -> float:
        """A QIDO-RS probe (one study asked for): seconds it took."""
        started = time.monotonic()
        self.get_json("studies", {"limit": "1", "includefield": "0020000D"}, "QIDO-RS probe")
        return time.monotonic() - started

    # ---- WADO-RS ---------------------------------------------------------------------------------
    def retrieve(self, path: str, what: str, chunk: int = 1 << 16) -> Iterator[tuple[dict[str, str], bytes]]:
        """The parts of a WADO-RS multipart answer, one at a time, each part's bytes as sent.

        The study is never held whole: parts are read off the stream as they arrive. Raises
        DicomWebError for an answer that is not multipart, a wrong boundary or a cut stream.
        """
        def go() -> httpx.Response:
            req = self.http.build_request("GET", path, headers={
                "Accept": f"{MULTIPART_DICOM}; transfer-syntax=*"})
            return self.http.send(req, stream=True)
        response = self._send(what, go, ok=(200, 206))
        try:
            ctype = response.headers.get("content-type", "")
            try:
                boundary = boundary_of(ctype)
            except MultipartError as exc:
                raise DicomWebError(f"node {self.node.address}: {what}: {exc}") from None
            try:
                # Asked for without compression (identity); decoded should a node compress anyway.
                yield from iter_parts(response.iter_bytes(chunk), boundary)
            except MultipartError as exc:
                raise DicomWebError(f"node {self.node.address}: {what}: {exc}") from None
            except httpx.TimeoutException:
                raise DicomWebError(f"node {self.node.address}: {what}: the node stopped sending "
                                    f"(nothing for {self.web.timeout:.0f} s)") from None
            except httpx.HTTPError as exc:
                raise DicomWebError(f"node {self.node.address}: {what}: the connection was dropped "
                                    f"mid-answer ({type(exc).__name__})") from None
        finally:
            response.close()

    # ---- STOW-RS ---------------------------------------------------------------------------------
    def store(self, parts: list[bytes], study_uid: str | None = None) -> tuple[list[str], dict[str, str], list[str]]:
        """POST instances (PS3.10 files) as one multipart; (stored UIDs, failed UID -> reason, warnings).

        The outcome of each instance comes from the answer's ReferencedSOPSequence and
        FailedSOPSequence. Raises DicomWebError when the request as a whole failed.
        """
        boundary = os.urandom(16).hex()

        def body() -> Iterator[bytes]:
            for data in parts:
                yield (f"--{boundary}\r\nContent-Type: application/dicom\r\n"
                       f"Content-Length: {len(data)}\r\n\r\n").encode()
                yield data
                yield b"\r\n"
            yield f"--{boundary}--\r\n".encode()
        length = sum(len(p) for p in parts)

        def go() -> httpx.Response:
            content = b"".join(body())
            req = self.http.build_request(
                "POST", f"studies/{study_uid}" if study_uid else "studies", content=content, headers={
                    "Content-Type": f"{MULTIPART_DICOM}; boundary={boundary}", "Accept": DICOM_JSON})
            return self.http.send(req, stream=True)
        what = f"STOW-RS of {len(parts)} instances ({length / 1e6:.1f} MB)"
        response = self._send(what, go, ok=(200, 202, 409))
        try:
            raw = response.read()
        finally:
            response.close()
        try:
            answer = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise DicomWebError(f"node {self.node.address}: {what}: the answer is not DICOM JSON") from None
        if isinstance(answer, list):
            answer = answer[0] if answer else {}
        return stow_outcome(answer)


def _values(item: dict, tag: str) -> list:
    element = item.get(tag) if isinstance(item, dict) else None
    value = element.get("Value") if isinstance(element, dict) else None
    return value if isinstance(value, list) else []


_FAILURE_REASONS = {
    0xA700: "out of resources", 0xA900: "data set does not match SOP class", 0xC000: "cannot understand",
    0xC122: "referenced transfer syntax not supported", 0x0110: "processing failure",
    0x0122: "SOP class not supported", 0x0124: "not authorized", 0x0112: "no such object instance",
}


def stow_outcome(answer: dict) -> tuple[list[str], dict[str, str], list[str]]:
    """(stored SOP Instance UIDs, failed UID -> reason, warnings) from a STOW-RS answer."""
    stored = [str(u) for item in _values(answer, "00081199") for u in _values(item, "00081155")]
    failed: dict[str, str] = {}
    for item in _values(answer, "00081198"):
        for uid in _values(item, "00081155"):
            code = next(iter(_values(item, "00081197")), None)
            try:
                number = int(code) if code is not None else None
            except (TypeError, ValueError):
                number = None
            reason = _FAILURE_REASONS.get(number or -1, f"failure reason {code}" if code is not None else
                                          "no reason given")
            failed[str(uid)] = f"refused by the node: {reason}"
    warnings = [str(w) for w in _values(answer, "00081196")]
    return stored, failed, warnings
