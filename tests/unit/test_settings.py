"""Typed settings: the table is the dataclass, values are parsed once into typed fields."""

from __future__ import annotations

import dataclasses

import pytest

from librechat_metrics.history.settings import HISTORY_SETTINGS, HistorySettings
from librechat_metrics.settings import GROUP_TOGGLES, SETTINGS, SettingError, Settings, effective, load


def test_every_field_is_one_setting_and_back() -> None:
    names = [f.name for f in dataclasses.fields(Settings)]
    assert names == [s.attr for s in SETTINGS]
    assert len(set(s.env for s in SETTINGS)) == len(SETTINGS)


def test_defaults_are_the_parsed_defaults() -> None:
    for setting in SETTINGS:
        assert getattr(Settings(), setting.attr) == setting.parse(setting.default), setting.env


def test_values_are_typed() -> None:
    got = load({"METRICS_PORT": "9100", "METRICS_CACHE_TTL": "12.5", "ENABLE_TOOL_METRICS": "off"})
    assert got.metrics_port == 9100 and isinstance(got.metrics_port, int)
    assert got.metrics_cache_ttl == 12.5
    assert got.enabled("tool") is False and got.enabled("user") is True


def test_toggles_come_from_the_fields() -> None:
    assert GROUP_TOGGLES == (
        "basic",
        "token",
        "user",
        "model",
        "time_window",
        "rating",
        "tool",
        "file",
        "schedule",
    )


def test_frozen_and_replace() -> None:
    base = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        base.timezone = "Europe/Berlin"  # type: ignore[misc]
    moved = base.replace(timezone="Europe/Berlin")
    assert (base.timezone, moved.timezone) == ("UTC", "Europe/Berlin")


@pytest.mark.parametrize(("raw", "tenant"), [("", None), ("  acme ", "acme")])
def test_tenant_is_read_in_one_place(raw: str, tenant: str | None) -> None:
    assert load({"LIBRECHAT_TENANT_ID": raw}).tenant == tenant


def test_bad_value_names_the_variable() -> None:
    with pytest.raises(SettingError, match=r"^METRICS_PORT='x': expected a port"):
        load({"METRICS_PORT": "x"})


def test_history_settings_are_their_own_table() -> None:
    assert [s.env for s in HISTORY_SETTINGS][:2] == ["HISTORY_DATABASE_URL", "MYSQL_HOST"]
    got = load({"MYSQL_PORT": "3307", "EXPORT_USER_DETAILS": "yes"}, HistorySettings)
    assert (got.mysql_port, got.export_user_details) == (3307, True)
    assert got.target().describe().startswith("mysql")
    lines = effective(got)
    assert "MYSQL_PASSWORD='***'" in lines
