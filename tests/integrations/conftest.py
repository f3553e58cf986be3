"""Integrations of a fresh team: one Events v2, one Alertmanager."""

import pytest

from integrations.models import Integration
from tests.factories import IntegrationFactory


@pytest.fixture
def integration(db: None) -> Integration:
    return IntegrationFactory.create()


@pytest.fixture
def am_integration(db: None) -> Integration:
    return IntegrationFactory.create(alertmanager=True)
