"""Settings of sketch-to-mini-app. The miniapp plugin uses this as its config model, so they are
set as ``OFFICEBOT_PLUGINS__MINIAPP__<KEY>`` (e.g. ``..._SUBMIT_ENDPOINT=https://forms.example.com``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from miniapp.spec import Submit


class MiniappSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    read_pictures: bool = Field(
        default=True,
        description="Read every picture sent to the bot (a direct chat, or an @-mention with a "
        "picture) as a sketch; off: only pictures sent with /miniapp.",
    )
    max_image_bytes: int = Field(
        default=15_000_000, ge=10_000, le=100_000_000, description="Largest picture accepted."
    )
    max_image_pixels: int = Field(
        default=40_000_000,
        ge=10_000,
        le=200_000_000,
        description="Most pixels a picture may decode to (decompression bombs are refused).",
    )
    download_timeout_s: float = Field(
        default=60.0, gt=0, le=600, description="Time limit of fetching a picture from the chat."
    )
    submit_endpoint: str = Field(
        default="",
        max_length=2048,
        description="Where generated apps send their form (http(s) URL); empty: the app shows "
        "the data instead. Each app can set its own with /miniapp endpoint.",
    )
    model_names: bool = Field(
        default=True,
        description="Ask the shared model for field names and validation rules when generating "
        "(a keyword table is used when off or when the model does not answer in time).",
    )
    model_timeout_s: float = Field(
        default=120.0, gt=0, le=1800, description="Time limit of that model request."
    )
    retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Days a sketch, its spec and its generated files are kept after the last "
        "change.",
    )

    @field_validator("submit_endpoint")
    @classmethod
    def _http_endpoint(cls, value: str) -> str:
        return Submit(endpoint=value.strip()).endpoint
