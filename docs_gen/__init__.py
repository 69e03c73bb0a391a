"""Documents from a short brief: event plans, meeting plans and workflow proposals.

A kind of document is a section schema (``<kind>.toml``) and a jinja2 Markdown template
(``<kind>.md.j2``); built-in kinds live in ``docs_gen/kinds``, custom ones in a templates
directory and are picked up without code. The shared model fills each section as structured
output; code computes every number (budget totals, agenda times); the Markdown becomes a .docx
(``docx_writer``) with the workflow diagram drawn by ``flowchart``. ``poster`` draws an event
poster, or asks an OpenAI-compatible images API where a site has one.
"""
