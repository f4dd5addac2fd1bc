"""Settings: documented, parsed, and production without a secret refuses to start."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from directory import config, create_app
from directory.errors import ConfigurationError

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_setting_is_in_the_readme_table():
    table = README.read_text()
    missing = [s.name for s in config.SETTINGS if f"`DIRECTORY_{s.name}`" not in table]
    assert not missing, f"settings missing from README's configuration table: {missing}"


def test_readme_lists_no_setting_that_does_not_exist():
    names = set(re.findall(r"`DIRECTORY_([A-Z_]+)`", README.read_text()))
    known = {s.name for s in config.SETTINGS} | {"TEST_DATABASE_URL", "REQUIRE_ALL"}
    assert names <= known, names - known


def test_environment_is_parsed(monkeypatch):
    monkeypatch.setenv("DIRECTORY_MAX_PAGE_SIZE", "50")
    assert config.resolve()["MAX_PAGE_SIZE"] == 50
    monkeypatch.setenv("DIRECTORY_MAX_PAGE_SIZE", "fifty")
    with pytest.raises(ConfigurationError, match="MAX_PAGE_SIZE"):
        config.resolve()


def test_production_refuses_to_start_without_a_secret(tmp_path):
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        create_app({"ENV": "production", "SECRET_KEY": "", "INSTANCE_PATH": str(tmp_path)})


def test_development_secret_is_generated_once_with_private_mode(tmp_path):
    values = config.resolve({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": ""})
    first = config.secret_key(values)
    assert first == config.secret_key(values) and len(first) > 40
    assert (tmp_path / "dev-secret-key").stat().st_mode & 0o077 == 0


def test_unknown_setting_is_refused():
    with pytest.raises(ConfigurationError, match="unknown settings"):
        config.resolve({"NOT_A_SETTING": 1})


@pytest.mark.parametrize("value", ["0", "-3", "five"])
def test_sign_in_limits_must_be_positive_whole_numbers(value):
    with pytest.raises(ConfigurationError, match="DIRECTORY_SIGNIN_LOCK_AFTER"):
        config.from_env({"DIRECTORY_SIGNIN_LOCK_AFTER": value})
