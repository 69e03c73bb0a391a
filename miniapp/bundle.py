"""Everything generated for one spec, as the files a user downloads."""

from __future__ import annotations

import json

from miniapp.codegen import generate, preview_html, zip_bundle
from miniapp.spec import UISpec

BUNDLE_NAME = "miniapp.zip"


def spec_json(spec: UISpec) -> str:
    """The spec as the JSON file users keep and edit (``widgets: [{type, label, bbox, ...}]``,
    boxes in pixels of the input picture)."""
    return json.dumps(spec.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n"


def bundle_files(spec: UISpec, app_name: str = "") -> dict[str, bytes]:
    """The mini-program under ``miniprogram/``, ``preview.html``, ``spec.json``, and
    ``miniapp.zip`` holding all of them. The same spec gives the same bytes."""
    texts = {
        **{f"miniprogram/{path}": text for path, text in generate(spec, app_name=app_name).items()},
        "preview.html": preview_html(spec, app_name=app_name),
        "spec.json": spec_json(spec),
    }
    return {
        **{path: text.encode("utf-8") for path, text in texts.items()},
        BUNDLE_NAME: zip_bundle(texts),
    }
