"""Settings: secrets refused outside development, the .env file, per-plugin settings, and the
README's configuration table kept in step with the model."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from bot.errors import ConfigError
from bot.registry import PluginRegistry
from bot.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
REAL_SECRETS = {
    "OFFICEBOT_DINGTALK_APP_SECRET": "dingtalk-app-secret-0123456789",
    "OFFICEBOT_GENERIC_WEBHOOK_SECRET": "generic-secret-0123456789",
    "OFFICEBOT_API_TOKEN": "api-token-0123456789",
}


def set_env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for key, value in values.items():
        monkeypatch.setenv(key, value)


# --- secrets outside development ---


@pytest.mark.parametrize("environment", ["production", "test"])
def test_missing_secrets_are_refused_outside_development(
    monkeypatch: pytest.MonkeyPatch, environment: str
) -> None:
    monkeypatch.setenv("OFFICEBOT_ENVIRONMENT", environment)

    with pytest.raises(ConfigError) as refused:
        load_settings()

    message = refused.value.message
    assert f"refusing to start in {environment}" in message
    for name in REAL_SECRETS:
        assert f"{name}: missing" in message


@pytest.mark.parametrize("placeholder", ["changeme", "CHANGETHIS", " secret ", "test", ""])
def test_placeholder_secrets_are_refused_in_production(
    monkeypatch: pytest.MonkeyPatch, placeholder: str
) -> None:
    set_env(monkeypatch, OFFICEBOT_ENVIRONMENT="production", **REAL_SECRETS)
    monkeypatch.setenv("OFFICEBOT_DINGTALK_APP_SECRET", placeholder)

    with pytest.raises(ConfigError) as refused:
        load_settings()

    message = refused.value.message
    assert "OFFICEBOT_DINGTALK_APP_SECRET: placeholder value" in message
    assert "OFFICEBOT_GENERIC_WEBHOOK_SECRET" not in message
    assert "OFFICEBOT_API_TOKEN" not in message


def test_placeholder_value_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, OFFICEBOT_ENVIRONMENT="production", **REAL_SECRETS)
    monkeypatch.setenv("OFFICEBOT_API_TOKEN", "changeme")

    with pytest.raises(ConfigError) as refused:
        load_settings()

    assert "changeme" not in refused.value.message


def test_robots_need_their_secrets_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(
        monkeypatch,
        OFFICEBOT_ENVIRONMENT="production",
        OFFICEBOT_DINGTALK_ROBOT_WEBHOOK="https://oapi.dingtalk.com/robot/send?access_token=t",
        OFFICEBOT_ROBOTS__OPS__WEBHOOK="https://oapi.dingtalk.com/robot/send?access_token=o",
        **REAL_SECRETS,
    )

    with pytest.raises(ConfigError) as refused:
        load_settings()

    assert "OFFICEBOT_DINGTALK_ROBOT_SECRET: missing" in refused.value.message
    assert "OFFICEBOT_ROBOTS__OPS__SECRET: missing" in refused.value.message


def test_a_disabled_webhook_needs_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, OFFICEBOT_ENVIRONMENT="production", **REAL_SECRETS)
    monkeypatch.delenv("OFFICEBOT_GENERIC_WEBHOOK_SECRET")
    monkeypatch.setenv("OFFICEBOT_WEBHOOKS", '["dingtalk"]')

    settings = load_settings()

    assert settings.webhooks == ["dingtalk"]
    assert settings.generic_webhook_secret is None


def test_production_starts_with_real_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, OFFICEBOT_ENVIRONMENT="production", **REAL_SECRETS)

    settings = load_settings()

    assert settings.environment == "production"
    assert settings.secret_problems() == []
    assert REAL_SECRETS["OFFICEBOT_API_TOKEN"] not in repr(settings)


def test_development_allows_missing_and_placeholder_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OFFICEBOT_DINGTALK_APP_SECRET", "changeme")

    settings = load_settings()

    assert settings.environment == "development"
    assert dict(settings.secret_problems()) == {
        "OFFICEBOT_DINGTALK_APP_SECRET": "placeholder value",
        "OFFICEBOT_GENERIC_WEBHOOK_SECRET": "missing",
        "OFFICEBOT_API_TOKEN": "missing",
    }


def test_embedded_defaults(tmp_path: Path) -> None:
    settings = load_settings()

    assert settings.data_dir == Path("data")
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'data' / 'officebot.db'}"
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)


# --- the .env file ---


def test_dot_env_in_the_working_directory_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Path.cwd() == tmp_path  # tests/conftest.py runs every test in its tmp_path
    (tmp_path / ".env").write_text(
        "# officebot settings\n"
        "OFFICEBOT_PORT=9091\n"
        "OFFICEBOT_TIMEZONE=Europe/Berlin\n"
        'OFFICEBOT_OUTBOUND_ALLOWED_HOSTS=["oapi.dingtalk.com", "Robot.Example.com"]\n'
        "OFFICEBOT_PLUGINS__HELLO__GREETING=嗨\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("OFFICEBOT_TIMEZONE", "Asia/Tokyo")  # the environment wins over .env

    settings = load_settings()

    assert settings.port == 9091
    assert settings.timezone == "Asia/Tokyo"
    assert settings.outbound_allowed_hosts == ["oapi.dingtalk.com", "robot.example.com"]
    assert settings.plugin_config("hello") == {"greeting": "嗨"}


def test_dot_env_can_switch_to_production_and_is_then_checked(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "OFFICEBOT_ENVIRONMENT=production\nOFFICEBOT_API_TOKEN=changeme\n", encoding="utf-8"
    )

    with pytest.raises(ConfigError, match="OFFICEBOT_API_TOKEN: placeholder value"):
        load_settings()


def test_invalid_values_name_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFICEBOT_PORT", "notanumber")

    with pytest.raises(ConfigError, match=r"invalid configuration: OFFICEBOT_PORT: .*integer"):
        load_settings()


# --- per-plugin settings ---


@pytest.fixture
def hello_module(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The example third-party plugin, imported from its source folder."""
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "plugin_pkg"))
    import officebot_hello

    yield officebot_hello
    for name in [m for m in sys.modules if m.startswith("officebot_hello")]:
        del sys.modules[name]


