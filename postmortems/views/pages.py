"""The postmortem page, writing it, the live Markdown preview, starting one from an incident,
and submit / publish / reopen.

htmx style as the incident pages: one template per page with `{% partialdef %}` regions; an
htmx request gets the region (errors included, status 200: htmx swaps only 2xx), a plain
request the page (400 with errors, 403 not allowed, 409 an illegal move or a stale version);
a plain POST that worked redirects. Everyone signed in reads; `postmortems.rules` decides
who writes, and the services check it again.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from incidents.selectors import incidents_visible_to
from oncall.http import HtmxHttpRequest, in_viewer_timezone, signed_in_user
from oncall.markup import markdown_safe
from oncall.models import User
from oncall.words import duration_words
from postmortems import rules, selectors, services
from postmortems.forms import (
    PostmortemForm,
    PreviewForm,
    TimelineFormSet,
    VersionForm,
    comparable,
    fingerprints_of,
    saved_values,
    section_name,
    timeline_initial,
    timeline_lines,
    touched,
)
from postmortems.models import (
    ACTION_ITEM_TRANSITIONS,
    CLOSED_ACTION_ITEM_STATUSES,
    ActionItem,
    ActionItemStatus,
    Postmortem,
    PostmortemStatus,
)

PLAIN_LABELS = {
    "title": "Title",
    "owner": "Owner",
    "due_at": "Due",
    "timeline": "Timeline",
    "no_action_items_reason": "Why there are no action items",
}
# What the response facts are called on the page, in this order.
FACT_LABELS = (
    ("time_to_acknowledge_seconds", "Time to acknowledge"),
    ("time_to_resolve_seconds", "Time to resolve"),
    ("people_paged_count", "People paged"),
    ("pages_sent", "Pages sent"),
    ("escalation_steps_run", "Escalation steps run"),
    ("status_updates_sent", "Status updates sent"),
    ("reopened", "Times reopened"),
)


def postmortem_or_404(pk: int) -> Postmortem:
    postmortem = selectors.postmortem_page(pk=pk)
    if postmortem is None:
        raise Http404("No such postmortem.")
    return postmortem


def viewer(request: HtmxHttpRequest) -> User:
    """The signed-in person with their groups read once (the rules ask for them often)."""
    user = signed_in_user(request)
    prefetch_related_objects([user], "groups")
    return user


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class ItemView:
    item: ActionItem
    can_change: bool
    moves: list[tuple[str, str]]  # (status, label) the transition map allows from here
    overdue: bool


@dataclass(frozen=True)
class Change:
    label: str
    before: Any
    after: Any
    kind: str  # "text", "timeline", "plain"


@dataclass(frozen=True)
class RevisionView:
    version: int
    author: User | None
    at: datetime
    labels: list[str]
    changes: list[Change]


def _facts(facts: dict[str, Any]) -> list[tuple[str, str]]:
    shown = []
    for key, label in FACT_LABELS:
        value = facts.get(key)
        if value is None:
            continue
        if key.endswith("_seconds"):
            from datetime import timedelta

            value = duration_words(timedelta(seconds=int(value)))
        shown.append((label, str(value)))
    return shown


def _shown(name: str, value: Any, people: dict[int, User]) -> Any:
    if name == "owner":
        person = people.get(value) if value else None
        return person.name if person else ("Nobody" if value is None else f"person {value}")
    if name == "due_at":
        return datetime.fromisoformat(value) if value else None
    if name == "timeline":
        return [
            {**line, "at": datetime.fromisoformat(line["at"])}
            for line in value or []
            if isinstance(line, dict) and "at" in line
        ]
    return value


def _kind(name: str) -> str:
    """How a value is shown: a timeline as lines, a due time as a time, the rest as text."""
    return {"timeline": "timeline", "due_at": "time"}.get(name, "text")


def _revisions(postmortem: Postmortem) -> list[RevisionView]:
    titles = {s.key: s.title for s in postmortem.sections.all()}
    revisions = list(postmortem.revisions.all())
    owner_ids = {
        value
        for r in revisions
        if "owner" in r.changes
        for value in (r.changes["owner"].get("before"), r.changes["owner"].get("after"))
        if value
    }
    people = User.objects.in_bulk(owner_ids) if owner_ids else {}
    views = []
    for revision in revisions:
        changes = []
        for name in revision.changed:
            change = revision.changes.get(name, {})
            label = titles.get(name) or PLAIN_LABELS.get(name, name)
            kind = _kind(name)
            changes.append(
                Change(
                    label,
                    _shown(name, change.get("before"), people),
                    _shown(name, change.get("after"), people),
                    kind,
                )
            )
        views.append(
            RevisionView(
                version=revision.version,
                author=revision.author,
                at=revision.created_at,
                labels=[c.label for c in changes],
                changes=changes,
            )
        )
    return views


def _items(postmortem: Postmortem, user: User, today: Any) -> list[ItemView]:
    views = []
    for item in postmortem.action_items.all():
        can_change = rules.action_item_can_change(user, item)
        views.append(
            ItemView(
                item=item,
                can_change=can_change,
                moves=[
                    (s.value, s.label)
                    for s in ActionItemStatus
                    if s in ACTION_ITEM_TRANSITIONS[item.status]
                ]
                if can_change
                else [],
                overdue=item.status not in CLOSED_ACTION_ITEM_STATUSES and item.due_date < today,
            )
        )
    return views


def postmortem_context(
    request: HtmxHttpRequest,
    postmortem: Postmortem,
    *,
    notice: str = "",
    error: str = "",
    item_form: Any = None,
    problems: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    from postmortems.forms import ActionItemForm

    user = viewer(request)
    now = timezone.now()
    today = timezone.localdate(now)
    incident = postmortem.incident
    sections = [
        {"key": s.key, "title": s.title, "html": markdown_safe(s.body), "empty": not s.body.strip()}
        for s in postmortem.sections.all()
    ]
    can_edit = rules.postmortem_can_edit(user, postmortem)
    if item_form is None and can_edit:
        item_form = ActionItemForm(
            initial={
                "owner": postmortem.owner_id or user.pk,
                "due_date": services.action_item_default_due(postmortem, today=today),
            }
        )
    status = postmortem.status
    can_submit = status == PostmortemStatus.DRAFT and rules.postmortem_can_submit(user, postmortem)
    can_publish = status == PostmortemStatus.IN_REVIEW and rules.postmortem_can_publish(
        user, postmortem
    )
    can_reopen = status == PostmortemStatus.PUBLISHED and rules.postmortem_can_reopen(
        user, postmortem
    )
    return {
        "postmortem": postmortem,
        "incident": incident,
        "now": now,
        "overdue": bool(
            postmortem.due_at and postmortem.due_at < now and status != PostmortemStatus.PUBLISHED
        ),
        "facts": _facts(postmortem.facts or {}),
        "people_paged": (postmortem.facts or {}).get("people_paged") or [],
        "sections": sections,
        "timeline": list(postmortem.timeline.all()),
        "items": _items(postmortem, user, today),
        "revisions": _revisions(postmortem),
        "closed_out": postmortem.closed_out,
        "problems": services.publish_problems(postmortem) if problems is None else problems,
        "can_edit": can_edit and status != PostmortemStatus.PUBLISHED,
        "can_add_items": can_edit,
        # The buttons the rules allow this person, each a POST carrying the version read.
        "moves": [
            {
                "url": f"postmortems:{name}",
                "label": label,
                "style": style,
                "id": f"{name}-postmortem",
            }
            for name, label, style, allowed in (
                ("submit", "Submit for review", "secondary", can_submit),
                ("publish", "Publish", "ok", can_publish),
                ("reopen", "Reopen to correct", "secondary", can_reopen),
            )
            if allowed
        ],
        "item_form": item_form,
        "notice": notice,
        "error": error,
    }


@require_GET
@in_viewer_timezone
def postmortem_page(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    postmortem = postmortem_or_404(pk)
    template = (
        "postmortems/postmortem.html#postmortem" if request.htmx else "postmortems/postmortem.html"
    )
    return render(request, template, postmortem_context(request, postmortem))


def answer(
    request: HtmxHttpRequest,
    pk: int,
    *,
    notice: str = "",
    error: str = "",
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    """htmx: the refreshed postmortem region with the message; plain: back to the page when
    it worked, else the page with the message and the error's status."""
    if not request.htmx and not error and status == 200:
        messages.success(request, notice)
        return redirect("postmortems:detail", pk=pk)
    context = postmortem_context(
        request, postmortem_or_404(pk), notice=notice, error=error, **extra
    )
    if request.htmx:
        return render(request, "postmortems/postmortem.html#postmortem", context)
    return render(request, "postmortems/postmortem.html", context, status=status)


