"""The one settings object: environment variables prefixed ``OFFICEBOT_`` and an optional ``.env``.

Outside development the app refuses to start with a missing or placeholder secret, so a
production deployment can never run on ``changeme``.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError

Environment = Literal["development", "test", "production"]
Platform = Literal["dingtalk", "generic"]

PLACEHOLDER_SECRETS = frozenset(
    {"", "changethis", "changeme", "change-me", "secret", "password", "xxx", "todo", "test"}
)

DEFAULT_ALLOWED_HOSTS = ("oapi.dingtalk.com", "api.dingtalk.com")


class RobotSettings(BaseModel):
    """One extra group robot: OFFICEBOT_ROBOTS__<NAME>__WEBHOOK and __SECRET."""

    webhook: str
    secret: SecretStr | None = None


def is_placeholder(secret: SecretStr | None) -> bool:
    """True when a secret is missing or one of the well-known placeholder values."""
    return secret is None or secret.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS


class Settings(BaseSettings):
    """Everything an admin can configure; see the README's configuration table."""

    model_config = SettingsConfigDict(
        env_prefix="OFFICEBOT_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        extra="ignore",
    )

    environment: Environment = "development"
    data_dir: Path = Path("data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite in WAL mode under data_dir."
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    public_base_url: str | None = Field(
        default=None, description="Where users reach this server; used for links in replies."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    webhooks: list[Platform] = Field(default_factory=lambda: ["dingtalk", "generic"])
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    dingtalk_app_secret: SecretStr | None = Field(
        default=None, description="AppSecret of the DingTalk robot that calls /webhooks/dingtalk."
    )
    dingtalk_signature_window_s: int = Field(default=3600, ge=1)
    dingtalk_robot_webhook: str | None = Field(
        default=None,
        description="Default group robot URL (https://oapi.dingtalk.com/robot/send?access_token=..).",
    )
    dingtalk_robot_secret: SecretStr | None = Field(
        default=None, description="The group robot's signing secret (starts with SEC)."
    )
    robots: dict[str, RobotSettings] = Field(
        default_factory=dict, description="More group robots by name, beside the default one."
    )
    generic_webhook_secret: SecretStr | None = None
    api_token: SecretStr | None = Field(
        default=None, description="Bearer token for /api/*; required outside development."
    )
    generic_signature_window_s: int = Field(default=300, ge=1)
    inline_reply_timeout_s: float = Field(default=2.5, gt=0)

    worker_concurrency: int = Field(default=2, ge=1, le=64)
    job_poll_interval_s: float = Field(default=2.0, gt=0)
    job_max_attempts: int = Field(default=3, ge=1)

    outbound_allowed_hosts: list[str] = Field(default_factory=lambda: list(DEFAULT_ALLOWED_HOSTS))
    outbound_timeout_s: float = Field(default=10.0, gt=0)
    outbound_max_retries: int = Field(default=5, ge=0)
    outbound_backoff_s: float = Field(default=1.0, ge=0)
    robot_rate_limit: int = Field(default=20, ge=1, description="Messages per window per robot.")
    robot_rate_window_s: float = Field(default=60.0, gt=0)

    scheduler_enabled: bool = True
    timezone: str = "Asia/Shanghai"

    plugins_disabled: list[str] = Field(default_factory=list)
    plugins: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per-plugin settings: OFFICEBOT_PLUGINS__<PLUGIN>__<KEY>=value.",
    )

    @field_validator("outbound_allowed_hosts")
    @classmethod
    def _lowercase_hosts(cls, hosts: list[str]) -> list[str]:
        return [host.strip().lower() for host in hosts if host.strip()]

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.environment == "development":
            return self
        problems = [f"{name}: {why}" for name, why in self.secret_problems()]
        if problems:
            raise ValueError(
                f"refusing to start in {self.environment} with missing or placeholder secrets: "
                + "; ".join(problems)
                + " (set them in the environment or .env, or disable the webhook in "
                "OFFICEBOT_WEBHOOKS)"
            )
        return self

    def secret_problems(self) -> list[tuple[str, str]]:
        """Secrets that enabled features need but are missing or placeholders."""
        needed: list[tuple[str, SecretStr | None]] = []
        if "dingtalk" in self.webhooks:
            needed.append(("OFFICEBOT_DINGTALK_APP_SECRET", self.dingtalk_app_secret))
        if "generic" in self.webhooks:
            needed.append(("OFFICEBOT_GENERIC_WEBHOOK_SECRET", self.generic_webhook_secret))
        if self.dingtalk_robot_webhook:
            needed.append(("OFFICEBOT_DINGTALK_ROBOT_SECRET", self.dingtalk_robot_secret))
        for name, robot in self.robots.items():
            needed.append((f"OFFICEBOT_ROBOTS__{name.upper()}__SECRET", robot.secret))
        needed.append(("OFFICEBOT_API_TOKEN", self.api_token))
        return [
            (name, "missing" if value is None else "placeholder value")
            for name, value in needed
            if is_placeholder(value)
        ]

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'officebot.db').resolve()}"

    def robot_configs(self) -> dict[str, RobotSettings]:
        """Every configured group robot by name; the OFFICEBOT_DINGTALK_ROBOT_* one is 'default'."""
        configs = {name.lower(): robot for name, robot in self.robots.items()}
        if self.dingtalk_robot_webhook:
            configs["default"] = RobotSettings(
                webhook=self.dingtalk_robot_webhook, secret=self.dingtalk_robot_secret
            )
        return configs

    def plugin_config(self, plugin_name: str) -> dict[str, Any]:
        """Raw settings for one plugin (keys lower-cased), validated by the plugin's own model."""
        raw = self.plugins.get(plugin_name.lower().replace("-", "_"), {})
        return {key.lower(): value for key, value in raw.items()}

    def is_allowed_outbound(self, url: str) -> bool:
        host = (urlsplit(url).hostname or "").lower()
        return host in self.outbound_allowed_hosts


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning validation failures into one readable ConfigError."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {details}") from None
