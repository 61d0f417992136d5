"""Backup ids sort in the order the backups were made, even within one second."""
from datetime import datetime, timezone

from archive.backup import manifest as mf
from archive.backup.run import new_backup_id


def test_ids_made_in_one_second_sort_in_the_order_made():
    now = datetime(2026, 12, 7, 8, 4, 26, 500_000, tzinfo=timezone.utc)
    made = [new_backup_id(now)]
    for _ in range(50):
        made.append(new_backup_id(now, newest=made[-1]))
    assert sorted(made, key=lambda i: (mf.id_time(i), i)) == made
    assert len(set(made)) == len(made)


def test_a_clock_behind_the_newest_backup_still_sorts_last():
    newest = "20261207T080427000Z-ffffff"
    earlier_clock = datetime(2026, 12, 7, 8, 4, 20, tzinfo=timezone.utc)
    made = new_backup_id(earlier_clock, newest=newest)
    assert mf.id_time(made) > mf.id_time(newest)


def test_ids_of_the_older_second_resolution_form_sort_by_time():
    old = "20261207T080426Z-ffffff"
    later = "20261207T080426500Z-000000"
    earlier = "20261207T080425999Z-ffffff"
    assert sorted([later, old, earlier], key=lambda i: (mf.id_time(i), i)) == [earlier, old, later]
