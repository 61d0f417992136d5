"""What an incremental backup reads again: vault files by their inode (a re-wrapped file is a new
file, renamed into place), other files by size and modification time."""

from __future__ import annotations

import os

from archive.backup import manifest as mf
from archive.backup.run import back_up
from archive.backup.targets import open_target
from archive.home import Archive
from tests.backup.conftest import vault_paths


def test_a_rewrapped_vault_file_is_copied_again_even_with_its_old_size_and_time(home, tmp_path):
    archive = Archive.load(home=str(home))
    target = str(tmp_path / "backups")
    back_up(archive, target)

    digest, path = sorted(vault_paths(home).items())[0]
    before = os.stat(path)
    new_key = archive.vault.keys.create()
    assert archive.vault.rewrap(digest, new_key)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))   # same size, same time: only the inode tells
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert after.st_ino != before.st_ino

    second = back_up(archive, target)
    rel = str(path.relative_to(home))
    assert set(second.copied) - {"store/catalog.sqlite", "state.sqlite"} == {rel}
    entry = next(e for e in mf.entries(open_target(target), second.manifest) if e.path == rel)
    assert entry.inode == after.st_ino and entry.key_id == new_key


def test_an_unchanged_home_copies_no_file_again(home, tmp_path):
    archive = Archive.load(home=str(home))
    target = str(tmp_path / "backups")
    first = back_up(archive, target)
    assert first.manifest.copied_files > len(vault_paths(home))
    second = back_up(archive, target)
    assert not [p for p in second.copied if p.startswith(("vault/", "store/lake/"))]
    assert second.manifest.files == first.manifest.files
    assert second.manifest.counts == first.manifest.counts


def test_the_counting_child_keeps_no_descriptor_of_its_parent(tmp_path):
    """The child that counts a backup's rows holds none of the parent's files (the target's lock):
    a kill -9 of the parent leaves the target unlocked even while the child still runs."""
    import fcntl

    from archive.backup.run import _Forked

    with open(tmp_path / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        locked = lock.fileno()
        fds = _Forked(lambda: sorted(int(fd) for fd in os.listdir("/proc/self/fd"))).result()
    assert locked not in fds
    assert set(fds) - {0, 1, 2} and len(set(fds) - {0, 1, 2}) <= 2   # its pipe (and listdir's own)
