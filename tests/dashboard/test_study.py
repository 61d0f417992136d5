from pathlib import Path

from archive import study_keys
from archive.home import Home
from tests.support.apptest import page, texts, viewers


def key(home, role="ct_head"):
    return study_keys.encode(Home(Path(home.home)), home.studies[role])


def test_study_page_banner_series_and_timeline(home):
    at = page("study", study=key(home)).run()
    assert not at.exception
    shown = texts(at)
    assert "TEST, Alpha" in shown and "N1001" in shown and "Born 02 Jan 1960" in shown and "Female" in shown
    assert "CT HEAD WITHOUT CONTRAST" in shown
    assert "#2 CT" in shown and "12 images" in shown
    assert len(viewers(at, "limestone_thumbnail")) == 1  # the series preview, fetched with a grant
    assert not at.get("image")                            # never an unauthenticated /media/ address
    assert "3 studies at 2 sites" in shown
    assert "SOUTH · MRN S77" in shown  # the same patient's study at the other site


def test_clerk_sees_no_images_and_no_viewer_link(home):
    at = page("study", role="clerk", study=key(home)).run()
    assert not at.exception
    assert len(at.get("image")) == 0 and not viewers(at, "limestone_thumbnail")
    assert "[View]" not in texts(at)


def test_bad_or_missing_key_is_a_plain_message(home):
    at = page("study", study="not-a-key").run()
    assert not at.exception and not at.error
    assert "not valid" in texts(at)
    at = page("study").run()
    assert "Find a study" in texts(at)
    assert at.text_input(key="study.find")              # never a dead end: a search is offered


def test_missing_vault_file_shows_no_preview(home):
    at = page("study", study=key(home, "missing")).run()
    assert not at.exception and not at.error
    assert "no preview" in texts(at)
