"""The mini-program pipeline's prompts: ``miniapp/prompts/<task>.<lang>.j2``, rendered by
``llm.prompts.PromptSet`` under its rules (untrusted text delimited, the instruction last,
strict variables)."""

from __future__ import annotations

from pathlib import Path

from llm.prompts import PromptSet

MINIAPP_PROMPTS = PromptSet(Path(__file__).parent)
render = MINIAPP_PROMPTS.render
