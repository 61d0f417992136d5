"""Talking to in-process pynetdicom peers: echo, refused, rejected and aborted associations, and
a C-FIND answer that is malformed. Each peer runs on a free loopback port and is shut down."""

from __future__ import annotations

import socket

import pytest
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import Tag
from pynetdicom import AE, evt
from pynetdicom.presentation import build_context
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind, Verification

from archive.network import NetworkError, echo
from archive.network.association import associate
from archive.network.nodes import Node
from archive.network.query import FIND_MODEL, StudyFilter, find_studies


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def peer():
    """Start a pynetdicom SCP with the given handlers; stop it after the test."""
    servers = []

    def start(handlers=(), require_calling=None, on_requested=None):
        ae = AE(ae_title="PEER")
        ae.add_supported_context(Verification)
        ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
        if require_calling:
            ae.require_calling_aet = [require_calling]
        port = free_port()
        extra = [(evt.EVT_REQUESTED, on_requested)] if on_requested else []
        servers.append(ae.start_server(("127.0.0.1", port), block=False,
                                       evt_handlers=[*handlers, *extra]))
        return Node("peer", "PEER", "127.0.0.1", port)

    yield start
    for server in servers:
        server.shutdown()


def test_echo_ok(peer):
    node = peer()
    assert echo(node, "LIMESTONE", timeout=5) < 5


def test_closed_port_names_the_node():
    node = Node("gone", "GONE", "127.0.0.1", free_port())
    with pytest.raises(NetworkError, match=r"^node gone \(GONE@127.0.0.1:\d+\): cannot connect") as info:
        echo(node, "LIMESTONE", timeout=5)
    assert info.value.unreachable


def test_rejected_calling_ae(peer):
    node = peer(require_calling="FRIEND")
    with pytest.raises(NetworkError, match="association rejected .*our AE title 'LIMESTONE'"):
        echo(node, "LIMESTONE", timeout=5)


def test_aborted_association(peer):
    # Orthanc aborts when it does not know the calling AE title.
    node = peer(on_requested=lambda event: event.assoc.abort())
    with pytest.raises(NetworkError, match="association aborted by the node"):
        echo(node, "LIMESTONE", timeout=5)


def test_malformed_find_answers_are_reported_and_skipped(peer):
    def handle_find(event):
        good = Dataset()
        good.StudyInstanceUID = "1.2.826.0.1.3680043.10.1187.1"
        good.NumberOfStudyRelatedInstances = "3"
        yield 0xFF00, good
        bad_uid = Dataset()
        bad_uid.StudyInstanceUID = "not-a-uid"
        yield 0xFF00, bad_uid
        bad_count = Dataset()
        bad_count.StudyInstanceUID = "1.2.826.0.1.3680043.10.1187.2"
        # Raw bytes: pydicom itself refuses to encode a count that is not a number.
        bad_count[0x00201208] = RawDataElement(Tag(0x00201208), "IS", 4, b"many", 0, False, True)
        yield 0xFF00, bad_count
        twice = Dataset()
        twice.StudyInstanceUID = "1.2.826.0.1.3680043.10.1187.1"
        yield 0xFF00, twice

    node = peer(handlers=[(evt.EVT_C_FIND, handle_find)])
    assoc = associate(node, "LIMESTONE", [build_context(FIND_MODEL)], timeout=5)
    try:
        with pytest.warns(UserWarning):
            studies, problems = find_studies(assoc, node, StudyFilter())
    finally:
        assoc.release()
    assert [s.study_uid for s in studies] == ["1.2.826.0.1.3680043.10.1187.1"]
    assert len(problems) == 2
    assert problems[0].startswith("node peer: answer without a valid StudyInstanceUID")
    assert problems[1].startswith("node peer: study 1.2.826.0.1.3680043.10.1187.2: "
                                  "NumberOfStudyRelatedInstances is not a count")


def test_failed_find_names_the_node(peer):
    def handle_find(event):
        yield 0xC001, None

    node = peer(handlers=[(evt.EVT_C_FIND, handle_find)])
    assoc = associate(node, "LIMESTONE", [build_context(FIND_MODEL)], timeout=5)
    try:
        with pytest.raises(NetworkError, match=r"node peer \(PEER@.*\): C-FIND for studies failed: 0xC001"):
            find_studies(assoc, node, StudyFilter())
    finally:
        assoc.release()
