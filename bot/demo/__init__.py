"""``relbot demo``: a sandbox of real repositories and the bot playing a release week."""
