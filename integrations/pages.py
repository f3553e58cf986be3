"""The portal's page of one integration (a heartbeat monitor's last ping, state and due time).

Anyone signed in may look (no secret is on it); managers get the admin's edit link, as the
admin is where they create and change integrations.
"""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from integrations.selectors import integration_open_incidents, integration_page
from integrations.services import integration_url_shown
from integrations.services.heartbeats import human_duration
from oncall.http import in_viewer_timezone
from oncall.roles import is_manager


@require_GET
@in_viewer_timezone
def integration_detail(request: HttpRequest, pk: int) -> HttpResponse:
    integration = integration_page(integration_id=pk)
    if integration is None:
        raise Http404("No such integration.")
    monitor = getattr(integration, "heartbeat", None)
    return render(
        request,
        "integrations/integration.html",
        {
            "integration": integration,
            "monitor": monitor,
            "url": integration_url_shown(integration=integration),
            "can_edit": is_manager(request.user),
            "incidents": integration_open_incidents(integration_id=integration.pk),
            "now": timezone.now(),
            "interval": human_duration(monitor.interval) if monitor else "",
            "grace": human_duration(monitor.grace) if monitor else "",
        },
    )
