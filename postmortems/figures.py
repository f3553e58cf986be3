"""The weekly review's response figures: one implementation, in `insights.figures` (the
insights page reads the same), re-exported here for the review."""

from insights.figures import (
    SPANS,
    Median,
    ResponseFigures,
    incident_response_figures,
    response_figures_of,
    response_figures_split,
)

__all__ = [
    "SPANS",
    "Median",
    "ResponseFigures",
    "incident_response_figures",
    "response_figures_of",
    "response_figures_split",
]
