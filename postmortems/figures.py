"""The weekly review's response figures: one implementation, in `insights.figures` (the
insights page reads the same), re-exported here for the review."""

from insights.figures import (
    Median,
    ResponseFigures,
    incident_response_figures,
    incident_response_figures_by,
)

__all__ = [
    "Median",
    "ResponseFigures",
    "incident_response_figures",
    "incident_response_figures_by",
]
