"""``officebot <group> ...`` run as a user runs it: a subprocess with its own data directory and
the fast model, output captured, never waiting on stdin."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

OFFICEBOT = Path(sys.executable).with_name("officebot")
Cli = Callable[..., subprocess.CompletedProcess[str]]


def officebot_cli(group: str, data_dir: Path, model_cache: Path, **settings: str) -> Cli:
    """A runner of ``officebot <group> ARGS...``; ``settings`` (and each call's keyword
    arguments) are extra environment variables."""

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        environment = dict(
            os.environ,
            COLUMNS="120",
            OFFICEBOT_DATA_DIR=str(data_dir),
            OFFICEBOT_LLM__MODEL="qwen2.5-coder-0.5b",
            OFFICEBOT_LLM__CACHE_DIR=str(model_cache),
            **settings,
        )
        environment.update(env)
        return subprocess.run(
            [str(OFFICEBOT), group, *args],
            capture_output=True,
            text=True,
            env=environment,
            stdin=subprocess.DEVNULL,
            timeout=600,
            check=False,
        )

    return run
