"""The one exponential backoff every retry in the portal uses (deliveries, ingested events)."""

from datetime import timedelta


def exponential_backoff(*, attempts: int, base: timedelta, cap: timedelta) -> timedelta:
    """The pause after the n-th failed attempt: base, 2 × base, 4 × base … never above cap."""
    if attempts <= 1:
        return min(base, cap)
    # Capped before it can grow huge: 2 ** attempts for a large count would overflow timedelta.
    doublings = min(attempts - 1, 62)
    seconds = base.total_seconds() * (2**doublings)
    return min(cap, timedelta(seconds=min(seconds, cap.total_seconds())))
