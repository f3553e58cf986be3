"""Postmortems: the handbooks' Core team (tests/incidents), a real SMTP server, roles."""

import pytest
from pytest_django import Settings

from notifications.channels import base
from oncall.models import User
from oncall.roles import ENGINEER, MANAGER, SUPPORT, SUPPORT_MANAGER
from tests.factories import UserFactory
from tests.incidents.conftest import Core, core  # noqa: F401 (a fixture)
from tests.notifications.conftest import SmtpServer, smtp_mailer, smtp_server  # noqa: F401

__all__ = ["Core"]


@pytest.fixture
def people(db: None) -> dict[str, User]:
    """One person per role (Morgan the Manager, Sam the support manager…)."""
    return {
        "manager": UserFactory.create(username="morgan-m", roles=[MANAGER]),
        "support_manager": UserFactory.create(username="sam", roles=[SUPPORT_MANAGER]),
        "support": UserFactory.create(username="sid", roles=[SUPPORT]),
        "engineer": UserFactory.create(username="eve", roles=[ENGINEER]),
    }


@pytest.fixture
def email_over_smtp(settings: Settings, smtp_mailer: SmtpServer) -> SmtpServer:  # noqa: F811
    """The email channel's real backend, mailing the local SMTP server."""
    settings.NOTIFY_BACKENDS = {
        **settings.NOTIFY_BACKENDS,
        "email": "notifications.channels.email.EmailBackend",
    }
    base._backend.cache_clear()
    return smtp_mailer
