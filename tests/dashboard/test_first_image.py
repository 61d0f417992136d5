"""What the first image after opening a page waits for: queries warmed and read ahead, the table's
scripts loaded during sign-in, no full garbage collection after each run
(benchmarks/viewer_scroll.py measures the time)."""

import threading
import tomllib
from pathlib import Path

import streamlit as st

from dashboard import data
from tests.support.apptest import page

ROOT = Path(__file__).resolve().parents[2]


def join_prefetches() -> None:
    for thread in threading.enumerate():
        if thread.name == "limestone-prefetch":
            thread.join()


def test_a_prefetched_query_runs_once_and_the_page_finds_it_cached():
    computed = []

    @st.cache_data
    def query(x: int) -> int:
        computed.append(x)
        return 2 * x

    data.prefetch(lambda: query(21))
    join_prefetches()
    assert query(21) == 42 and computed == [21]


def test_a_failed_prefetch_is_left_to_the_page():
    def broken() -> None:
        raise RuntimeError("store unreadable")

    data.prefetch(broken)
    join_prefetches()   # nothing raised here: the page's own call reports it


def test_signed_out_pages_load_the_table_scripts_out_of_sight(home):
    at = page("viewer", role=None).run()
    assert not at.exception
    assert [df for df in at.dataframe if df.value.empty]
    assert ".st-key-preload_scripts {display: none}" in "".join(h.proto.body for h in at.get("html"))


def test_no_full_garbage_collection_after_every_run():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False


def test_every_study_query_is_run_once_in_the_background(home):
    data.warm_queries(str(home.home))   # each query of the study, viewer and comparison pages: none fails
