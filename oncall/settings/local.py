"""Laptop settings for `make run`: debug on, a throwaway secret key, mail to the console."""

from oncall.settings.base import *  # noqa: F403
from oncall.settings.base import env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="insecure-local-development-key-never-use-in-production")
