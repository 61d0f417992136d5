"""A recipient's visit: passcode, the studies page, images, the ZIP download, and the audit trail."""

from __future__ import annotations

import io
import zipfile

import pydicom
import requests
from pydicom.fileset import FileSet

from archive import audit, sharing
from archive.vault import content_hash
from tests.support.share_helpers import issue, link_url, signed_in


def test_passcode_then_studies_with_banner_and_no_uids_in_addresses(shared, portal):
    issued = issue(shared, "a_ct", "a_mixed", recipient_role="doctor")
    url = link_url(portal, issued)
    form = signed_out = requests.get(url)
    assert form.status_code == 200 and "Passcode" in form.text and "SAMPLE" not in form.text
    assert signed_out.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in form.headers["content-security-policy"]
    session = signed_in(portal, issued)
    page = session.get(url)
    assert page.status_code == 200
    assert 'id="patient-banner"' in page.text and "SAMPLE" in page.text
    assert "MIXED SYNTAXES" in page.text and "Download all images" in page.text
    for uid in shared.studies.values():
        assert uid not in page.text                       # addresses use positions, not UIDs
    assert page.text.count('class="tile"') == 1 + 5       # CT series + one per mixed file
    client_viewer = session.get(url + "/view/1/1")            # the client-side viewer: 15 images to fetch
    assert client_viewer.status_code == 200 and "data-limestone-viewer" in client_viewer.text
    assert "&quot;count&quot;: 15" in client_viewer.text
    viewer = session.get(url + "/view/1/1?classic=1")           # the server-rendered one, kept as a baseline
    assert viewer.status_code == 200 and 'data-count="15"' in viewer.text
    first = session.get(url + "/image/1/1/1.png")
    last = session.get(url + "/image/1/1/15.png?window=CT%20lung&invert=1")
    assert first.headers["content-type"] == "image/png" and first.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert last.content != first.content
    ultrasound = session.get(url + "/view/2/5?classic=1")              # multi-frame objects are unrolled
    original = shared.by_sop[_sop_of(shared, "examples_ybr_color")]
    frames = int(pydicom.dcmread(original, stop_before_pixels=True).NumberOfFrames)
    assert f'data-count="{frames}"' in ultrasound.text
    assert session.get(url + f"/image/2/5/{frames}.png").status_code == 200
    assert session.get(url + "/thumb/2/1.png").content[:4] == b"\x89PNG"
    home = shared.archive().home
    events = audit.search(home, link_id=issued.link.link_id)
    opened = [e for e in events if e["action"] == "open"]
    assert {e["study_instance_uid"] for e in opened} == {shared.studies["a_ct"], shared.studies["a_mixed"]}
    assert all(e["source"] == "portal" and e["ip"] == "127.0.0.1" and e["user_agent"] == "pytest-recipient"
               and e["user_id"] == f"link:{issued.link.link_id}" and e["user_role"] == "doctor" for e in opened)
    assert [e["study_instance_uid"] for e in events if e["action"] == "view"].count(shared.studies["a_mixed"]) == 1
    assert sharing.get(home, issued.link.link_id).first_opened_at is not None


def _sop_of(shared, name):
    import tests.support.samples as samples
    wanted = pydicom.dcmread(samples.pydicom_file(name + ".dcm"), stop_before_pixels=True).SOPClassUID
    for sop, path in shared.by_sop.items():
        if path.parent.name == "mixed" and pydicom.dcmread(path, stop_before_pixels=True).SOPClassUID == wanted \
                and pydicom.dcmread(path, stop_before_pixels=True).get("NumberOfFrames"):
            return sop
    raise AssertionError(name)


def test_download_is_a_zip_with_dicomdir_byte_identical_to_vault_and_originals(shared, portal, tmp_path):
    issued = issue(shared, "a_ct", "a_mixed")
    session = signed_in(portal, issued)
    response = session.get(link_url(portal, issued) + "/download", stream=True)
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert 'filename="limestone-images.zip"' in response.headers["content-disposition"]
    data = b"".join(response.iter_content(1 << 16))
    assert int(response.headers["content-length"]) == len(data)        # streamed, its size known up front
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    names = archive.namelist()
    assert "DICOMDIR" in names and "README.TXT" in names
    assert all(n == "README.TXT" or (n.upper() == n and all(len(p) <= 8 and "." not in p for p in n.split("/")))
               for n in names)
    archive.extractall(tmp_path)
    file_set = FileSet(tmp_path / "DICOMDIR")
    assert len(file_set) == 20                                          # 15 CT + 5 mixed
    vault = shared.archive().vault
    for instance in file_set:
        on_disk = (tmp_path / instance.FileID).read_bytes()
        original = shared.by_sop[instance.SOPInstanceUID].read_bytes()
        assert on_disk == original
        assert vault.get(content_hash(on_disk)) == on_disk
    home = shared.archive().home
    assert sharing.get(home, issued.link.link_id).downloads == 1
    downloads = audit.search(home, link_id=issued.link.link_id, actions=["download"])
    assert {e["study_instance_uid"] for e in downloads} == {shared.studies["a_ct"], shared.studies["a_mixed"]}
    # one study on its own
    single = zipfile.ZipFile(io.BytesIO(session.get(link_url(portal, issued) + "/download/2").content))
    assert len([n for n in single.namelist() if n not in ("DICOMDIR", "README.TXT")]) == 5


def test_permissions_limit_what_a_link_offers(shared, portal):
    view_only = issue(shared, "b_ct", permissions=["view"])
    session = signed_in(portal, view_only)
    url = link_url(portal, view_only)
    assert "Download all images" not in session.get(url).text
    assert session.get(url + "/download").status_code == 404
    download_only = issue(shared, "b_ct", permissions=["download"])
    session = signed_in(portal, download_only)
    url = link_url(portal, download_only)
    assert session.get(url + "/view/1/1").status_code == 404
    assert session.get(url + "/image/1/1/1.png").status_code == 404
    assert session.get(url + "/download").status_code == 200


def test_birth_date_verification(shared, portal):
    import pytest
    import requests

    from tests.support.share_world import BIRTH_DATE
    with pytest.raises(sharing.ShareError, match="no birth date"):
        issue(shared, "a_ct", verify="birth_date")                    # patient A has none on file
    issued = issue(shared, "b_ct", verify="birth_date")
    assert issued.passcode is None
    url = link_url(portal, issued)
    assert 'type="date"' in requests.get(url).text
    wrong = requests.post(url, data={"answer": "1970-03-16"})
    assert wrong.status_code == 401 and "does not match" in wrong.text
    right = f"{BIRTH_DATE[:4]}-{BIRTH_DATE[4:6]}-{BIRTH_DATE[6:]}"
    assert requests.post(url, data={"answer": right}, allow_redirects=False).status_code == 303


def test_series_without_images_are_shown_as_such_not_as_black_thumbnails(shared, portal):
    issued = issue(shared, "a_report")
    url = link_url(portal, issued)
    page = signed_in(portal, issued).get(url)
    assert page.status_code == 200
    # The reported study: one CT series, and SR and Encapsulated PDF series (no pixel data).
    assert page.text.count('class="tile"') == 1
    assert page.text.count("/thumb/") == 1 and page.text.count("/view/1/") == 1
    assert page.text.count('class="tile no-images"') >= 2
    assert page.text.count("No images to show") == page.text.count('class="tile no-images"')
