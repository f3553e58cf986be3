"""Accepted events: stored as one `InboundEvent` row in the request, folded into incidents later.

- `ingest_accept` (`accept`) is the doors' one service: body, key, rate limit, validation,
  level and dedup key decided, the event stored; a refusal is a structured `IngestRefused`.

- `inbound_store` writes the validated, normalised event (no routing key) and, on commit,
  wakes the folders: with INGEST_REDIS_URL a burst of events sends ONE `incidents.ingest_drain`
  (a Redis `SET NX` flag stands for "a drain is on its way"; the drain clears it before it
  reads, so an event committed later raises it again and sends the next). Without Redis
  each event sends its own `incidents.ingest_process(event_id)`. A lost task is not a lost
  event: `ingest_sweep` (beat) folds whatever is still pending after a short grace.
- Events of one (integration, dedup key) are applied one at a time in id order. Whoever
  folds an event first locks the key's *oldest pending* event row (`SKIP LOCKED` for the
  task and the sweeper): every other worker computes the same oldest event, finds it locked
  and leaves the key to the holder, so a trigger and the resolve sent after it are never
  applied in the other order. Each event is folded and marked processed in one
  transaction, so a crash re-folds nothing and loses nothing.
- The fold is the services' (`event_v2_process`, `alertmanager_process`); the partial
  unique constraint on open alert groups still guarantees one open incident per key.
- A failing fold records `last_error` and is retried with exponential backoff; later events
  of its key wait (order). After INGEST_MAX_ATTEMPTS it is given up (`failed_at`), kept for
  the admin, and its key goes on.
"""

from integrations.ingest.accept import Accepted, IngestRefused, alertmanager_level, ingest_accept
from integrations.ingest.batch import ingest_drain_pending
from integrations.ingest.events import BUSY_RETRY_SECONDS, Drained, retry_delay
from integrations.ingest.keyfold import (
    inbound_retry,
    ingest_drain,
    ingest_fold_now,
    ingest_process,
    ingest_sweep,
)
from integrations.ingest.payloads import alertmanager_payload, event_v2_payload
from integrations.ingest.wake import (
    DRAIN_TASK,
    PROCESS_TASK,
    QUEUE,
    WAKE_FLAG,
    WAKE_FLAG_MS,
    inbound_store,
    ingest_wake,
)

__all__ = [
    "BUSY_RETRY_SECONDS",
    "DRAIN_TASK",
    "PROCESS_TASK",
    "QUEUE",
    "WAKE_FLAG",
    "WAKE_FLAG_MS",
    "Accepted",
    "Drained",
    "IngestRefused",
    "alertmanager_level",
    "alertmanager_payload",
    "event_v2_payload",
    "inbound_retry",
    "inbound_store",
    "ingest_accept",
    "ingest_drain",
    "ingest_drain_pending",
    "ingest_fold_now",
    "ingest_process",
    "ingest_sweep",
    "ingest_wake",
    "retry_delay",
]
