"""The insights' one task: classify the interruptions the outbox wrote since the last run
(`insights.classify`), so that readers rarely have any left to classify."""

from celery import shared_task

from insights.classify import classify_pending


@shared_task(
    name="insights.classify_interruptions", ignore_result=True, time_limit=120, soft_time_limit=100
)
def classify_interruptions(**kwargs: object) -> int:
    return classify_pending()
