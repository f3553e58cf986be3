"""`/audit/`: who changed which configuration, when and through what. Managers only."""

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET

from audit.forms import AuditFilterForm
from audit.models import AuditEntry
from audit.selectors import action_name, audit_entries, changes_of, type_label
from oncall.http import HtmxHttpRequest, in_viewer_timezone, signed_in_user
from oncall.roles import is_manager

PAGE_SIZE = 50


@dataclass(frozen=True)
class Row:
    entry: AuditEntry
    action: str
    object_type: str
    admin_url: str
    changes: list[tuple[str, Any, Any]]


def _admin_url(entry: AuditEntry) -> str:
    if entry.action == AuditEntry.Action.DELETE or entry.object_id is None:
        return ""
    content_type = entry.content_type
    try:
        return reverse(
            f"admin:{content_type.app_label}_{content_type.model}_change", args=[entry.object_id]
        )
    except NoReverseMatch:
        return ""


def _row(entry: AuditEntry) -> Row:
    changes = [(field, pair[0], pair[1]) for field, pair in sorted(changes_of(entry).items())]
    return Row(
        entry, action_name(entry), type_label(entry.content_type), _admin_url(entry), changes
    )


@require_GET
@in_viewer_timezone
def audit_page(request: HtmxHttpRequest) -> HttpResponse:
    viewer = signed_in_user(request)
    if not is_manager(viewer):
        raise PermissionDenied("Only managers may read the audit trail.")
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        return render(request, "audit/page.html", {"form": form, "rows": []}, status=400)
    found = list(audit_entries(form.filters(viewer.tzinfo))[: PAGE_SIZE + 1])
    older = found[PAGE_SIZE - 1].pk if len(found) > PAGE_SIZE else None
    query = request.GET.copy()
    query.pop("before", None)
    if older is not None:
        query["before"] = str(older)
    return render(
        request,
        "audit/page.html",
        {
            "form": form,
            "rows": [_row(entry) for entry in found[:PAGE_SIZE]],
            "older_query": query.urlencode() if older is not None else "",
            "paged": "before" in request.GET,
        },
    )
