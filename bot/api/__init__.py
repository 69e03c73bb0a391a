"""HTTP routers, one per file, assembled in ``bot.app``."""