def refused(request: HtmxHttpRequest, pk: int, failure: services.PostmortemError) -> HttpResponse:
    """A domain refusal in words: not allowed 403, an illegal move or stale version 409,
    something missing to publish 400 (listed by field)."""
    if isinstance(failure, services.NotAllowed):
        return answer(request, pk, error=str(failure), status=403)
    if isinstance(failure, services.PublishIncomplete):
        return answer(request, pk, error=str(failure), status=400, problems=failure.fields)
    if isinstance(failure, services.PostmortemConflict):
        message = (
            "Someone saved this postmortem since you loaded it; nothing changed. "
            "Read it again and retry."
        )
        return answer(request, pk, error=message, status=409)
    return answer(request, pk, error=str(failure), status=409)


# --------------------------------------------------------------------------- moving it on

MOVES = {
    "submit": (services.postmortem_submit, "Submitted for review."),
    "publish": (services.postmortem_publish, "Published."),
    "reopen": (services.postmortem_reopen, "Reopened for review: correct it and publish again."),
}


@require_POST
@in_viewer_timezone
def postmortem_move(request: HtmxHttpRequest, pk: int, move: str) -> HttpResponse:
    if move not in MOVES:
        raise Http404("No such action.")
    postmortem = postmortem_or_404(pk)
    form = VersionForm(request.POST)
    if not form.is_valid():
        return answer(
            request, pk, error="The page sent an unreadable version; reload it.", status=400
        )
    service, notice = MOVES[move]
    try:
        service(postmortem=postmortem, actor=viewer(request), version=form.cleaned_data["version"])
    except services.PostmortemError as failure:
        return refused(request, pk, failure)
    return answer(request, pk, notice=notice)


