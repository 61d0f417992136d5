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
    assert len(metadata) == 15 and all("7FE00010" not in m and m["00100020"]["Value"] for m in metadata)

    # the access key works without the cookie; nothing outside the link answers
    key = session.cookies.get("limestone_share")
    bearer = requests.get(f"{base}/studies", headers={"Authorization": f"Bearer {key}"})
    assert bearer.status_code == 200 and len(bearer.json()) == 2
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
