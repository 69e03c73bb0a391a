"""Recognising commands in chat text and parsing their arguments.

``/summary 100``, ``／总结 100`` (full-width slash) and, when the message is addressed to the bot
(a direct chat or an @-mention), a bare ``总结 100`` are the same command. Arguments are split
like a shell would (quotes, including Chinese quotes, group words); errors come back as a
friendly usage message, never an exception in the chat.
"""

from __future__ import annotations

import io
import math
import shlex
from dataclasses import dataclass
from typing import Any

from plugins.contract import Command, Param

SLASHES = ("/", "／")
IDEOGRAPHIC_SPACE = "\u3000"
QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "「": '"', "」": '"'})
MAX_ARGUMENT_TEXT = 4000


@dataclass(frozen=True, slots=True)
class CommandCall:
    word: str
    argument_text: str
    explicit: bool
    """True when written with a slash; a bare word only counts when addressed to the bot."""


class UsageError(ValueError):
    """Arguments that do not fit a command; the message is shown to the user as is."""


def split_command(text: str) -> CommandCall | None:
    """The command word and the rest, or None when the text cannot be a command."""
    stripped = text.strip()
    if not stripped:
        return None
    explicit = stripped.startswith(SLASHES)
    body = stripped[1:].lstrip() if explicit else stripped
    if not body:
        return None
    # Any whitespace ends the word: a space, a line break, or the full-width space of Chinese input.
    word, *rest = body.split(maxsplit=1)
    return CommandCall(word=word, argument_text=rest[0] if rest else "", explicit=explicit)


def parse_arguments(command: Command, text: str) -> dict[str, Any]:
    """Bind argument text to the command's parameters; raises UsageError with the usage line."""
    if len(text) > MAX_ARGUMENT_TEXT:
        raise UsageError(
            _usage(command, f"参数太长 / arguments too long (max {MAX_ARGUMENT_TEXT})")
        )
    params = command.params
    values: dict[str, Any] = {}
    remaining = text.strip()
    for index, param in enumerate(params):
        if param.type == "text":
            if not remaining and param.required:
                raise UsageError(_usage(command, f"缺少参数 / missing <{param.name}>"))
            values[param.name] = remaining or param.default
            remaining = ""
            break
        token, remaining = _next_token(command, remaining)
        if token is None:
            if param.required:
                raise UsageError(_usage(command, f"缺少参数 / missing <{param.name}>"))
            values.update({p.name: p.default for p in params[index:]})
            break
        values[param.name] = _convert(command, param, token)
    if remaining:
        raise UsageError(_usage(command, f"多余的参数 / unexpected: {remaining[:50]}"))
    return values


def _next_token(command: Command, text: str) -> tuple[str | None, str]:
    text = text.strip()
    if not text:
        return None, ""
    # Quotes are normalised one character for one, so offsets in ``text`` stay valid.
    stream = io.StringIO(text.translate(QUOTES))
    lexer = shlex.shlex(stream, posix=True)
    lexer.whitespace_split = True
    lexer.whitespace += IDEOGRAPHIC_SPACE
    lexer.commenters = ""
    lexer.escape = ""  # a backslash is text (Windows paths), not an escape
    try:
        token = lexer.get_token()
    except ValueError:
        raise UsageError(_usage(command, "引号不匹配 / unbalanced quotes")) from None
    if token is None:
        return None, ""
    unread = len(stream.read())
    # The rest comes from the original text, so a following text parameter gets it verbatim.
    return token, text[len(text) - unread :].strip()


def _convert(command: Command, param: Param, token: str) -> Any:
    if param.choices:
        lowered = {choice.lower(): choice for choice in param.choices}
        if token.lower() not in lowered:
            raise UsageError(
                _usage(
                    command,
                    f"<{param.name}> 只能是 / must be one of: {', '.join(param.choices)}",
                )
            )
        return lowered[token.lower()]
    if param.type == "int":
        try:
            return int(token)
        except ValueError:
            raise UsageError(
                _usage(command, f"<{param.name}> 应为整数 / must be a whole number, got {token!r}")
            ) from None
    if param.type == "float":
        try:
            number = float(token)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise UsageError(
                _usage(command, f"<{param.name}> 应为数字 / must be a number, got {token!r}")
            )
        return number
    return token


def _usage(command: Command, problem: str) -> str:
    lines = [problem, f"用法 / Usage: {command.usage}"]
    lines += [f"  {p.name}: {p.help}" for p in command.params if p.help]
    return "\n".join(lines)
