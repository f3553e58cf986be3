"""REST API for managers: integrations and webhook subscriptions as configuration.

Integrations: list, create (the key is shown once), read, change, delete, rotate the key
(the new key is shown once; the old one stops working at once). Webhook subscriptions:
list, create (the signing secret is shown once), read, change, delete, rotate the secret
(the new secret is shown once). Only managers call any of it, reads included (other roles
see none of it, as in the admin). Each view validates with an input serializer, calls one
service and answers with an output serializer; errors come out in the portal's shape
(oncall.api.errors).

One module per resource (`integrations`, `webhooks`), serializers in `serializers`, the
permission and body parsing in `access`; urls in integrations/api/urls.py.
"""

from integrations.api.integrations import (
    IntegrationDetailApi,
    IntegrationListCreateApi,
    IntegrationRotateKeyApi,
)
from integrations.api.webhooks import (
    WebhookDetailApi,
    WebhookListCreateApi,
    WebhookRotateSecretApi,
)

__all__ = [
    "IntegrationDetailApi",
    "IntegrationListCreateApi",
    "IntegrationRotateKeyApi",
    "WebhookDetailApi",
    "WebhookListCreateApi",
    "WebhookRotateSecretApi",
]
