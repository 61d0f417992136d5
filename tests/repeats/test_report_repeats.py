"""`limestone report repeats --json` and `limestone link-patients`, run as real commands."""

import json

import pytest

from archive.home import Archive
from pipelines.cli import main
from tests.support import repeats_world as world
from tests.support.cli import limestone


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("report") / "home"
    con = Archive.load(home=str(home)).store()
    world.build(con, link=False)
    con.close()
    linked = limestone("link-patients", home=home, check=True)
    assert "18 patient records -> 13 persons" in linked.stdout
    assert "repeat facts recomputed for 20 studies" in linked.stdout
    assert "TEST" not in linked.stdout                     # no names or identifiers printed
    return home


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_report_json(home):
    out = json.loads(limestone("report", "repeats", "--json", home=home, check=True).stdout)
    assert set(out) == {"since", "until", "as_of", "stale", "totals", "by_site", "by_class"}
    assert out["as_of"] and out["stale"] is False
    keys = {"studies", "repeats", "repeat_rate", "avoidable_repeats", "prior_uses", "avoided_repeats",
            "dose_avoided", "cost_avoided"}
    assert set(out["totals"]) == keys
    assert all(set(b) == keys | {"site"} for b in out["by_site"])
    assert all(set(b) == keys | {"exam_class", "class_name"} for b in out["by_class"])
    t = out["totals"]
    assert (t["studies"], t["repeats"], t["avoidable_repeats"], t["avoided_repeats"]) == (20, 6, 3, 3)
    assert t["cost_avoided"] == world.EXPECTED_COST_AVOIDED
    assert t["dose_avoided"]["ct_dlp_mgy_cm"] == world.EXPECTED_DLP_AVOIDED
    assert {b["site"]: b["avoidable_repeats"] for b in out["by_site"]} == {"EAST": 0, "NORTH": 0, "SOUTH": 3}


def test_date_range_and_text(home, capsys):
    code, out, err = run(capsys, "--home", str(home), "report", "repeats", "--json",
                         "--since", "2024-03-01", "--until", "2024-03-31")
    assert code == 0, err
    out = json.loads(out)
    assert code == 0 and (out["since"], out["until"]) == ("2024-03-01", "2024-03-31")
    assert (out["totals"]["studies"], out["totals"]["repeats"]) == (4, 1)
    code, text, _ = run(capsys, "--home", str(home), "report", "repeats")
    assert code == 0 and "all sites" in text and "site SOUTH" in text and "CT_CHEST" in text


def test_bad_input(home, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--home", str(home), "report", "repeats", "--since", "March"])
    assert exit_.value.code == 2 and "not a date" in capsys.readouterr().err
    code, _, err = run(capsys, "--home", str(home), "report", "repeats", "--since", "2024-05-01",
                       "--until", "2024-04-01")
    assert code == 2
    code, _, err = run(capsys, "--home", str(tmp_path / "nothing"), "report", "repeats", "--json")
    assert code == 2 and "no archive store" in err
