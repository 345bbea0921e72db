import pytest

from feature_gateway.config import ConfigError, Settings, normalize_database_url


def test_settings_come_from_upper_cased_environment_variables():
    settings = Settings.from_env(
        {"DATABASE_URL": "postgresql+psycopg://db/x", "MAX_ENTITY_ROWS_PER_REQUEST": "50"}
    )
    assert settings.database_url == "postgresql+psycopg://db/x"
    assert settings.max_entity_rows_per_request == 50
    assert not settings.is_sqlite


def test_the_default_database_is_a_sqlite_file_under_data():
    settings = Settings.from_env({})
    assert settings.is_sqlite
    assert settings.database_url.endswith("/data/feature_gateway.db")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MAX_BODY_BYTES": "lots"}, "MAX_BODY_BYTES must be an integer"),
        ({"MAX_FEATURES_PER_REQUEST": "0"}, "must be positive"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"TRUSTED_PROXY_COUNT": "-1"}, "TRUSTED_PROXY_COUNT"),
        ({"WEBHOOK_ALLOW_LOOPBACK": "maybe"}, "WEBHOOK_ALLOW_LOOPBACK must be true or false"),
        ({"WEBHOOK_TIMEOUT_S": "soon"}, "WEBHOOK_TIMEOUT_S must be a number"),
        ({"WEBHOOK_TIMEOUT_S": "nan"}, "WEBHOOK_TIMEOUT_S must be a finite number"),
        ({"WEBHOOK_TIMEOUT_S": "1e308"}, "WEBHOOK_TIMEOUT_S must be at most 3600 seconds"),
        ({"WEBHOOK_RETRY_BASE_S": "0"}, "must be positive"),
        ({"WEBHOOK_MAX_ATTEMPTS": "0"}, "must be positive"),
    ],
)
def test_unusable_values_fail_at_start_with_a_clear_message(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_zero_overflow_and_zero_proxies_are_allowed_but_not_negative():
    settings = Settings.from_env({"DB_MAX_OVERFLOW": "0", "TRUSTED_PROXY_COUNT": "0"})
    assert (settings.db_max_overflow, settings.trusted_proxy_count) == (0, 0)
    with pytest.raises(ConfigError, match="DB_MAX_OVERFLOW must not be negative"):
        Settings.from_env({"DB_MAX_OVERFLOW": "-1"})


@pytest.mark.parametrize(
    "given",
    [
        "postgres://u:p@db:5432/x",
        "postgresql://u:p@db:5432/x",
        "postgresql+psycopg://u:p@db:5432/x",
        "POSTGRES://u:p@db:5432/x",
    ],
)
def test_every_postgresql_spelling_platforms_hand_out_means_psycopg_3(given):
    assert normalize_database_url(given) == "postgresql+psycopg://u:p@db:5432/x"
    assert Settings.from_env({"DATABASE_URL": given}).database_url == (
        "postgresql+psycopg://u:p@db:5432/x"
    )


def test_overrides_are_normalised_like_the_environment():
    settings = Settings.from_env({}).with_overrides({"database_url": "postgres://db/x"})
    assert settings.database_url == "postgresql+psycopg://db/x"
    assert not settings.is_sqlite


@pytest.mark.parametrize(
    "url",
    ["sqlite:////srv/data/x.db", "sqlite:///relative.db", "sqlite://", "sqlite+pysqlite:///x"],
)
def test_sqlite_urls_are_left_as_they_are(url):
    assert normalize_database_url(url) == url
    assert Settings.from_env({"DATABASE_URL": url}).is_sqlite


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://example.com/db", "must be a SQLite or PostgreSQL URL"),
        ("mysql://root@localhost/x", "got one for 'mysql'"),
        ("just-a-word", "must be a database URL"),
        ("postgresql+psycopg2://db/x", "through psycopg 3"),
    ],
)
def test_a_url_that_is_not_a_usable_database_fails_at_start(url, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({"DATABASE_URL": url})


def test_the_error_for_a_bad_url_does_not_show_its_password():
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"DATABASE_URL": "user:secret@db/x"})
    assert "secret" not in str(raised.value)


