"""The link's read-only DICOMweb endpoint, driven by the dicomweb-client package."""

from __future__ import annotations

import pytest
import requests

from archive import audit, sharing
from tests.support.share_helpers import issue, link_url, signed_in

dicomweb_client = pytest.importorskip("dicomweb_client")


def test_qido_and_wado_scoped_to_the_link(shared, portal):
    from dicomweb_client.api import DICOMwebClient
    issued = issue(shared, "a_ct", "a_mixed")
    session = signed_in(portal, issued)
    base = link_url(portal, issued) + "/dicomweb"
    client = DICOMwebClient(url=base, session=session)

    studies = client.search_for_studies()
    assert {s["0020000D"]["Value"][0] for s in studies} == {shared.studies["a_ct"], shared.studies["a_mixed"]}
    ct = shared.studies["a_ct"]
    series = client.search_for_series(study_instance_uid=ct)
    assert len(series) == 1 and series[0]["00201209"]["Value"][0] == 15
    instances = client.search_for_instances(study_instance_uid=ct,
                                            series_instance_uid=series[0]["0020000E"]["Value"][0])
    assert len(instances) == 15

    retrieved = client.retrieve_study(shared.studies["a_mixed"], media_types=(("application/dicom", "*"),))
    mixed = {sop for sop, path in shared.by_sop.items() if path.parent.name == "mixed"}
    assert {str(ds.SOPInstanceUID) for ds in retrieved} == mixed
    # byte identity: the raw parts are the original files
    one = instances[0]["00080018"]["Value"][0]
    raw = session.get(f"{base}/studies/{ct}/series/{series[0]['0020000E']['Value'][0]}/instances/{one}",
                      headers={"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'})
    assert raw.status_code == 200 and shared.by_sop[one].read_bytes() in raw.content
    metadata = client.retrieve_study_metadata(ct)
    assert len(metadata) == 15 and all(m["00100020"]["Value"] for m in metadata)
    assert all(m["7FE00010"]["BulkDataURI"].endswith("/bulk/7FE00010") for m in metadata)

    # the access key shown on the page works without the cookie; nothing outside the link answers
    key = access_key(session.get(link_url(portal, issued)).text)
    cookie = session.cookies.get("limestone_share")
    assert key and key != cookie and cookie not in key
    bearer = requests.get(f"{base}/studies", headers={"Authorization": f"Bearer {key}"})
    assert bearer.status_code == 200 and len(bearer.json()) == 2
    # the session cookie's value is not an access key, and the key is not a session
    assert requests.get(f"{base}/studies", headers={"Authorization": f"Bearer {cookie}"}).status_code == 404
    assert "dicomweb-key" not in requests.get(link_url(portal, issued), cookies={"limestone_share": key}).text
    assert requests.get(f"{base}/studies").status_code == 404
    assert requests.get(f"{base}/studies", headers={"Authorization": "Bearer forged"}).status_code == 404
    assert session.get(f"{base}/studies/{shared.studies['b_ct']}").status_code == 404
    assert session.get(f"{base}/studies/{shared.studies['b_ct']}/series").status_code == 404
    other = issue(shared, "b_ct")
    assert requests.get(link_url(portal, other) + "/dicomweb/studies",
                        headers={"Authorization": f"Bearer {key}"}).status_code == 404
    assert "dicomweb" in " ".join(e["detail"] or "" for e in audit.search(
        shared.archive().home, link_id=issued.link.link_id, actions=["download"]))
    sharing.revoke(shared.archive().home, issued.link.link_id, by="test")
    assert session.get(f"{base}/studies").status_code == 404
    assert requests.get(f"{base}/studies", headers={"Authorization": f"Bearer {key}"}).status_code == 404


def access_key(page: str) -> str:
    import html
    import re
    found = re.search(r'<code id="dicomweb-key">([^<]*)</code>', page)
    return html.unescape(found.group(1)) if found else ""


PUBLIC = "https://share.hospital.example"


@pytest.fixture(scope="module")
def public_portal(shared):
    """A portal whose public address (portal_base_url) is not where the test reaches it."""
    from archive.home import Archive
    from tests.support.share_world import RunningPortal
    archive = Archive.load(home=str(shared.home), portal_base_url=PUBLIC, portal_attempts_per_minute=100000,
                           portal_requests_per_minute=100000)
    running = RunningPortal(archive).start()
    try:
        yield running
    finally:
        running.stop()


def test_urls_frames_rendered_and_bulk_data(shared, public_portal):
    """OHIF's requests: absolute URLs from portal_base_url, frames whose pixels equal the
    original's, rendered images, and BulkDataURIs that resolve."""
    import numpy as np
    import pydicom
    from dicomweb_client.api import DICOMwebClient
    portal = public_portal
    issued = issue(shared, "a_ct", "a_mixed")
    # Reached through its public name (as behind a proxy): the portal answers only that Host.
    host = {"Host": PUBLIC.split("://")[1]}
    # (the cookie is Secure for an https base URL: given outright, as the proxy would pass it)
    signed = requests.post(link_url(portal, issued), data={"answer": issued.passcode}, headers=host,
                           allow_redirects=False)
    assert signed.status_code == 303
    cookie = signed.cookies.get("limestone_share")
    page = requests.get(link_url(portal, issued), headers={**host, "Cookie": f"limestone_share={cookie}"}).text
    assert f'<code id="dicomweb-url">{PUBLIC}/s/{issued.token}/dicomweb</code>' in page, page[-1500:]
    key = access_key(page)
    local = link_url(portal, issued) + "/dicomweb"
    public = f"{PUBLIC}/s/{issued.token}/dicomweb"
    class ViaProxy(requests.Session):
        """Every request names the public host, as the hospital's proxy would."""

        def prepare_request(self, request):
            prepared = super().prepare_request(request)
            prepared.headers.update({"Authorization": f"Bearer {key}", **host})
            return prepared

        def send(self, request, **kw):
            request.headers.update({"Authorization": f"Bearer {key}", **host})
            return super().send(request, **kw)
    web = ViaProxy()
    client = DICOMwebClient(url=local, session=web)
    studies = client.search_for_studies()
    spoofed = requests.get(f"{local}/studies", headers={"Authorization": f"Bearer {key}", "Host": "evil.example"})
    assert spoofed.status_code != 200 and "evil.example" not in spoofed.text
    assert all(s["00081190"]["Value"][0].startswith(public + "/studies/") for s in studies)

    # every instance: frames (decoded, and as stored) equal the original's pixels
    for sop, path in shared.by_sop.items():
        if path.parent.name != "mixed" and sop not in {next(iter(shared.by_sop))}:
            continue
        original = pydicom.dcmread(path)
        if "PixelData" not in original:
            continue
        study, series = str(original.StudyInstanceUID), str(original.SeriesInstanceUID)
        if study not in (shared.studies["a_ct"], shared.studies["a_mixed"]):
            continue
        frames = client.retrieve_instance_frames(study, series, sop, frame_numbers=[1])
        expected = original.pixel_array
        first = expected[0] if int(original.get("NumberOfFrames", 1) or 1) > 1 else expected
        got = np.frombuffer(frames[0], dtype=first.dtype.newbyteorder("<")).reshape(first.shape)
        assert np.array_equal(got, first), path.name
        if original.file_meta.TransferSyntaxUID.is_encapsulated:
            stored = client.retrieve_instance_frames(study, series, sop, frame_numbers=[1],
                                                     media_types=(("application/octet-stream", "*"),))
            assert stored[0] == next(pydicom.encaps.generate_frames(
                original.PixelData, number_of_frames=int(original.get("NumberOfFrames", 1) or 1)))
        png = client.retrieve_instance_rendered(study, series, sop, media_types=("image/png",))
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        # the metadata's BulkDataURI for the pixel data resolves (through the public address)
        meta = client.retrieve_instance_metadata(study, series, sop)
        uri = meta["7FE00010"]["BulkDataURI"]
        assert uri.startswith(public)
        bulk = client.retrieve_bulkdata(uri.replace(public, local))
        assert bulk[0] == original.PixelData
    assert requests.get(f"{local}/studies/{shared.studies['a_ct']}/series/x/instances/y/frames/1",
                        headers={"Authorization": f"Bearer {key}", **host}).status_code == 404
