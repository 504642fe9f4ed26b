"""service/config.py: every setting typed with its default, the same list as README's settings table."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from importer.reading import ReadLimits
from segments.rules import RuleLimits
from service import background, create_app, limits
from service.config import SettingError, Settings, from_environment, settings_from_environment
from service.web.secret import SharedSecretSessions

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_settings() -> dict[str, str]:
    """The README's settings table: variable -> default column."""
    section = README.read_text(encoding="utf-8").split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([A-Z0-9_]+)` \| ([^|]+) \|", section, flags=re.MULTILINE)
    assert rows, "README.md has no settings table"
    return {name: default.strip() for name, default in rows}


def module_settings() -> dict[str, object]:
    return {field.alias: field.default for field in Settings.model_fields.values()}


def test_the_readme_lists_every_setting_and_no_other():
    assert sorted(readme_settings()) == sorted(module_settings())


def test_the_readme_gives_each_default():
    documented = readme_settings()
    for name, default in module_settings().items():
        if default == "":
            assert documented[name].startswith("(empty"), name
        else:
            assert documented[name] == f"`{default}`", name


def test_every_setting_has_a_meaning():
    for field in Settings.model_fields.values():
        assert field.description, field.alias


def test_the_environment_sets_typed_values(monkeypatch):
    monkeypatch.setenv("SAFEGUARD_MAX_UPLOAD_MB", "5")
    monkeypatch.setenv("SAFEGUARD_LOG_LEVEL", "warning")
    monkeypatch.setenv("DATABASE_URL", "sqlite:////tmp/elsewhere.db")
    config = from_environment()
    assert config["MAX_CONTENT_LENGTH"] == 5 * 1024 * 1024
    assert config["LOG_LEVEL"] == "WARNING"
    assert config["DATABASE_URL"] == "sqlite:////tmp/elsewhere.db"


def test_without_the_environment_the_defaults_hold(monkeypatch):
    for name in module_settings():
        monkeypatch.delenv(name, raising=False)
    config = from_environment()
    assert config["DATABASE_URL"].startswith("sqlite:///") and config["DATABASE_URL"].endswith("safeguard.db")
    assert config["SECRET_KEY"] is None
    assert config["MAX_CONTENT_LENGTH"] == 200 * 1024 * 1024
    assert (config["IMPORT_WORKERS"], config["LOG_LEVEL"]) == (2, "INFO")


@pytest.mark.parametrize(("name", "value"), [("SAFEGUARD_MAX_UPLOAD_MB", "lots"),
                                             ("SAFEGUARD_MAX_UPLOAD_MB", "0"),
                                             ("SAFEGUARD_IMPORT_WORKERS", "-1"),
                                             ("SAFEGUARD_LOG_LEVEL", "LOUD")])
def test_a_bad_value_is_refused_naming_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingError, match=name):
        settings_from_environment()


def test_the_secret_key_comes_from_the_apps_config(monkeypatch, tmp_path):
    """SECRET_KEY in the environment reaches the app through its config, and so does a test's own."""
    database = f"sqlite:///{tmp_path / 'x.db'}"
    monkeypatch.setenv("SECRET_KEY", "from the environment")
    app = create_app({"DATABASE_URL": database, "UPLOAD_DIR": str(tmp_path / "up")})
    assert app.secret_key == "from the environment"
    assert not isinstance(app.session_interface, SharedSecretSessions)
    monkeypatch.delenv("SECRET_KEY")
    shared = create_app({"DATABASE_URL": database, "UPLOAD_DIR": str(tmp_path / "up")})
    assert isinstance(shared.session_interface, SharedSecretSessions)
    given = create_app({"DATABASE_URL": database, "UPLOAD_DIR": str(tmp_path / "up"), "SECRET_KEY": "mine"})
    assert given.secret_key == "mine" and not isinstance(given.session_interface, SharedSecretSessions)
    for each in (app, shared, given):
        background.shutdown(each)
        each.extensions["safeguard.engine"].dispose()


def test_the_limits_defaults_are_the_engines_and_each_names_a_setting(monkeypatch):
    """The settings' defaults give the importer's and the rules' own defaults, and every limit a
    refusal can name is a setting of the table."""
    for name in module_settings():
        monkeypatch.delenv(name, raising=False)
    config = from_environment()
    assert limits.read_limits(config) == ReadLimits()
    assert limits.rule_limits(config) == RuleLimits()
    assert set(limits.SETTINGS.values()) <= set(module_settings())
    assert set(limits.SETTINGS) >= {f.name for f in dataclasses.fields(ReadLimits)}
    assert set(limits.SETTINGS) >= {f.name for f in dataclasses.fields(RuleLimits)}
    monkeypatch.setenv("SAFEGUARD_MAX_LINE_KB", "2")
    monkeypatch.setenv("SAFEGUARD_MAX_RULE_DEPTH", "5")
    config = from_environment()
    assert limits.read_limits(config).max_line_chars == 2048
    assert limits.rule_limits(config).max_depth == 5
