"""The receive journal (``archive.ingest.journal``): entries carry their sealed vault files, many
threads append and share flushes (group commit), and a segment cut short by a crash is read up
to its last whole entry (the cut one was never acknowledged)."""

from __future__ import annotations

import threading

from archive.home import Archive
from archive.ingest import journal
from archive.vault import content_hash


def test_appends_from_many_threads_read_back_whole_with_their_sealed_files(tmp_path):
    archive = Archive.load(home=str(tmp_path / "home"))
    vault = archive.vault
    log = journal.Journal(archive.home, "test")
    payloads = [f"instance {i}".encode() * (i + 1) for i in range(40)]

    def receive(data: bytes) -> None:
        digest = content_hash(data)
        sealed = vault.seal(data, digest)
        with log.lock:
            ticket = log.append(journal.Entry("stored", digest, len(data), "x.dcm", "AE"), sealed)
        log.sync(ticket)
        assert ticket[0].synced >= ticket[1]      # durable before the sender would be answered

    threads = [threading.Thread(target=receive, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    segment = log.close()
    assert segment is not None
    found = list(journal.entries(segment))
    assert sorted(e.digest for e, _ in found) == sorted(content_hash(p) for p in payloads)

    written = vault.put_sealed([(e.digest, sealed) for e, sealed in found])
    assert written == {content_hash(p) for p in payloads}
    assert {vault.get(content_hash(p)) for p in payloads} == set(payloads)   # filed as sealed, no re-sealing
    assert vault.put_sealed([(e.digest, sealed) for e, sealed in found]) == set()   # already there

    # A crash in the middle of the last entry's sealed bytes: that entry is not read.
    whole = segment.read_bytes()
    segment.write_bytes(whole[:-10])
    assert len(list(journal.entries(segment))) == len(payloads) - 1
