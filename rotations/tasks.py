"""Coverage watch."""
