"""Project package and core app: settings, the Celery app, users, roles, health."""

from oncall.celery import app as celery_app

__all__ = ("celery_app",)
