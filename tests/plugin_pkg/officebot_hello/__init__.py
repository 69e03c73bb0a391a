"""``/hello`` (``/你好``): greets whoever sent it, in Chinese and English.

A complete third-party plugin: a ``Plugin`` object, one command with a Chinese alias and a
config model read from ``OFFICEBOT_PLUGINS__HELLO__<KEY>``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from plugins import CommandContext, Plugin


class HelloConfig(BaseModel):
    """``OFFICEBOT_PLUGINS__HELLO__GREETING`` and ``OFFICEBOT_PLUGINS__HELLO__ENGLISH_GREETING``."""

    greeting: str = Field(default="你好", min_length=1, max_length=20)
    english_greeting: str = Field(default="Hello", min_length=1, max_length=20)


plugin = Plugin(
    name="hello",
    description="向发送者问好 / Greets the sender.",
    usage="/hello",
    version="0.1.0",
    config_model=HelloConfig,
)


@plugin.command("hello", aliases=("你好",), summary="向你问好 / Say hello to you")
async def hello(ctx: CommandContext) -> None:
    config = ctx.config if isinstance(ctx.config, HelloConfig) else HelloConfig()
    name = ctx.event.sender_name or ctx.event.sender_id
    await ctx.reply(f"{config.greeting}，{name}！\n{config.english_greeting}, {name}!")
