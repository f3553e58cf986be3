"""The default postmortem template: the sections of handbooks 001 and 003 (what went wrong,
the steps that led us there, the retrospective) and handbook 004's weekly review checklist
(root cause, what went well and badly, new metrics, alarm thresholds, playbook entries,
support tools and documentation). Managers edit it in the admin afterwards."""

from django.db import migrations

NAME = "Standard postmortem"

SECTIONS = [
    (
        "summary",
        "Summary",
        "In two or three sentences: what broke, for whom, for how long, and how it was fixed. "
        "Write it for someone in another department reading the company-wide email.",
    ),
    (
        "impact",
        "Impact",
        "How many users were affected, and which ones (one of our biggest customers counts "
        "for more)? What could they not do, and did it cost them or us money? Give numbers "
        "and times: first impact, detection, mitigation, full recovery.",
    ),
    (
        "detection",
        "Detection",
        "How did we find out: an alarm (which one, and was it in PagerDuty and Slack?), a "
        "customer through support, or an engineer by chance? How long after the impact "
        "began? What would have told us sooner?",
    ),
    (
        "response",
        "Response",
        "Who responded, who was paged and when, who acted as incident commander, and how "
        "the severity was decided. Did escalation reach the right people in time? Were the "
        "company status updates sent on schedule?",
    ),
    (
        "recovery",
        "Recovery",
        "What did we do to restore service (playbook step, rollback, beta flag, fix forward)? "
        "What made recovery slower than it needed to be?",
    ),
    (
        "contributing_factors",
        "Root cause and contributing factors",
        "Dig in: what went wrong, and the steps that led us there. Name the root cause and "
        "every factor that contributed (a release, load, maintenance, a missing check). "
        "Blame systems and processes, never people.",
    ),
    (
        "what_went_well",
        "What went well",
        "What worked during detection, response and recovery, that we should keep doing?",
    ),
    (
        "what_went_badly",
        "What didn't go well",
        "What slowed us down or made things worse: tools, alerts, access, communication, "
        "hand-offs, missing documentation?",
    ),
    (
        "where_we_got_lucky",
        "Where we got lucky",
        "What went right by chance and will not next time (the right person happened to be "
        "online, the traffic was low, the bug hit only a test account)?",
    ),
    (
        "new_metrics",
        "New metrics",
        "Which metrics or graphs would have shown this earlier, or helped us understand it? "
        "Discussed or planned, with an action item for each.",
    ),
    (
        "alarm_thresholds",
        "Alarm thresholds",
        "Which alarms should fire sooner (lower threshold) or stop crying wolf (higher "
        "threshold)? Name the alarm and the new value.",
    ),
    (
        "playbook_entries",
        "Playbook entries",
        "Which playbook entries should be added or corrected so first-tier support can "
        "remediate this next time without paging an engineer?",
    ),
    (
        "docs_updated",
        "Support tools and documentation",
        "Which support tools and documentation were updated (link them), or still need to be?",
    ),
]


def create(apps, schema_editor):
    Template = apps.get_model("postmortems", "PostmortemTemplate")
    Section = apps.get_model("postmortems", "PostmortemTemplateSection")
    template, _ = Template.objects.get_or_create(
        name=NAME,
        defaults={
            "description": "The sections the handbooks ask for, and the weekly review's checklist.",
            "is_default": not Template.objects.filter(is_default=True).exists(),
        },
    )
    for position, (key, heading, prompt) in enumerate(SECTIONS):
        Section.objects.update_or_create(
            template=template,
            key=key,
            defaults={"heading": heading, "prompt": prompt, "position": position},
        )


def remove(apps, schema_editor):
    apps.get_model("postmortems", "PostmortemTemplate").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("postmortems", "0001_initial")]

    operations = [migrations.RunPython(create, remove)]
