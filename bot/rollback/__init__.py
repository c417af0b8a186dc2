"""Rollback domain core (no Slack imports)."""
