"""PLACEHOLDER (branch pm-review): a stand-in for `postmortems:detail` so the list and the
review can link to it; the lead drops this module and its url at merge (pm-pages builds the
real page)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET

from postmortems.models import Postmortem


@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    postmortem = get_object_or_404(Postmortem, pk=pk)
    return redirect("incidents:detail", pk=postmortem.incident_id)
