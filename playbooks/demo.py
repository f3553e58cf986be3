"""Demo playbook entries (called by `manage.py seed_demo` through `PlaybooksConfig.demo_seed`,
after the postmortems app): the Core team's entries, one proposed by the payment-webhooks
postmortem. Idempotent: an entry is added only when its team has none of that title."""

from oncall.models import User
from playbooks.models import PlaybookEntry
from playbooks.services import playbook_entry_create
from postmortems.models import Postmortem
from rotations.models import Team

ENTRIES = (
    {
        "team": "core",
        "service": "payments-api",
        "title": "Payments: replaying provider webhooks",
        "applies_when": "Orders stay 'pending payment' although the provider shows them paid; "
        "the webhook queue's dead letters grow.",
        "steps": "1. Check the provider's status page and our webhook endpoint's 5xx rate.\n"
        "2. List the dead-lettered webhooks of the last hour (`payments replay --dry-run`).\n"
        "3. Replay them: `payments replay --since 1h`.\n"
        "4. Confirm the pending orders move to *paid*; if not, escalate.",
        "postmortem_of": "demo:payment-webhooks",
    },
    {
        "team": "core",
        "service": "auth",
        "title": "Logins rejected after a certificate rotation",
        "applies_when": "Customers are logged out or see 'invalid session' right after login.",
        "steps": "1. Compare the certificate chain each auth node serves.\n"
        "2. Drain the node that serves the old chain.\n"
        "3. Ask a customer to log in again and confirm.",
        "postmortem_of": "",
    },
    {
        "team": "core",
        "service": "",
        "title": "Checkout slow or failing: first checks",
        "applies_when": "Customers report checkout errors or timeouts; no alert has fired yet.",
        "steps": "- Reproduce it with a test account and note the error.\n"
        "- Check the last deploy on the release channel; ask about a rollback.\n"
        "- Look at the checkout dashboard's error rate for the last hour.",
        "postmortem_of": "",
    },
)


def seed(*, users: dict[str, User]) -> None:
    author = users.get("raja") or users.get("dinesh")
    if author is None:
        return
    teams = {t.slug: t for t in Team.objects.filter(slug__in={e["team"] for e in ENTRIES})}
    for spec in ENTRIES:
        team = teams.get(spec["team"])
        if team is None or PlaybookEntry.objects.filter(team=team, title=spec["title"]).exists():
            continue
        postmortem = (
            Postmortem.objects.filter(incident__dedup_key=spec["postmortem_of"]).first()
            if spec["postmortem_of"]
            else None
        )
        playbook_entry_create(
            actor=author,
            team=team,
            service=spec["service"],
            title=spec["title"],
            applies_when=spec["applies_when"],
            steps=spec["steps"],
            postmortem=postmortem,
        )
