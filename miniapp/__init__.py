"""Sketch to mini-program: a photo of a hand-drawn screen (or a screenshot) becomes a typed UI
spec (``miniapp.spec``: widgets, labels, layout rows), and the spec becomes a working DingTalk
mini-program with a standalone HTML preview that behaves the same (``miniapp.codegen``).

Code comes from templates over the spec, so one spec always gives the same files; the shared
model only helps with names and validation rules. Text read from the image is data: it never
becomes markup or script in the generated code or the preview.
"""
