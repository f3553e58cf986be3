"""Helpers for tests that are not fixtures."""

from collections.abc import Callable

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


def all_at_once(*calls: Callable[[], object]) -> list[BaseException]:
    """Run each call in its own thread, released together (a barrier), each closing its own
    database connection; the exceptions they raised."""
    import threading

    from django.db import connection

    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        try:
            barrier.wait()
            call()
        except BaseException as error:  # reported to the test, whatever it was
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors
