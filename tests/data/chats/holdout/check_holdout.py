#!/usr/bin/env python3
"""Run the chat-fixture checker (../check_chats.py) on the hold-out chats.

Run from the repository root:

    python tests/data/chats/holdout/check_holdout.py

The parent checker is imported, not copied: its module-level HERE and CHATS
are pointed at this folder and the hold-out chat names, and its own
selftest()/check_chat() are used unchanged.  Exits non-zero on any failure.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HOLDOUT = Path(__file__).resolve().parent
PARENT = HOLDOUT.parent

# name -> (min messages, max messages, allowed UTC offsets)
HOLDOUT_CHATS = {
    "zh_hr": (150, 180, {"+08:00"}),
    "en_support": (150, 180, {"+01:00"}),
}


def load_checker():
    spec = importlib.util.spec_from_file_location("check_chats", PARENT / "check_chats.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(argv: list[str]) -> int:
    cc = load_checker()
    cc.HERE = HOLDOUT          # check_chat() reads <HERE>/<name>.json
    cc.CHATS = dict(HOLDOUT_CHATS)
    names = argv[1:] or list(HOLDOUT_CHATS)
    unknown = [n for n in names if n not in HOLDOUT_CHATS]
    if unknown:
        print(f"unknown hold-out chat(s): {unknown}")
        return 2
    return cc.main([argv[0] if argv else "check_holdout.py", *names])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
