"""Recognising commands in chat text and binding their arguments (bot/commands.py)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.commands import CommandCall, UsageError, parse_arguments, split_command
from plugins import CommandContext, Param, Plugin
from plugins.contract import Command


def command(name: str, *params: Param) -> Command:
    """A real command declared through the plugin contract, with a do-nothing handler."""
    plugin = Plugin(name="probe", description="commands under test")

    @plugin.command(name, params=params)
    async def handler(ctx: CommandContext) -> None:
        del ctx

    return plugin.commands[0]


SUMMARY = command(
    "summary",
    Param("count", type="int", help="how many messages"),
    Param("period", required=False, default="day", choices=("day", "week", "Month")),
)
SCALE = command("scale", Param("factor", type="float"))
REMIND = command(
    "remind", Param("minutes", type="int"), Param("what", type="text", help="what to remind")
)
SAY = command("say", Param("what", type="text", required=False, default="(nothing)"))
COPY = command("copy", Param("source"), Param("target"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/help", CommandCall("help", "", explicit=True)),
        ("／帮助", CommandCall("帮助", "", explicit=True)),
        ("  /summary 100  ", CommandCall("summary", "100", explicit=True)),
        ("/ summary 100", CommandCall("summary", "100", explicit=True)),
        ("总结 100", CommandCall("总结", "100", explicit=False)),
        ("/总结\u3000100", CommandCall("总结", "100", explicit=True)),
        ("／总结\u3000100 week", CommandCall("总结", "100 week", explicit=True)),
        ("/remind\t10 开会", CommandCall("remind", "10 开会", explicit=True)),
        ("/remind\n10 开会", CommandCall("remind", "10 开会", explicit=True)),
        ("/say a  b\n c", CommandCall("say", "a  b\n c", explicit=True)),
        ("hello there", CommandCall("hello", "there", explicit=False)),
    ],
)
def test_split_command(text: str, expected: CommandCall) -> None:
    assert split_command(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "\u3000", "/", "／", " / ", "/\u3000"])
def test_text_without_a_command_word_is_not_a_command(text: str) -> None:
    assert split_command(text) is None


@pytest.mark.parametrize(
    ("command_", "text", "expected"),
    [
        (SUMMARY, "100", {"count": 100, "period": "day"}),
        (SUMMARY, "100 week", {"count": 100, "period": "week"}),
        (SUMMARY, "  7   WEEK ", {"count": 7, "period": "week"}),
        (SUMMARY, "7 month", {"count": 7, "period": "Month"}),
        (SUMMARY, "-3", {"count": -3, "period": "day"}),
        (SUMMARY, "１２", {"count": 12, "period": "day"}),  # full-width digits from a Chinese IME
        (SUMMARY, "100\u3000week", {"count": 100, "period": "week"}),
        (SCALE, "1.5", {"factor": 1.5}),
        (SCALE, "2", {"factor": 2.0}),
        (SCALE, "-0.25", {"factor": -0.25}),
        (COPY, '"my file.txt" 备份', {"source": "my file.txt", "target": "备份"}),
        (COPY, "“会议 纪要” ‘周报 草稿’", {"source": "会议 纪要", "target": "周报 草稿"}),
        (COPY, "「季度 总结」 out", {"source": "季度 总结", "target": "out"}),
        (COPY, r"D:\会议\纪要.mp3 C:\out", {"source": r"D:\会议\纪要.mp3", "target": r"C:\out"}),
        (COPY, "issue #12", {"source": "issue", "target": "#12"}),  # '#' is not a comment
    ],
)
def test_arguments_are_converted(command_: Command, text: str, expected: dict[str, Any]) -> None:
    assert parse_arguments(command_, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10 买 “牛奶”  和\n面包", "买 “牛奶”  和\n面包"),
        ('10 say "hi" to  Bob', 'say "hi" to  Bob'),
        ("10\u3000开会\u3000讨论", "开会\u3000讨论"),
        ("“10” 'quoted' rest", "'quoted' rest"),
    ],
)
def test_text_parameter_takes_the_rest_verbatim(text: str, expected: str) -> None:
    args = parse_arguments(REMIND, text)
    assert args["minutes"] == 10
    assert args["what"] == expected


def test_text_parameter_alone_takes_everything_and_has_a_default() -> None:
    assert parse_arguments(SAY, " “你好”，  world ") == {"what": "“你好”，  world"}
    assert parse_arguments(SAY, "") == {"what": "(nothing)"}


def usage_error(command_: Command, text: str) -> str:
    with pytest.raises(UsageError) as caught:
        parse_arguments(command_, text)
    return str(caught.value)


@pytest.mark.parametrize(
    ("command_", "text", "problem"),
    [
        (SUMMARY, "abc", "<count> 应为整数 / must be a whole number, got 'abc'"),
        (SUMMARY, "1.5", "<count> 应为整数 / must be a whole number, got '1.5'"),
        (SUMMARY, "", "缺少参数 / missing <count>"),
        (SUMMARY, "10 year", "<period> 只能是 / must be one of: day, week, Month"),
        (SUMMARY, "10 week extra", "多余的参数 / unexpected: extra"),
        (SUMMARY, '"10', "引号不匹配 / unbalanced quotes"),
        (SUMMARY, "“10", "引号不匹配 / unbalanced quotes"),
        (SCALE, "x", "<factor> 应为数字 / must be a number, got 'x'"),
        (SCALE, "nan", "<factor> 应为数字 / must be a number, got 'nan'"),
        (SCALE, "inf", "<factor> 应为数字 / must be a number, got 'inf'"),
        (REMIND, "10", "缺少参数 / missing <what>"),
        (REMIND, "soon 开会", "<minutes> 应为整数 / must be a whole number, got 'soon'"),
        (COPY, "only-one", "缺少参数 / missing <target>"),
        (COPY, "a\u3000b\u3000c", "多余的参数 / unexpected: c"),
    ],
)
def test_usage_errors_name_the_problem_and_show_the_usage(
    command_: Command, text: str, problem: str
) -> None:
    lines = usage_error(command_, text).splitlines()
    assert lines[0] == problem
    assert lines[1] == f"用法 / Usage: {command_.usage}"


def test_usage_lists_parameter_help() -> None:
    message = usage_error(SUMMARY, "x")
    assert "用法 / Usage: /summary <count> [day|week|Month]" in message
    assert "  count: how many messages" in message
    assert usage_error(REMIND, "").splitlines()[1:] == [
        "用法 / Usage: /remind <minutes> <what...>",
        "  what: what to remind",
    ]


def test_extra_arguments_are_cut_in_the_message() -> None:
    message = usage_error(COPY, "a b " + "x" * 200)
    assert message.splitlines()[0] == "多余的参数 / unexpected: " + "x" * 50


def test_overlong_argument_text_is_refused() -> None:
    assert usage_error(SAY, "字" * 4001).startswith("参数太长 / arguments too long (max 4000)")
    assert parse_arguments(SAY, "字" * 4000) == {"what": "字" * 4000}


def test_a_command_without_parameters_refuses_arguments() -> None:
    bare = command("ping")
    assert parse_arguments(bare, "") == {}
    assert parse_arguments(bare, "  ") == {}
    assert usage_error(bare, "now").splitlines() == [
        "多余的参数 / unexpected: now",
        "用法 / Usage: /ping",
    ]
