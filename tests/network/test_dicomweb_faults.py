"""DICOMweb nodes that answer wrongly: a small in-process HTTP server plays the bad node.

Each fault must give a plain message naming the node, store nothing half, and the rerun against
the mended node completes the study. Also the multipart parser alone, and STOW-RS answers that
fail some instances.
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from archive import state
from archive.home import Home
from archive.network.dicomweb.client import retry_after, stow_outcome
from archive.network.dicomweb.multipart import MultipartError, iter_parts
from tests.support.peers import Limestone
from tests.support.synthetic_studies import make_studies, write_studies

pytestmark = pytest.mark.integration

BOUNDARY = "b0undary-xyz"


class _QuietServer(ThreadingHTTPServer):
    """The bad node: a client that hangs up on a refusal (as pull does after a 403) is not an error."""

    def handle_error(self, request, client_address):
        pass


class BadNode:
    """An HTTP server whose answers the test chooses (``mode``); counts WADO-RS requests."""

    def __init__(self, files: list[bytes], study_uid: str, other: bytes):
        self.files, self.study_uid, self.other = files, study_uid, other
        self.mode = "good"
        self.requests: list[str] = []
        self.stored: list[bytes] = []
        node = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                node.requests.append(self.path)
                node.answer(self)

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                node.stored.append(body)
                node.stow(self, body)

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/dicom-web"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _send(self, h, status: int, ctype: str, body: bytes, extra: dict | None = None) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    def multipart(self, parts: list[bytes], boundary: str = BOUNDARY) -> bytes:
        out = b""
        for data in parts:
            out += (f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n").encode() + data + b"\r\n"
        return out + f"--{boundary}--\r\n".encode()

    def answer(self, h) -> None:
        mode = self.mode
        if "/studies?" in h.path or h.path.endswith("/studies"):
            if mode == "html":
                return self._send(h, 200, "text/html", b"<html><body>Welcome to the portal</body></html>")
            study = {"0020000D": {"vr": "UI", "Value": [self.study_uid]},
                     "00080020": {"vr": "DA", "Value": ["20240101"]},
                     "00201208": {"vr": "IS", "Value": [len(self.files)]}}
            offset = int(h.path.split("offset=")[1].split("&")[0]) if "offset=" in h.path else 0
            return self._send(h, 200, "application/dicom+json", json.dumps([study] if offset == 0 else []).encode())
        if mode in ("401", "403", "404"):
            return self._send(h, int(mode), "text/plain", b"no")
        if mode == "429" and sum(1 for r in self.requests if "/studies/" in r) == 1:
            return self._send(h, 429, "text/plain", b"slow down", {"Retry-After": "1"})
        if mode == "503":
            return self._send(h, 503, "text/plain", b"down", {"Retry-After": "0"})
        ctype = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
        if mode == "hang":
            time.sleep(6)
            return
        if mode == "wrong-boundary":
            return self._send(h, 200, ctype, self.multipart(self.files, "another-boundary"))
        if mode == "not-dicom":
            return self._send(h, 200, ctype, self.multipart([self.files[0], b"<html>oops</html>" * 20]))
        if mode == "other-study":
            return self._send(h, 200, ctype, self.multipart([self.files[0], self.other]))
        body = self.multipart(self.files)
        if mode == "truncated":
            cut = len(body) - len(self.files[-1]) // 2
            return self._send(h, 200, ctype, body[:cut])
        if mode == "drop":
            h.send_response(200)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body[:len(body) - len(self.files[-1]) // 2])
            h.wfile.flush()
            h.close_connection = True
            return
        return self._send(h, 200, ctype, body)

    def stow(self, h, body: bytes) -> None:
        # Fail the first instance of the request when asked to, store the rest.
        from io import BytesIO

        import pydicom

        from archive.network.dicomweb.multipart import boundary_of
        uids = []
        for _, part in iter_parts([body], boundary_of(h.headers["Content-Type"])):
            ds = pydicom.dcmread(BytesIO(part), stop_before_pixels=True)
            uids.append(str(ds.SOPInstanceUID))
        failed = uids[:1] if self.mode == "stow-fail-first" else []
        answer = {"00081199": {"vr": "SQ", "Value": [{"00081155": {"vr": "UI", "Value": [u]}}
                                                       for u in uids if u not in failed]}}
        if failed:
            answer["00081198"] = {"vr": "SQ", "Value": [{"00081155": {"vr": "UI", "Value": [u]},
                                                         "00081197": {"vr": "US", "Value": [0xA700]}}
                                                        for u in failed]}
        self._send(h, 202 if failed else 200, "application/dicom+json", json.dumps(answer).encode())


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad-node-files")
    studies = make_studies(2, 3, seed=77)
    paths = write_studies(studies, folder)
    mine = [p.read_bytes() for p in paths[:3]]
    return studies, mine, paths[3].read_bytes(), folder


@pytest.fixture
def bad(files):
    studies, mine, other, _ = files
    node = BadNode(mine, studies[0].study_uid, other)
    yield node
    node.close()


def _limestone(tmp_path: Path, bad: BadNode) -> Limestone:
    limestone = Limestone(tmp_path / "home", env={"LIMESTONE_DICOMWEB_TIMEOUT": "2",
                                                  "LIMESTONE_DICOMWEB_RETRIES": "1"})
    result = limestone("nodes", "add", "bad", "--url", bad.url, "--max-connections", "1")
    assert result.returncode == 0, result.stderr
    return limestone


def _archived(limestone: Limestone) -> dict[str, bytes]:
    archive = limestone.store()
    con = archive.store(read_only=True)
    try:
        rows = con.execute("SELECT sop_instance_uid, content_hash FROM instances").fetchall()
    finally:
        con.close()
    return {uid: archive.vault.get(digest) for uid, digest in rows}


FAULTS = {
    "html": "answered text/html instead of DICOM JSON",
    "truncated": "cut short",
    "drop": "cut short|dropped",
    "wrong-boundary": "wrong boundary",
    "not-dicom": "not a DICOM file",
    "other-study": "instance of another study",
    "401": "HTTP 401",
    "403": "HTTP 403",
    "404": "HTTP 404",
    "503": "HTTP 503",
    "hang": "no answer within|stopped sending",
}


@pytest.mark.parametrize("mode", list(FAULTS))
def test_fault_is_plain_nothing_half_stored_and_rerun_completes(mode, bad, files, tmp_path):
    import re
    studies, mine, other, _ = files
    limestone = _limestone(tmp_path, bad)
    bad.mode = mode
    result = limestone("pull", "bad")
    assert result.returncode == 1, result.stdout
    assert re.search(FAULTS[mode], result.stderr), result.stderr
    assert "node bad (" in result.stderr and "Traceback" not in result.stderr
    kept = _archived(limestone) if (tmp_path / "home" / "store").exists() else {}
    # Only whole instances of the study asked for, each exactly as sent; never the stray one.
    originals = {}
    from io import BytesIO

    import pydicom
    for data in mine:
        originals[str(pydicom.dcmread(BytesIO(data), stop_before_pixels=True).SOPInstanceUID)] = data
    assert set(kept) <= set(originals)
    assert all(kept[u] == originals[u] for u in kept)
    bad.mode = "good"
    again = limestone("pull", "bad")
    assert again.returncode == 0, again.stdout + again.stderr
    archived = _archived(limestone)
    assert archived == originals
    with closing(state.connect(Home(limestone.home))) as con:
        assert con.execute("SELECT status FROM node_studies").fetchall() == [("complete",)]


def test_429_waits_for_retry_after_then_goes_on(bad, tmp_path):
    limestone = _limestone(tmp_path, bad)
    bad.mode = "429"
    started = time.monotonic()
    result = limestone("pull", "bad")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started >= 1.0
    assert sum(1 for r in bad.requests if "/studies/" in r) == 2
    assert len(_archived(limestone)) == 3


def test_stow_failed_sop_sequence_is_per_instance_and_retried(bad, files, tmp_path):
    studies, _, _, folder = files
    limestone = Limestone(tmp_path / "home", env={"LIMESTONE_SEND_BACKOFF_SECONDS": "0.01",
                                                  "LIMESTONE_SEND_RETRIES": "0"})
    assert limestone("import", str(folder)).returncode == 0
    assert limestone("nodes", "add", "bad", "--url", bad.url).returncode == 0
    bad.mode = "stow-fail-first"
    result = limestone("send", "--study", studies[0].study_uid, "--to", "bad", "--json")
    assert result.returncode == 1
    (outcome,) = json.loads(result.stdout)
    assert (outcome["status"], outcome["sent"], outcome["failed"]) == ("partial", 2, 1)
    assert any("refused 1 instance(s): refused by the node: out of resources" in p for p in outcome["problems"])
    # Retried: only the instance that failed goes again.
    limestone2 = Limestone(tmp_path / "home", env={"LIMESTONE_SEND_BACKOFF_SECONDS": "0.01",
                                                   "LIMESTONE_SEND_RETRIES": "1"})
    bad.stored.clear()
    result = limestone2("send", "--study", studies[0].study_uid, "--to", "bad", "--json")
    (outcome,) = json.loads(result.stdout)
    assert outcome["attempts"] == 2 and outcome["sent"] == 2 and outcome["failed"] == 1
    assert len(bad.stored) == 2 and bad.stored[1].count(b"DICM") == 1


# ---- the parser alone --------------------------------------------------------------------------
def _stream(parts: list[bytes], with_length: bool) -> bytes:
    out = b"preamble to ignore\r\n"
    for data in parts:
        head = "Content-Type: application/dicom\r\n" + (f"Content-Length: {len(data)}\r\n" if with_length else "")
        out += f"--{BOUNDARY}\r\n{head}\r\n".encode() + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


@pytest.mark.parametrize("with_length", [True, False])
@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_parser_keeps_parts_byte_exact_across_any_chunking(with_length, chunk):
    parts = [b"\x00" * 128 + b"DICM" + bytes(range(256)) * 40, b"--" + BOUNDARY.encode() + b"x\r\n\r\n",
             b"", b"\r\n-- tail"]
    stream = _stream(parts, with_length)
    got = list(iter_parts((stream[i:i + chunk] for i in range(0, len(stream), chunk)), BOUNDARY.encode()))
    assert [body for _, body in got] == parts
    assert all(h["content-type"] == "application/dicom" for h, _ in got)


def test_parser_refuses_cut_and_wrong_streams():
    stream = _stream([b"a" * 100, b"b" * 100], True)
    with pytest.raises(MultipartError, match="cut short after 1 parts"):
        list(iter_parts([stream[:-60]], BOUNDARY.encode()))
    with pytest.raises(MultipartError, match="boundary"):
        list(iter_parts([stream], b"not-the-boundary"))
    with pytest.raises(MultipartError, match="longer than its Content-Length"):
        list(iter_parts([stream.replace(b"Content-Length: 100", b"Content-Length: 90", 1)], BOUNDARY.encode()))


def test_retry_after_and_stow_outcome():
    assert retry_after("3", 1.0) == 3.0 and retry_after(None, 1.5) == 1.5 and retry_after("junk", 2.0) == 2.0
    assert retry_after("100000", 1.0) == 120.0
    stored, failed, _ = stow_outcome({
        "00081199": {"vr": "SQ", "Value": [{"00081155": {"vr": "UI", "Value": ["1.2.3"]}}]},
        "00081198": {"vr": "SQ", "Value": [{"00081155": {"vr": "UI", "Value": ["1.2.4"]},
                                             "00081197": {"vr": "US", "Value": [0xC122]}}]}})
    assert stored == ["1.2.3"] and failed == {"1.2.4": "refused by the node: referenced transfer syntax not supported"}


def test_dicomweb_node_kept_in_the_registry_and_validated(tmp_path):
    from archive.network.nodes import Node, NodeError, NodeRegistry
    with NodeRegistry(Home(tmp_path)) as registry:
        web = registry.add(Node("cloud", url="https://pacs.example.org/dicom-web/", auth="bearer", max_connections=6))
        both = registry.add(Node("both", "BOTH", "10.0.0.1", 104, url="http://10.0.0.1:8042/dicom-web"))
        assert registry.get("cloud") == web and web.url == "https://pacs.example.org/dicom-web"
        assert web.address == "cloud (https://pacs.example.org/dicom-web)" and not web.has_dimse
        assert registry.get("both").has_dimse and registry.get("both").dicomweb
        assert both.destination == "http://10.0.0.1:8042/dicom-web"
    for bad in ({"url": "ftp://x/"}, {"url": "https://u:p@x/dw"}, {"url": "https://x/dw?token=1"},
                {"url": "https://x/dw", "auth": "digest"}, {"url": "https://x/dw", "max_connections": 0}):
        with pytest.raises(NodeError) as info:
            Node("n", **bad)
        assert "p@" not in str(info.value) and "token=1" not in str(info.value)
    with pytest.raises(NodeError):
        Node("n")  # neither a DIMSE address nor a URL


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate for 127.0.0.1 signed by it: (ca.pem, cert.pem, key.pem)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(text):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("Test Hospital CA")).issuer_name(name("Test Hospital CA"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(name("pacs.test")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(2).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def test_tls_is_verified_against_the_ca_bundle_setting(bad, tmp_path):
    import ssl
    ca, cert, key = _certificates(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    bad.server.socket = context.wrap_socket(bad.server.socket, server_side=True)
    url = bad.url.replace("http://", "https://")
    limestone = Limestone(tmp_path / "home", env={"LIMESTONE_DICOMWEB_TIMEOUT": "5"})
    assert limestone("nodes", "add", "tls", "--url", url).returncode == 0
    refused = limestone("nodes", "echo", "tls")
    assert refused.returncode == 1 and "TLS certificate is not trusted" in refused.stderr
    trusted = limestone("nodes", "echo", "tls", env={"LIMESTONE_DICOMWEB_CA_BUNDLE": str(ca)})
    assert trusted.returncode == 0 and "QIDO-RS ok" in trusted.stdout, trusted.stderr
