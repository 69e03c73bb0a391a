"""The one settings object: environment variables prefixed ``OFFICEBOT_`` and an optional ``.env``.

Outside development the app refuses to start with a missing or placeholder secret, so a
production deployment can never run on ``changeme``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError
from llm.config import LLMSettings

Environment = Literal["development", "test", "production"]
Platform = Literal["dingtalk", "generic"]
ALL_PLATFORMS: tuple[Platform, ...] = ("dingtalk", "generic")

PLACEHOLDER_SECRETS = frozenset(
    {"", "changethis", "changeme", "change-me", "secret", "password", "xxx", "todo", "test"}
)

DEFAULT_ALLOWED_HOSTS = ("oapi.dingtalk.com", "api.dingtalk.com")


class RobotSettings(BaseModel):
    """One extra group robot: OFFICEBOT_ROBOTS__<NAME>__WEBHOOK, __SECRET, __CONVERSATION_ID."""

    webhook: str
    secret: SecretStr | None = None
    conversation_id: str | None = None
    """The DingTalk conversation (group) the robot posts into: replies to that group fall back
    to this robot when the group's session webhook has expired."""


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

    environment: Environment = Field(
        default="development",
        description="development runs without secrets (unconfigured webhooks answer 503); test and "
        "production refuse to start with a missing or placeholder secret.",
    )
    data_dir: Path = Field(
        default=Path("data"),
        description="SQLite database and artifacts (relative to the working dir).",
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite in WAL mode under data_dir."
    )
    host: str = Field(default="127.0.0.1", description="Address `officebot serve` binds to.")
    port: int = Field(
        default=8080, ge=1, le=65535, description="Port `officebot serve` listens on."
    )
    public_base_url: str | None = Field(
        default=None, description="Where users reach this server; used for links in replies."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Log level of the server and the CLI."
    )

    webhooks: list[Platform] = Field(
        default_factory=lambda: list(ALL_PLATFORMS),
        description="Inbound webhooks to serve; each needs its secret outside development.",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest webhook body accepted (413 beyond)."
    )
    dingtalk_app_secret: SecretStr | None = Field(
        default=None, description="AppSecret of the DingTalk robot that calls /webhooks/dingtalk."
    )
    dingtalk_app_key: str | None = Field(
        default=None,
        description="AppKey (Client ID) of the DingTalk robot's app: needed to fetch pictures and "
        "files people send the robot.",
    )
    dingtalk_robot_code: str | None = Field(
        default=None,
        description="The robot's robotCode for file downloads; default: the callback's robotCode, "
        "else the AppKey.",
    )
    dingtalk_api_base: str = Field(
        default="https://api.dingtalk.com",
        description="DingTalk's open API (access tokens, message file downloads); its host must be "
        "in OFFICEBOT_OUTBOUND_ALLOWED_HOSTS.",
    )
    dingtalk_file_hosts: list[str] = Field(
        default_factory=lambda: ["*.dingtalk.com", "*.aliyuncs.com"],
        description="Hosts DingTalk's temporary download links for message files may point to "
        "(exact names or '*.example.com').",
    )
    dingtalk_signature_window_s: int = Field(
        default=3600, ge=1, description="Max. distance of a DingTalk callback's timestamp from now."
    )
    dingtalk_robot_webhook: str | None = Field(
        default=None,
        description="Default group robot URL (https://oapi.dingtalk.com/robot/send?access_token=..).",
    )
    dingtalk_robot_secret: SecretStr | None = Field(
        default=None, description="The group robot's signing secret (starts with SEC)."
    )
    dingtalk_robot_conversation_id: str | None = Field(
        default=None,
        description="conversationId of the default robot's group: late replies to that group "
        "go through the robot once its session webhook has expired.",
    )
    robots: dict[str, RobotSettings] = Field(
        default_factory=dict, description="More group robots by name, beside the default one."
    )
    generic_webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC key that signs calls to /webhooks/generic."
    )
    api_token: SecretStr | None = Field(
        default=None, description="Bearer token for /api/*; required outside development."
    )
    generic_signature_window_s: int = Field(
        default=300, ge=1, description="Max. distance of X-Officebot-Timestamp from now."
    )
    inline_reply_timeout_s: float = Field(
        default=2.5,
        gt=0,
        description="A reply ready within this time goes in the webhook response; later ones are "
        "pushed through the session webhook or the default robot.",
    )

    worker_concurrency: int = Field(
        default=2, ge=1, le=64, description="Jobs the in-process worker runs at once."
    )
    job_poll_interval_s: float = Field(
        default=2.0, gt=0, description="How often idle workers look for queued jobs."
    )
    job_max_attempts: int = Field(
        default=3, ge=1, description="Starts a job gets when restarts interrupt it, then it fails."
    )

    outbound_allowed_hosts: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ALLOWED_HOSTS),
        description="The only hosts outbound messages may be sent to.",
    )
    download_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts that files (meeting recordings) may be downloaded from; exact names "
        "or '*.example.com'. Empty: no downloads.",
    )
    download_max_redirects: int = Field(
        default=3, ge=0, le=10, description="Redirects a download may follow (each host checked)."
    )
    outbound_timeout_s: float = Field(
        default=10.0, gt=0, description="Timeout of one outbound HTTP request."
    )
    outbound_max_retries: int = Field(
        default=5, ge=0, description="Retries after a network error or a 5xx answer."
    )
    outbound_backoff_s: float = Field(
        default=1.0, ge=0, description="First retry delay; it doubles with each retry."
    )
    robot_rate_limit: int = Field(default=20, ge=1, description="Messages per window per robot.")
    robot_rate_window_s: float = Field(
        default=60.0, gt=0, description="Window of OFFICEBOT_ROBOT_RATE_LIMIT, in seconds."
    )
    robot_throttle_penalty_s: float = Field(
        default=600.0,
        ge=0,
        description="How long to hold a robot's queue after DingTalk says it is throttled "
        "(errcode 130101).",
    )

    scheduler_enabled: bool = Field(
        default=True, description="Run plugin schedules (digests, reminders) in this process."
    )
    timezone: str = Field(
        default="Asia/Shanghai", description="Timezone of cron schedules (IANA name)."
    )

    llm: LLMSettings = Field(
        default_factory=LLMSettings, description="The shared local model (OFFICEBOT_LLM__<KEY>)."
    )

    plugins_disabled: list[str] = Field(
        default_factory=list, description="Entry-point names of plugins not to load."
    )
    plugins: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per-plugin settings: OFFICEBOT_PLUGINS__<PLUGIN>__<KEY>=value.",
    )

    @field_validator("outbound_allowed_hosts", "download_allowed_hosts", "dingtalk_file_hosts")
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
                webhook=self.dingtalk_robot_webhook,
                secret=self.dingtalk_robot_secret,
                conversation_id=self.dingtalk_robot_conversation_id,
            )
        return configs

    def plugin_config(self, plugin_name: str) -> dict[str, Any]:
        """Raw settings for one plugin (keys lower-cased), validated by the plugin's own model."""
        raw = self.plugins.get(plugin_name.lower().replace("-", "_"), {})
        return _plugin_values(raw)

    def is_allowed_outbound(self, url: str) -> bool:
        host = (urlsplit(url).hostname or "").lower()
        return host in self.outbound_allowed_hosts

    def is_allowed_download(self, url: str) -> bool:
        return host_matches(url, self.download_allowed_hosts)


def host_matches(url: str, hosts: Sequence[str]) -> bool:
    """Whether ``url`` is http(s) on one of ``hosts`` (exact names, or ``*.example.com`` for any
    subdomain of example.com)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return False
    return any(
        host == allowed or (allowed.startswith("*.") and host.endswith(allowed[1:]))
        for allowed in hosts
    )


def _plugin_values(raw: dict[str, Any]) -> dict[str, Any]:
    """Keys lower-cased at every level; a JSON list or object given as an environment string
    (``OFFICEBOT_PLUGINS__MEETING__HOTWORDS='["钉钉"]'``) parsed, as for the bot's own lists."""
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            value = _plugin_values(value)
        elif isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            # not JSON after all: the plugin's model says what it wanted
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        values[key.lower()] = value
    return values


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning validation failures into one readable ConfigError."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        details = "; ".join(f"{_variable_name(err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"invalid configuration: {details}") from None


def _variable_name(location: tuple[int | str, ...]) -> str:
    """The environment variable behind a validation error's location, e.g. OFFICEBOT_PORT."""
    if not location:
        return "settings"
    return "OFFICEBOT_" + "__".join(str(part).upper() for part in location)