# --------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class Clash:
    label: str
    theirs: Any
    yours: Any
    kind: str


def _editor(
    request: HtmxHttpRequest,
    postmortem: Postmortem,
    form: PostmortemForm,
    timeline: Any,
    *,
    status: int = 200,
    notice: str = "",
    clashes: list[Clash] | None = None,
    previews: dict[str, Any] | None = None,
) -> HttpResponse:
    shown = previews or {}
    context = {
        "postmortem": postmortem,
        "incident": postmortem.incident,
        "form": form,
        "sections": [(form[name], key, shown.get(name)) for name, key in form.section_names],
        "timeline": timeline,
        "notice": notice,
        "clashes": clashes or [],
    }
    if request.htmx:
        return render(request, "postmortems/edit.html#editor", context)
    return render(request, "postmortems/edit.html", context, status=status)


def _fresh_forms(
    postmortem: Postmortem,
    values: dict[str, Any] | None = None,
    *,
    extra_rows: int = 0,
    **form: Any,
) -> tuple[PostmortemForm, Any]:
    """Unbound forms showing `values` (default: as saved), fingerprinted as saved."""
    saved = saved_values(postmortem)
    shown = {**saved, **(values or {})}
    initial = {name: value for name, value in shown.items() if name != "timeline"}
    initial["version"] = form.pop("version", postmortem.version)
    initial["fingerprints"] = form.pop("fingerprints", fingerprints_of(saved))
    formset = TimelineFormSet(initial=timeline_initial(shown["timeline"]), prefix="timeline")
    formset.extra = extra_rows
    return PostmortemForm(initial=initial, postmortem=postmortem), formset


def _submitted(form: PostmortemForm, formset: Any) -> dict[str, Any]:
    data = form.cleaned_data
    values = {name: data[name] for name in ("title", "owner", "due_at", "no_action_items_reason")}
    for name, _key in form.section_names:
        values[name] = data[name]
    values["timeline"] = timeline_lines(formset)
    return values


def _save(
    postmortem: Postmortem, actor: User, version: int, values: dict[str, Any], names: set[str]
) -> Postmortem:
    keys = {section_name(s.key): s.key for s in postmortem.sections.all()}
    return services.postmortem_update(
        postmortem=postmortem,
        actor=actor,
        version=version,
        title=values["title"] if "title" in names else None,
        sections={keys[n]: values[n] for n in names if n in keys},
        timeline=values["timeline"] if "timeline" in names else None,
        no_action_items_reason=values["no_action_items_reason"]
        if "no_action_items_reason" in names
        else None,
        owner=values["owner"] if "owner" in names else None,
        clear_owner="owner" in names and values["owner"] is None,
        due_at=values["due_at"] if "due_at" in names else None,
        clear_due="due_at" in names and values["due_at"] is None,
    )


def _clashes(
    postmortem: Postmortem, mine: dict[str, Any], names: set[str], shown_fp: str
) -> list[Clash]:
    """The touched names someone else changed since the writer's page was made: theirs (as
    saved now) against yours."""
    now_saved = saved_values(postmortem)
    changed_since = touched({n: now_saved[n] for n in names}, shown_fp)
    titles = {section_name(s.key): s.title for s in postmortem.sections.all()}
    clashes = []
    for name in sorted(changed_since, key=list(now_saved).index):
        theirs, yours = (
            comparable({name: now_saved[name]})[name],
            comparable({name: mine[name]})[name],
        )
        if theirs == yours:
            continue
        if name == "owner":
            theirs = now_saved[name].name if now_saved[name] else "Nobody"
            yours = mine[name].name if mine[name] else "Nobody"
        elif name == "due_at" or name == "timeline":
            theirs, yours = now_saved[name], mine[name]
        clashes.append(Clash(titles.get(name) or PLAIN_LABELS[name], theirs, yours, _kind(name)))
    return clashes


