"""Reference levels are a table the team edits: national and local, with their source."""

from __future__ import annotations

import pytest

from archive.home import Archive
from archive.quality import dose


def test_a_local_level_applies_instead_of_the_national_one(tmp_path):
    archive = Archive.load(home=str(tmp_path / "home"))
    con = archive.store()
    try:
        national = dose.effective_levels(con)
        head = national[(national["body_part"] == "HEAD") & (national["metric"] == "ctdi_vol")].iloc[0]
        assert head["reference_level"] == 60 and head["level_kind"] == "national"
        dose.set_reference_level(con, "CT", "head", "ctdi_vol", 55, source="local audit 2024", unit="mGy")
        levels = dose.effective_levels(con)
        head = levels[(levels["body_part"] == "HEAD") & (levels["metric"] == "ctdi_vol")].iloc[0]
        assert (head["reference_level"], head["level_kind"], head["source"]) == (55, "local", "local audit 2024")
        assert len(dose.reference_levels(con).query("body_part == 'HEAD' and metric == 'ctdi_vol'")) == 2
        dose.set_reference_level(con, "CT", "HEAD", "ctdi_vol", 50, source="local audit 2025")
        assert len(dose.reference_levels(con).query("body_part == 'HEAD' and metric == 'ctdi_vol'")) == 2
        with pytest.raises(ValueError):
            dose.set_reference_level(con, "CT", "HEAD", "dlp", 900, source=" ")
    finally:
        con.close()
