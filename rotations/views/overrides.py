"""Overrides from the rotation page: the cover and swap forms (htmx or plain), and removal.

Engineers change their own shifts, managers anyone's; the services decide each case.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from oncall.http import HtmxHttpRequest, in_viewer_timezone, signed_in_user
from oncall.models import User
from rotations import services
from rotations.forms import SWAP, OverrideForm
from rotations.models import Override, OverrideRequest, Rotation
from rotations.views.rotation import overrides_context, rotation_or_404, rotation_page_context


def save_override(form: OverrideForm, rotation: Rotation, actor: User) -> str:
    """Make the change the form asks for, or send the request it needs; the notice to show."""
    data = form.cleaned_data
    made = services.override_make_or_ask(
        actor=actor,
        rotation=rotation,
        kind=data["kind"],
        user=data["user"],
        replaces=data["replaces"],
        start=data["start"],
        end=data["end"],
        swap_start=data.get("swap_start"),
        swap_end=data.get("swap_end"),
        reason=data["reason"],
        confirm_double_booking=data["confirm_double_booking"],
    )
    if isinstance(made, OverrideRequest):
        what = "swap" if made.is_swap else "cover"
        return (
            f"Request sent: {made.recipient} is asked by email to accept your {what}; "
            "nothing changes until they do."
        )
    if data["kind"] == SWAP:
        return f"Swap saved: {data['user']} and {data['replaces']} trade shifts."
    return f"Override saved: {data['user']} covers {rotation.label}."


@require_POST
@in_viewer_timezone
def override_create(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Cover or swap shifts; engineers change their own, managers anyone's."""
    rotation = rotation_or_404(pk)
    actor = signed_in_user(request)
    form = OverrideForm(request.POST, rotation=rotation, tz=actor.tzinfo)
    status = 200
    if form.is_valid():
        try:
            notice = save_override(form, rotation, actor)
        except PermissionDenied as error:
            form.add_error(None, str(error) or "You may not change these shifts.")
            status = 403
        except ValidationError as error:
            form.add_service_error(error)
            status = 400
        else:
            if request.htmx:
                return render(
                    request,
                    "rotations/rotation.html#overrides",
                    overrides_context(request, rotation, notice=notice),
                )
            messages.success(request, notice)
            return redirect("rotations:rotation", pk=rotation.pk)
    else:
        status = 400
    if request.htmx:
        # htmx swaps only 2xx answers by default; the errors are in the form.
        return render(
            request,
            "rotations/rotation.html#overrides",
            overrides_context(request, rotation, form),
        )
    return render(
        request,
        "rotations/rotation.html",
        rotation_page_context(request, rotation, form),
        status=status,
    )


@require_POST
@in_viewer_timezone
def override_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    override = get_object_or_404(
        Override.objects.select_related("rotation__team", "user", "replaces"), pk=pk
    )
    rotation = rotation_or_404(override.rotation_id)
    try:
        services.override_delete(override=override, actor=signed_in_user(request))
    except PermissionDenied as error:
        if request.htmx:
            context = overrides_context(request, rotation)
            context["error"] = str(error)
            return render(request, "rotations/rotation.html#overrides", context)
        form = OverrideForm(rotation=rotation, tz=signed_in_user(request).tzinfo)
        context = rotation_page_context(request, rotation, form)
        context["error"] = str(error)
        return render(request, "rotations/rotation.html", context, status=403)
    notice = f"Override removed: {override.user} no longer covers {rotation.label}."
    if request.htmx:
        return render(
            request,
            "rotations/rotation.html#overrides",
            overrides_context(request, rotation, notice=notice),
        )
    messages.success(request, notice)
    return redirect("rotations:rotation", pk=rotation.pk)
