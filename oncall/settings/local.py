"""Laptop settings for `make run`: debug on, a throwaway secret key, mail to the console."""

from oncall.settings.base import *  # noqa: F403
from oncall.settings.base import env, notify_backends

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="insecure-local-development-key-never-use-in-production")
# Pages go to the terminal and the dev outbox page, not to real phones.
NOTIFY_BACKENDS = notify_backends(console=env.bool("NOTIFY_CONSOLE", default=True))
