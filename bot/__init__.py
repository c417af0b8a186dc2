"""relbot: Slack ChatOps bot for release and sync automation."""

__version__ = "0.1.0"
