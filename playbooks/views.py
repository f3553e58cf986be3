"""Playbook pages: the list of entries, adding and changing one (managers and support
managers), and recording an attempt from an incident's triage panel."""

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents.models import Incident
from incidents.selectors import incidents_visible_to
from oncall.http import HtmxHttpRequest, in_viewer_timezone, signed_in_user
from oncall.markup import markdown_safe
from playbooks import selectors, services
from playbooks.forms import AttemptForm, EntryForm
from playbooks.models import PlaybookEntry
from playbooks.rules import may_edit_playbooks
from rotations.models import Team


@require_GET
@in_viewer_timezone
def entry_list(request: HtmxHttpRequest) -> HttpResponse:
    team_slug = request.GET.get("team", "").replace("\x00", "\ufffd")[:100]
    entries = list(selectors.playbook_entries_list(team_slug=team_slug))
    context = {
        "rows": [{"entry": e, "html": markdown_safe(e.steps)} for e in entries],
        "teams": Team.objects.order_by("name").only("slug", "name"),
        "team_slug": team_slug,
        "can_edit": may_edit_playbooks(signed_in_user(request)),
    }
    return render(request, "playbooks/list.html", context)


def _editor(request: HtmxHttpRequest) -> Any:
    user = signed_in_user(request)
    if not may_edit_playbooks(user):
        raise PermissionDenied("Only managers and support managers edit playbook entries.")
    return user


@require_http_methods(["GET", "POST"])
@in_viewer_timezone
def entry_edit(request: HtmxHttpRequest, pk: int | None = None) -> HttpResponse:
    actor = _editor(request)
    entry = None
    if pk is not None:
        entry = PlaybookEntry.objects.filter(pk=pk).first()
        if entry is None:
            raise Http404("No such playbook entry.")
    form = EntryForm(request.POST or None, instance=entry)
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
        try:
            if entry is None:
                entry = services.playbook_entry_create(actor=actor, **fields)
            else:
                entry = services.playbook_entry_update(entry=entry, actor=actor, **fields)
        except ValidationError as error:
            form.add_service_error(error)
        else:
            messages.success(request, f"Playbook entry “{entry.title}” saved.")
            return redirect("playbooks:list")
    status = 400 if request.method == "POST" else 200
    return render(request, "playbooks/edit.html", {"form": form, "entry": entry}, status=status)


@require_POST
@in_viewer_timezone
def attempt_record(request: HtmxHttpRequest, incident_pk: int, entry_pk: int) -> HttpResponse:
    """Record an attempt and go back to the incident (a plain form: no JavaScript needed)."""
    incident = incidents_visible_to(
        signed_in_user(request), Incident.objects.filter(pk=incident_pk)
    ).first()
    entry = PlaybookEntry.objects.filter(pk=entry_pk).first()
    if incident is None or entry is None:
        raise Http404("No such incident or playbook entry.")
    form = AttemptForm(request.POST, entry=entry, prefix=f"pb{entry.pk}")
    if form.is_valid():
        try:
            services.playbook_attempt_record(
                incident=incident,
                entry=entry,
                actor=signed_in_user(request),
                steps_tried=form.cleaned_data["steps_tried"],
                outcome=form.cleaned_data["outcome"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Recorded on the timeline: “{entry.title}” tried.")
    else:
        problems = [
            f"{form.fields[n].label or n}: {' '.join(str(m) for m in e)}"
            for n, e in form.errors.items()
        ]
        messages.error(request, "The attempt was not recorded. " + " ".join(problems))
    back = redirect("incidents:detail", pk=incident.pk)
    if request.htmx:  # a full page: the messages show at the top
        return HttpResponse(status=204, headers={"HX-Redirect": back["Location"]})
    return back
