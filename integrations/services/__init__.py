"""Every write of the integrations, one module per concern; import from here.

- `keys`: issuing and rotating integration keys, the doors' cached key lookup.
- `config`: integrations as configuration (create, change, delete, their URL).
- `subscriptions`: webhook subscriptions as configuration (and their signing secrets).
- `groups`: the dedup core both formats fold through (one open alert group per key).
- `events_v2`, `alertmanager`: folding PagerDuty Events v2 and Alertmanager messages.
- `heartbeats`: heartbeat monitors' settings, pings and the sweep that opens late incidents.

The doors' service, `ingest_accept`, is the ingest pipeline's first stage
(`integrations.ingest.accept`).

Tests that monkeypatch a name must patch the module that uses it, not this package.
"""

from integrations.services.alertmanager import alertmanager_process
from integrations.services.config import (
    INTEGRATION_CHANGEABLE,
    integration_create,
    integration_delete,
    integration_update,
    integration_url,
    integration_url_shown,
)
from integrations.services.events_v2 import event_v2_process
from integrations.services.groups import CLAIM_ATTEMPTS, Action, IngestResult
from integrations.services.heartbeats import (
    heartbeat_monitor_save,
    heartbeat_monitor_update,
    heartbeat_ping,
    heartbeat_sweep,
)
from integrations.services.keys import (
    KEY_KIND,
    integration_by_key,
    integration_issue_key,
    integration_key_cache_clear,
    integration_rotate_key,
)
from integrations.services.subscriptions import (
    SUBSCRIPTION_CHANGEABLE,
    webhook_subscription_create,
    webhook_subscription_delete,
    webhook_subscription_rotate_secret,
    webhook_subscription_update,
)

__all__ = [
    "CLAIM_ATTEMPTS",
    "INTEGRATION_CHANGEABLE",
    "KEY_KIND",
    "SUBSCRIPTION_CHANGEABLE",
    "Action",
    "IngestResult",
    "alertmanager_process",
    "event_v2_process",
    "heartbeat_monitor_save",
    "heartbeat_monitor_update",
    "heartbeat_ping",
    "heartbeat_sweep",
    "integration_by_key",
    "integration_create",
    "integration_delete",
    "integration_issue_key",
    "integration_key_cache_clear",
    "integration_rotate_key",
    "integration_update",
    "integration_url",
    "integration_url_shown",
    "webhook_subscription_create",
    "webhook_subscription_delete",
    "webhook_subscription_rotate_secret",
    "webhook_subscription_update",
]
