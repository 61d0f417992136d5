"""The vault files of a batch are flushed to disk before the store rows naming them commit: a
power cut between the two must not leave rows whose files were still in the page cache (the next
pull or import would skip them as stored, and the images would be gone)."""

from __future__ import annotations

from archive.home import Archive
from archive.ingest.run import import_paths
from archive.store.writer import StoreWriter
from archive.vault import Vault
from tests.support.samples import write_ct_studies


def test_an_import_flushes_the_vault_before_each_commit(tmp_path, monkeypatch):
    events: list[str] = []
    real_flush, real_commit = Vault.flush, StoreWriter._commit

    def flush(self):
        events.append("flush")
        real_flush(self)

    def commit(self, records, quarantine):
        events.append(f"commit {sum(1 for r in records if r[4])} written")
        return real_commit(self, records, quarantine)

    monkeypatch.setattr(Vault, "flush", flush)
    monkeypatch.setattr(StoreWriter, "_commit", commit)
    monkeypatch.setenv("LIMESTONE_BATCH_SIZE", "4")
    write_ct_studies(tmp_path / "in", 10, per_series=5, seed=3)
    archive = Archive.load(home=str(tmp_path / "home"))
    import_paths(archive, [tmp_path / "in"])

    commits = [i for i, e in enumerate(events) if e.startswith("commit") and not e.startswith("commit 0")]
    assert len(commits) >= 2   # several batches
    assert all(i > 0 and events[i - 1] == "flush" for i in commits), events

    # Nothing new written: a second import of the same files commits without a flush.
    events.clear()
    import_paths(archive, [tmp_path / "in"])
    assert "flush" not in events
