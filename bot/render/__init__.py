"""Block Kit rendering: one module per feature plus :mod:`bot.render.common`."""
