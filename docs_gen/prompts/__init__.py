"""The document pipeline's prompts: ``docs_gen/prompts/<task>.<lang>.j2``, rendered by
``llm.prompts.PromptSet`` under its rules (untrusted text delimited, the instruction last,
strict variables)."""

from __future__ import annotations

from pathlib import Path

from llm.prompts import PromptSet

DOCS_PROMPTS = PromptSet(Path(__file__).parent)
render = DOCS_PROMPTS.render