@require_http_methods(["GET", "POST"])
@in_viewer_timezone
def postmortem_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The writing form. Save keeps you here with the new version; a stale save shows both
    texts of what clashes and keeps yours in the form, to save again on top."""
    postmortem = postmortem_or_404(pk)
    actor = viewer(request)
    if not rules.postmortem_can_edit(actor, postmortem):
        return answer(
            request,
            pk,
            error="Only the postmortem's owner, the incident's commander and Managers edit it.",
            status=403,
        )
    if postmortem.status == PostmortemStatus.PUBLISHED:
        return answer(
            request, pk, error="This postmortem is published; reopen it to correct it.", status=409
        )
    if request.method == "GET":
        form, formset = _fresh_forms(postmortem)
        return _editor(request, postmortem, form, formset)
    form = PostmortemForm(request.POST, postmortem=postmortem)
    formset = TimelineFormSet(request.POST, prefix="timeline")
    if not (form.is_valid() and formset.is_valid()):
        return _editor(request, postmortem, form, formset, status=400)
    mine = _submitted(form, formset)
    shown_fp = form.cleaned_data["fingerprints"]
    keep = {"version": form.cleaned_data["version"], "fingerprints": shown_fp}
    if "add_row" in request.POST or "preview" in request.POST:
        fresh, rows = _fresh_forms(
            postmortem, mine, extra_rows=1 if "add_row" in request.POST else 0, **keep
        )
        previews = {name: markdown_safe(mine[name]) for name, _ in form.section_names}
        return _editor(
            request,
            postmortem,
            fresh,
            rows,
            previews=previews if "preview" in request.POST else None,
        )
    names = touched(mine, shown_fp)
    try:
        saved = _save(postmortem, actor, form.cleaned_data["version"], mine, names)
    except services.PostmortemConflict as conflict:
        fresh_pm = postmortem_or_404(pk)
        clashes = _clashes(fresh_pm, mine, names, shown_fp)
        if not clashes:  # nobody else touched what you changed: saved on top of theirs
            try:
                saved = _save(fresh_pm, actor, conflict.current_version, mine, names)
            except services.PostmortemConflict:
                clashes = []
            else:
                return _saved(
                    request, saved, "Saved on top of a newer version (nothing of theirs changed)."
                )
        yours = {n: mine[n] for n in names}
        fresh, rows = _fresh_forms(fresh_pm, yours)
        return _editor(
            request,
            fresh_pm,
            fresh,
            rows,
            status=409,
            clashes=clashes
            or [Clash("Version", conflict.current_version, form.cleaned_data["version"], "text")],
        )
    except ValidationError as failure:
        form.add_service_error(failure)
        return _editor(request, postmortem, form, formset, status=400)
    except services.PostmortemError as failure:
        return refused(request, pk, failure)
    return _saved(request, saved, f"Saved (version {saved.version}).")


def _saved(request: HtmxHttpRequest, saved: Postmortem, notice: str) -> HttpResponse:
    if not request.htmx:
        messages.success(request, notice)
        return redirect("postmortems:edit", pk=saved.pk)
    postmortem = postmortem_or_404(saved.pk)
    form, formset = _fresh_forms(postmortem)
    return _editor(request, postmortem, form, formset, notice=notice)


@require_POST
def markdown_preview(request: HtmxHttpRequest) -> HttpResponse:
    """The live preview: Markdown rendered as the page will show it (markup.py)."""
    name = request.POST.get("field", "")
    form = PreviewForm(
        {"text": request.POST.get(name, "") if name else request.POST.get("text", "")}
    )
    if not form.is_valid():
        return render(request, "postmortems/preview.html", {"errors": form.errors["text"]})
    return render(
        request, "postmortems/preview.html", {"html": markdown_safe(form.cleaned_data["text"])}
    )


# --------------------------------------------------------------------------- starting one


@require_POST
def postmortem_start(request: HtmxHttpRequest, incident_pk: int) -> HttpResponse:
    """From the incident page: start its postmortem (anyone signed in) or open the one it has."""
    visible = incidents_visible_to(signed_in_user(request))  # an open security incident: 404
    incident = visible.filter(pk=incident_pk).first()
    if incident is None:
        raise Http404("No such incident.")
    postmortem, created = services.postmortem_start_or_get(
        incident=incident, actor=signed_in_user(request)
    )
    messages.success(
        request,
        f"Postmortem of {incident.number} started: you own it."
        if created
        else f"{incident.number} already has this postmortem.",
    )
    url = reverse("postmortems:detail", args=[postmortem.pk])
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)
