"""Inbound integrations (PagerDuty Events API v2, Alertmanager) and outgoing webhooks."""
