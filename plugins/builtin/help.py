"""``/help`` (``/帮助``): lists every command of every loaded plugin."""

from __future__ import annotations

from plugins import CommandContext, MarkdownMessage, Param, Plugin

plugin = Plugin(
    name="help",
    description="列出所有命令 / Lists every command of every loaded plugin.",
    usage="/help [command]",
    version="1",
)


@plugin.command(
    "help",
    aliases=("帮助", "?"),
    summary="列出命令及用法 / List commands and their usage",
    params=(Param("command", required=False, help="show one command's usage"),),
)
async def show_help(ctx: CommandContext) -> None:
    commands = sorted(ctx.services.commands(), key=lambda c: (c.plugin, c.name))
    wanted = ctx.args.get("command")
    if wanted:
        word = str(wanted).lstrip("/").lower()
        matches = [c for c in commands if word == c.name.lower() or word in c.aliases]
        if not matches:
            await ctx.reply(
                f"没有这个命令 / No such command: /{word}. 发送 /help 查看全部 / Send /help."
            )
            return
        command = matches[0]
        aliases = "、".join(f"/{a}" for a in command.aliases) or "-"
        await ctx.reply(
            f"{command.usage}\n{command.summary}\n别名 / Aliases: {aliases}\n"
            f"插件 / Plugin: {command.plugin}"
        )
        return
    lines = ["### 可用命令 / Commands", ""]
    for command in commands:
        aliases = " ".join(f"/{a}" for a in command.aliases)
        alias_part = f" ({aliases})" if aliases else ""
        lines.append(f"- **{command.usage}**{alias_part}: {command.summary} · _{command.plugin}_")
    lines += ["", "发送 /help <命令> 查看用法 / Send /help <command> for details."]
    await ctx.reply(MarkdownMessage(title="officebot 命令 / commands", text="\n".join(lines)))
