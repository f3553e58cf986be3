"""Action items: added and moved on from the postmortem page, changed on their own page, and
"My action items" for each person (overdue, open, in progress, recently done)."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents.models import Via
from oncall.http import HtmxHttpRequest, in_viewer_timezone
from postmortems import rules, selectors, services
from postmortems.forms import ActionItemForm, ActionItemStatusForm
from postmortems.models import (
    ACTION_ITEM_TRANSITIONS,
    CLOSED_ACTION_ITEM_STATUSES,
    ActionItem,
    ActionItemStatus,
)
from postmortems.views.pages import answer, postmortem_or_404, refused, viewer

# "Recently done" on My action items: closed within this long.
RECENTLY_DONE = timedelta(days=14)


def _item_or_404(pk: int) -> ActionItem:
    item = ActionItem.objects.select_related("postmortem__incident", "owner").filter(pk=pk).first()
    if item is None:
        raise Http404("No such action item.")
    return item


@require_POST
@in_viewer_timezone
def action_item_add(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    postmortem = postmortem_or_404(pk)
    form = ActionItemForm(request.POST)
    if form.is_valid():
        try:
            item = services.action_item_create(
                postmortem=postmortem, actor=viewer(request), via=Via.DASHBOARD, **form.cleaned_data
            )
        except ValidationError as failure:
            form.add_service_error(failure)
        except services.PostmortemError as failure:
            return refused(request, pk, failure)
        else:
            return answer(request, pk, notice=f"Action item added for {item.owner.name}.")
    return answer(
        request,
        pk,
        error="The action item was not added: see the form.",
        status=400,
        item_form=form,
    )


@require_http_methods(["GET", "POST"])
@in_viewer_timezone
def action_item_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Its own page: the details of one action item (its status has buttons)."""
    item = _item_or_404(pk)
    actor = viewer(request)
    allowed = rules.postmortem_can_edit(actor, item.postmortem)
    status = 200 if allowed else 403
    if request.method == "POST" and allowed:
        form = ActionItemForm(request.POST)
        if form.is_valid():
            try:
                services.action_item_update(item=item, actor=actor, **form.cleaned_data)
            except ValidationError as failure:
                form.add_service_error(failure)
            except services.NotAllowed:
                allowed, status = False, 403
            else:
                messages.success(request, f"Action item saved: {form.cleaned_data['title']}.")
                return redirect("postmortems:detail", pk=item.postmortem_id)
        if allowed:
            status = 400
    else:
        form = ActionItemForm(
            initial={
                "title": item.title,
                "owner": item.owner_id,
                "kind": item.kind,
                "priority": item.priority,
                "due_date": item.due_date,
                "ticket_url": item.ticket_url,
                "description": item.description,
            }
        )
    context = {"item": item, "postmortem": item.postmortem, "form": form, "allowed": allowed}
    if request.htmx:
        return render(request, "postmortems/action_item.html#item-form", context, status=200)
    return render(request, "postmortems/action_item.html", context, status=status)


@require_POST
@in_viewer_timezone
def action_item_status(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A status button: the postmortem page's or My action items' region comes back."""
    item = _item_or_404(pk)
    form = ActionItemStatusForm(request.POST)
    back = "mine" if request.POST.get("back") == "mine" else "postmortem"
    if not form.is_valid():
        return _moved(request, item, back, error="Choose a status the list offers.", status=400)
    to = ActionItemStatus(form.cleaned_data["to"])
    try:
        services.action_item_transition(item=item, to=to, actor=viewer(request))
    except services.NotAllowed as failure:
        return _moved(request, item, back, error=str(failure), status=403)
    except services.PostmortemError as failure:
        return _moved(request, item, back, error=str(failure), status=409)
    return _moved(request, item, back, notice=f"{item.title}: {to.label.lower()}.")


def _moved(
    request: HtmxHttpRequest,
    item: ActionItem,
    back: str,
    *,
    notice: str = "",
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    if back == "postmortem":
        return answer(request, item.postmortem_id, notice=notice, error=error, status=status)
    if request.htmx or error:
        context = my_items_context(request, notice=notice, error=error)
        template = (
            "postmortems/my_items.html#my-items" if request.htmx else "postmortems/my_items.html"
        )
        return render(request, template, context, status=200 if request.htmx else status)
    messages.success(request, notice)
    return redirect("postmortems:my-action-items")


# --------------------------------------------------------------------------- mine


@dataclass(frozen=True)
class MineRow:
    item: ActionItem
    moves: list[tuple[str, str]]
    days_late: int


def my_items_context(
    request: HtmxHttpRequest, *, notice: str = "", error: str = ""
) -> dict[str, Any]:
    user = viewer(request)
    now = timezone.now()
    today = timezone.localdate(now)
    groups: dict[str, list[MineRow]] = {"overdue": [], "open": [], "in_progress": [], "done": []}
    for item in selectors.action_items_of(user.pk):
        row = MineRow(
            item=item,
            moves=[
                (s.value, s.label)
                for s in ActionItemStatus
                if s in ACTION_ITEM_TRANSITIONS[item.status]
            ],
            days_late=(today - item.due_date).days,
        )
        if item.status in CLOSED_ACTION_ITEM_STATUSES:
            if item.completed_at and item.completed_at >= now - RECENTLY_DONE:
                groups["done"].append(row)
        elif item.due_date < today:
            groups["overdue"].append(row)
        else:
            groups[item.status].append(row)
    groups["done"].sort(key=lambda r: r.item.completed_at or now, reverse=True)
    return {
        "groups": [
            ("overdue", "Overdue", groups["overdue"]),
            ("open", "Open", groups["open"]),
            ("in_progress", "In progress", groups["in_progress"]),
            ("done", f"Done in the last {RECENTLY_DONE.days} days", groups["done"]),
        ],
        "notice": notice,
        "error": error,
    }


@require_GET
@in_viewer_timezone
def my_action_items(request: HtmxHttpRequest) -> HttpResponse:
    template = "postmortems/my_items.html#my-items" if request.htmx else "postmortems/my_items.html"
    return render(request, template, my_items_context(request))
