"""Cadence domain core (no Slack imports)."""
