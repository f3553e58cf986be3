"""Pages of the on-call reports."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404

from oncall.http import HtmxHttpRequest
from reports.models import OnCallReport


def report_detail(request: HtmxHttpRequest, report_id: int) -> HttpResponse:
    get_object_or_404(OnCallReport, pk=report_id)
    return HttpResponse("")
