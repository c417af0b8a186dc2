"""Release domain core (no Slack imports)."""
