"""Sync domain core (no Slack imports)."""
