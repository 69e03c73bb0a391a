"""Settings of group-chat summaries. The chat plugin uses this as its config model, so they
are set as ``OFFICEBOT_PLUGINS__CHAT__<KEY>`` (e.g. ``..._RETENTION_DAYS=90``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chat_summary.chat import DEFAULT_BUDGET_TOKENS, DEFAULT_BUSY_QUEUE
from chat_summary.render import CHAT_MAX_CHARS

ModeName = Literal["auto", "model", "extractive"]


class ChatSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: ModeName = Field(
        default="auto",
        description="auto (the model, or the extractive summary for very long windows and when "
        "the model is busy), model (always) or extractive (never the model).",
    )
    model_budget_tokens: int = Field(
        default=DEFAULT_BUDGET_TOKENS,
        ge=500,
        description="In auto mode, windows longer than this (in model tokens, about 0.8 per "
        "Chinese character) are summarized extractively; 24,000 is about ten minutes of the "
        "1.5B model on two cores (1,000 messages).",
    )
    busy_queue: int = Field(
        default=DEFAULT_BUSY_QUEUE,
        ge=1,
        description="In auto mode, summarize extractively when this many model requests wait.",
    )
    default_last: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="Messages /summary covers when there was no summary before it.",
    )
    max_messages: int = Field(
        default=10_000,
        ge=10,
        le=100_000,
        description="The most messages one summary reads (the newest, when a window has more).",
    )
    chat_max_chars: int = Field(
        default=CHAT_MAX_CHARS,
        ge=500,
        le=20_000,
        description="Longest summary posted in chat; a longer one is shortened and links its "
        "full document.",
    )
    retention_days: int = Field(
        default=180,
        ge=0,
        le=36_500,
        description="Stored messages and summaries older than this are deleted every night "
        "(03:30); 0 keeps them. /privacy keep <days> sets a conversation's own period.",
    )
    import_max_bytes: int = Field(
        default=50 * 1024 * 1024,
        ge=1024,
        description="Largest chat export accepted by POST /api/conversations/{id}/messages.",
    )
