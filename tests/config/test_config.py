from pathlib import Path

import pytest

from archive.config import SETTINGS, ConfigError, Settings, describe

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for setting in SETTINGS:
        assert setting.env_var in readme, f"{setting.env_var} is not in README.md"
        assert setting.help


def test_environment_then_overrides():
    settings = Settings.load(env={"LIMESTONE_HOME": "/tmp/a", "LIMESTONE_BATCH_SIZE": "10"})
    assert settings.home == "/tmp/a" and settings.batch_size == 10
    assert Settings.load(env={"LIMESTONE_HOME": "/tmp/a"}, home="/tmp/b").home_path == Path("/tmp/b")


def test_default_home_is_data_folder():
    assert Settings.load(env={}).home_path == ROOT / "data"


def test_bad_values_are_refused_plainly():
    with pytest.raises(ConfigError, match="LIMESTONE_BATCH_SIZE must be a int"):
        Settings.load(env={"LIMESTONE_BATCH_SIZE": "many"})
    with pytest.raises(ConfigError, match="unknown setting"):
        Settings.load(env={}, colour="blue")


def test_describe_lists_all():
    assert [row["name"] for row in describe()] == [s.name for s in SETTINGS]
