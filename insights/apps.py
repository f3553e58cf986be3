from django.apps import AppConfig


class InsightsConfig(AppConfig):
    """MTTA, MTTR, pager load and noise (issue 17): reads, and writes only the interruptions'
    kinds (`insights.classify`). Above `reports`, `incidents`,
    `integrations` and `notifications`; `postmortems` imports its figures (the review)."""

    name = "insights"
    verbose_name = "Insights"

    def ready(self) -> None:
        from insights import figures  # noqa: F401 (registers SQLite's percentile aggregates)
