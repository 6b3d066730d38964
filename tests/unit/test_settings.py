from __future__ import annotations

import pytest
from pydantic import ValidationError

from crm.settings import Environment, Settings


def test_production_refuses_the_placeholder_secret() -> None:
    with pytest.raises(ValidationError, match="CRM_SECRET_KEY"):
        Settings(
            _env_file=None, env=Environment.PRODUCTION, database_url="postgresql+asyncpg://x/y"
        )


def test_production_needs_a_database() -> None:
    with pytest.raises(ValidationError, match="CRM_DATABASE_URL"):
        Settings(_env_file=None, env=Environment.PRODUCTION, secret_key="s" * 40)


def test_settings_come_from_crm_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_RATE_LIMIT_REQUESTS", "42")
    monkeypatch.setenv("CRM_SECRET_KEY", "from-the-environment")
    settings = Settings(_env_file=None)
    assert settings.rate_limit_requests == 42
    assert settings.secret_key.get_secret_value() == "from-the-environment"
    assert "from-the-environment" not in repr(settings)


def test_an_empty_service_url_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_REDIS_URL", "")
    monkeypatch.setenv("CRM_DATABASE_URL", "")
    settings = Settings(_env_file=None)
    assert (settings.redis_url, settings.database_url) == (None, None)
