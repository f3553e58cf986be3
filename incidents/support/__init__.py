"""The support desk of handbook 004: support incidents, customer contacts, the dashboard.

An incident is the support desk's when its team is a support team (an alert routed to
support, a report declared by support) or it is a customer report: it starts on the first
rung of the ladder, the on-duty first tier is paged (the team's default policy, else its
first-tier rotation) and, when configured, the support Slack channel hears of it.
"""

from django.conf import settings

from incidents.engine import page_content
from incidents.models import Category, Incident, Rung
from notifications.models import Channel, Urgency
from notifications.services import notification_enqueue
from rotations.models import Team, TeamKind

# The outbox subject of the support channel's post (not the incident's paging, so an
# acknowledgement never cancels the announcement).
SUPPORT_CHANNEL = "incident.support_channel"


def is_support_team(team: Team | None) -> bool:
    return team is not None and team.kind == TeamKind.SUPPORT


def initial_rung(incident: Incident) -> str:
    """Where a new incident starts on the support ladder: first tier for the desk's own."""
    if is_support_team(incident.team) or incident.category == Category.CUSTOMER:
        return Rung.FIRST_TIER
    return incident.rung or Rung.NONE


def support_channel_announce(*, incident: Incident) -> None:
    """Post a new support incident to the support Slack channel, once: an outbox row in the
    caller's transaction, delivered after commit (its key is the incident's, so a second
    call writes nothing)."""
    url = settings.SUPPORT_SLACK_WEBHOOK_URL
    if not url or incident.rung != Rung.FIRST_TIER:
        return
    content = page_content(incident)
    who = incident.team.name if incident.team else "support"
    notification_enqueue(
        idempotency_key=f"inc{incident.pk}:support-channel",
        channel=Channel.SLACK,
        address=url,
        subject=content["subject"],
        body=f"{content['body']}\n\nThe first tier on duty for {who} is paged. "
        f"{content['data']['url']}".strip(),
        reason="a new support incident (handbook 004: #support hears of every issue)",
        urgency=Urgency.LOW,
        subject_type=SUPPORT_CHANNEL,
        subject_id=incident.pk,
        data=content["data"],
    )