def test_plugin_settings_reach_the_plugins_config_model(
    monkeypatch: pytest.MonkeyPatch, hello_module: ModuleType
) -> None:
    monkeypatch.setenv("OFFICEBOT_PLUGINS__HELLO__GREETING", "早上好")
    registry = PluginRegistry(load_settings())

    loaded = registry.add(hello_module.plugin)

    assert loaded is not None, registry.failed
    assert isinstance(loaded.config, hello_module.HelloConfig)
    assert loaded.config.greeting == "早上好"
    assert loaded.config.english_greeting == "Hello"


def test_invalid_plugin_settings_skip_the_plugin_and_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, hello_module: ModuleType
) -> None:
    monkeypatch.setenv("OFFICEBOT_PLUGINS__HELLO__GREETING", "你" * 50)
    registry = PluginRegistry(load_settings())

    assert registry.add(hello_module.plugin) is None

    [failed] = registry.failed
    assert failed.name == "hello"
    assert "OFFICEBOT_PLUGINS__HELLO__GREETING" in failed.error
    assert registry.command("hello") is None


# --- the README's configuration table ---


def _settings_table_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "settings_table", ROOT / "scripts" / "settings_table.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_configuration_table_is_up_to_date() -> None:
    script = _settings_table_script()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    assert script.replace_table(readme, script.table()) == readme, (
        "README.md's configuration table is out of date: run `make docs`"
    )


def test_configuration_table_lists_every_setting_with_a_meaning() -> None:
    table = _settings_table_script().table()

    for name, field in Settings.model_fields.items():
        assert field.description, f"Settings.{name} has no description for the README table"
        assert f"`OFFICEBOT_{name.upper()}" in table


def test_plugin_settings_from_the_environment_nest_and_parse_lists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OFFICEBOT_PLUGINS__MEETING__HOTWORDS", '["钉钉", "OKR"]')
    monkeypatch.setenv("OFFICEBOT_PLUGINS__MEETING__AUDIO__MAX_BYTES", "1000")
    monkeypatch.setenv("OFFICEBOT_PLUGINS__MEETING__INITIAL_PROMPT", "[not json")
    config = load_settings().plugin_config("meeting")
    assert config["hotwords"] == ["钉钉", "OKR"]
    assert config["audio"] == {"max_bytes": 1000}
    assert config["initial_prompt"] == "[not json"
