"""Settings of document drafting and posters. The docs plugin uses this as its config model, so
they are set as ``OFFICEBOT_PLUGINS__DOCS__<KEY>`` (e.g. ``..._TEMPLATES_DIR=/srv/kinds``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from docs_gen.brief import MAX_BRIEF_CHARS
from docs_gen.draft import DEFAULT_SECTION_TIMEOUT_S


class DocsSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    templates_dir: Path | None = Field(
        default=None,
        description="A directory of custom document kinds (<name>.toml + <name>.md.j2), read "
        "again whenever its files change; default: <data dir>/docs_templates.",
    )
    max_brief_chars: int = Field(
        default=MAX_BRIEF_CHARS,
        ge=50,
        le=20_000,
        description="Longest brief read, in characters.",
    )
    section_timeout_s: float = Field(
        default=DEFAULT_SECTION_TIMEOUT_S,
        gt=0,
        le=3600,
        description="Time limit of one section's model request (waiting in the queue included).",
    )
    stream_sections: bool = Field(
        default=True,
        description="Post each section to the chat as soon as it is written (else only the "
        "finished document).",
    )
    poster_backend: Literal["local", "openai"] = Field(
        default="local",
        description="local: a poster laid out and rendered here with Pillow; openai: an "
        "OpenAI-compatible images API (needs images_base_url and images_api_key).",
    )
    images_base_url: str | None = Field(
        default=None,
        description="The images API, e.g. https://api.example.com/v1 (officebot POSTs to "
        ".../images/generations).",
    )
    images_api_key: SecretStr | None = Field(default=None, description="Its API key.")
    images_model: str = Field(default="dall-e-3", max_length=100, description="Its model name.")
    images_size: str = Field(
        default="1024x1792", pattern=r"^\d{3,4}x\d{3,4}$", description="The picture size asked for."
    )
    images_timeout_s: float = Field(default=120.0, gt=0, le=600, description="Its time limit.")

    @model_validator(mode="after")
    def _images_api_complete(self) -> DocsSettings:
        if self.poster_backend == "openai" and not (self.images_base_url and self.images_api_key):
            raise ValueError(
                "poster_backend=openai needs images_base_url and images_api_key "
                "(OFFICEBOT_PLUGINS__DOCS__IMAGES_BASE_URL / ..._IMAGES_API_KEY)"
            )
        return self
