"""`{% clock at %}`: an instant as a `<time>` in the viewer's timezone, with UTC in its title
and the date left out when it falls on the day of the context's `now`. A tag rather than an
included template: the support dashboard draws hundreds on every refresh."""

from datetime import UTC, datetime

from django import template
from django.templatetags.tz import do_timezone
from django.utils.dateformat import DateFormat
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import template_localtime  # type: ignore[attr-defined]  # not in the stubs

register = template.Library()


@register.simple_tag(takes_context=True)
def clock(context: template.Context, at: datetime | None) -> SafeString:
    if not isinstance(at, datetime):
        return mark_safe('<time datetime="" title=" ( UTC)"></time>')
    local = template_localtime(at)
    utc = do_timezone(at, UTC)
    when = DateFormat(local)
    day_and_time = when.format("D j M, H:i")
    now = context.get("now")
    today = isinstance(now, datetime) and template_localtime(now).date() == local.date()
    return format_html(
        '<time datetime="{}" title="{} {} ({} UTC)">{}</time>',
        f"{utc:%Y-%m-%dT%H:%M:%SZ}",
        day_and_time,
        when.T(),
        f"{utc.hour:02d}:{utc.minute:02d}",
        f"{local.hour:02d}:{local.minute:02d}" if today else day_and_time,
    )
