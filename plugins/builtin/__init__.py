"""Built-in plugins. Each is registered through the ``officebot.plugins`` entry-point group in
officebot's pyproject.toml, exactly as a third-party plugin would be."""
