"""officebot: the bot edge (server, adapters, router, jobs, sender, scheduler, storage, CLI)."""
