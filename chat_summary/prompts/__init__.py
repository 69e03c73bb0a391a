"""The summarizer's prompts: ``chat_summary/prompts/<task>.<lang>.j2``.

The templates follow the rules of ``llm.prompts`` (a ``system`` and a ``user`` block; untrusted
text inside a ``delimit`` section; the instruction after the long text; strict variables) and are
rendered by its ``PromptSet``. They live here, beside the code that checks the answers, because a
prompt and its checks change together, so ``llm/prompts`` stays the model layer's own set.
"""

from __future__ import annotations

from pathlib import Path

from llm.prompts import PromptSet

TEMPLATE_DIR = Path(__file__).parent
SUMMARIZER_PROMPTS = PromptSet(TEMPLATE_DIR)
render = SUMMARIZER_PROMPTS.render
