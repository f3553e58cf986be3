"""Helpers for tests that are not fixtures."""

import kombu.pools

from oncall.celery import app as celery_app


def use_broker(url: str) -> None:
    """Point this process's Celery app at another broker, dropping pooled connections."""
    celery_app.conf.update(broker_url=url)
    pool = getattr(celery_app, "_pool", None)
    if pool is not None:
        pool.force_close_all()
    # Celery caches its connection and producer pools; drop them so the new URL is used.
    setattr(celery_app, "_pool", None)  # noqa: B010
    setattr(celery_app.amqp, "_producer_pool", None)  # noqa: B010
    kombu.pools.reset()