def test_webhook_settings_read_booleans_and_fractions_of_seconds():
    settings = Settings.from_env(
        {"WEBHOOK_ALLOW_LOOPBACK": "TRUE", "WEBHOOK_TIMEOUT_S": "2.5", "WEBHOOK_MAX_ATTEMPTS": "3"}
    )
    assert settings.webhook_allow_loopback is True
    assert (settings.webhook_timeout_s, settings.webhook_max_attempts) == (2.5, 3)
    assert settings.webhook_lease_ms == 6_000  # twice the timeout, plus a second
    defaults = Settings.from_env({"WEBHOOK_ALLOW_LOOPBACK": "false"})
    assert defaults.webhook_allow_loopback is False
    assert (defaults.webhook_timeout_s, defaults.webhook_retry_base_s) == (10, 10)
    assert defaults.webhook_max_attempts == 8


def test_serving_settings_are_read_from_the_environment_and_checked():
    settings = Settings.from_env(
        {"USAGE_FLUSH_S": "2.5", "USAGE_COUNTING": "false", "RETIRE_QUIET_DAYS": "0"}
    )
    assert (settings.usage_flush_s, settings.usage_counting, settings.retire_quiet_days) == (
        2.5,
        False,
        0,
    )
    assert (Settings().usage_flush_s, Settings().usage_counting) == (10.0, True)
    assert Settings().retire_quiet_days == 7
    for bad in ({"USAGE_FLUSH_S": "0"}, {"RETIRE_QUIET_DAYS": "-1"}, {"USAGE_COUNTING": "x"}):
        with pytest.raises(ConfigError):
            Settings.from_env(bad)


@pytest.mark.parametrize("timeout_s", ["0.001", "1", "10", "3600"])
def test_a_claims_lease_outlasts_its_attempts_deadline_by_more_than_a_second(timeout_s):
    settings = Settings.from_env({"WEBHOOK_TIMEOUT_S": timeout_s})
    assert settings.webhook_lease_ms > settings.webhook_timeout_s * 1000 + 1000


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"DATABASE_URL": "postgresql://db/x", "DATABASE_READ_URL": "sqlite:///r.db"},
            "DATABASE_READ_URL must be a PostgreSQL URL",
        ),
        (
            {"DATABASE_READ_URL": "postgresql://replica/x"},
            "DATABASE_READ_URL names a PostgreSQL replica, but DATABASE_URL is SQLite",
        ),
        (
            {"DATABASE_URL": "postgresql://db/x", "DATABASE_READ_URL": "mysql://r/x"},
            "DATABASE_READ_URL must be a SQLite or PostgreSQL URL",
        ),
        (
            {"DATABASE_URL": "postgresql://db/x", "DATABASE_READ_URL": "postgresql://r/x",
             "READ_LAG_CHECK_S": "5"},
            "READ_LAG_CHECK_S .* must be shorter than READ_MAX_LAG_S",
        ),
        ({"READ_MAX_LAG_S": "0"}, "READ_MAX_LAG_S must be positive"),
        ({"DATABASE_POOLER": "pgbouncer"}, "DATABASE_POOLER must be one of none, session"),
    ],
)  # fmt: skip
def test_a_read_url_the_service_cannot_use_is_refused_at_start(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_a_read_url_is_spelled_like_the_primary_s_and_the_lag_bound_defaults_to_5_s():
    settings = Settings.from_env(
        {"DATABASE_URL": "postgres://db/x", "DATABASE_READ_URL": "postgres://replica/x"}
    )
    assert settings.database_read_url == "postgresql+psycopg://replica/x"
    assert (settings.read_max_lag_s, settings.read_lag_check_s) == (5.0, 1.0)
    assert not settings.transaction_pooling
    assert Settings.from_env({"DATABASE_POOLER": "transaction"}).transaction_pooling
