"""Settings come from the environment once, and a bad value is named with its variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.runtime.settings import Settings, SettingsError


def test_defaults_need_no_environment_at_all() -> None:
    settings = Settings.from_env({})
    assert (None, None, "127.0.0.1", 8000, "console") == (
        settings.database_url,
        settings.app_database_url,
        settings.host,
        settings.port,
        settings.log_format,
    )
    assert "qinglian" in str(settings.data_dir)


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://owner:pw@db:5433/q",
            "QINGLIAN_APP_DATABASE_URL": "postgres://app@db/q",
            "QINGLIAN_DATA_DIR": "/srv/qinglian",
            "QINGLIAN_HOST": "0.0.0.0",
            "QINGLIAN_PORT": "9000",
            "QINGLIAN_LOG_FORMAT": "json",
            "QINGLIAN_LOG_LEVEL": "WARNING",
            "QINGLIAN_POOL_MIN_SIZE": "3",
            "QINGLIAN_POOL_MAX_SIZE": "30",
        }
    )
    assert "postgresql://owner:pw@db:5433/q" == settings.database_url
    assert "postgres://app@db/q" == settings.app_database_url
    assert Path("/srv/qinglian") == settings.data_dir
    assert ("0.0.0.0", 9000, "json", "warning", 3, 30) == (
        settings.host,
        settings.port,
        settings.log_format,
        settings.log_level,
        settings.pool_min_size,
        settings.pool_max_size,
    )


def test_an_empty_database_url_means_embedded() -> None:
    assert Settings.from_env({"DATABASE_URL": "  "}).database_url is None


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL is not a PostgreSQL URL"),
        ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL is not a PostgreSQL URL"),
        ({"DATABASE_URL": "postgresql://x@y:99999/z"}, "DATABASE_URL has a bad port"),
        ({"DATABASE_URL": "postgresql://x@[::1/z"}, "DATABASE_URL is not a URL"),
        ({"QINGLIAN_APP_DATABASE_URL": "http://x"}, "QINGLIAN_APP_DATABASE_URL is not a PostgreSQL URL"),
        ({"QINGLIAN_PORT": "eighty"}, "QINGLIAN_PORT must be an integer"),
        ({"QINGLIAN_PORT": "70000"}, "QINGLIAN_PORT must be between 0 and 65535"),
        ({"QINGLIAN_LOG_FORMAT": "xml"}, "QINGLIAN_LOG_FORMAT must be json or console"),
        ({"QINGLIAN_LOG_LEVEL": "loud"}, "QINGLIAN_LOG_LEVEL must be"),
        ({"QINGLIAN_POOL_MIN_SIZE": "5", "QINGLIAN_POOL_MAX_SIZE": "2"}, "must not exceed"),
        ({"QINGLIAN_POOL_MAX_SIZE": "0"}, "QINGLIAN_POOL_MAX_SIZE must be between 1"),
    ],
)
def test_bad_values_are_named_with_their_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("[", "\\[")):
        Settings.from_env(environ)
