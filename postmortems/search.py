"""The list's full-text search on PostgreSQL: one document per postmortem.

`Postmortem.search` holds the title (weight A) and every section's body (weight B) as one
`tsvector` with a GIN index (migration 0004), so a search reads one index and the matching
postmortems' rows, however many sections match (one index per section table matched tens of
thousands of section rows for a common word). The services refresh it in the transaction
that changes a title or a section; SQLite keeps it empty and searches with a plain match.
"""

from collections.abc import Iterable

from django.db import connection

# The language of full-text search (stemming, stop words); the document and queries use it.
SEARCH_CONFIG = "english"

_REFRESH = """
UPDATE postmortems_postmortem AS p SET search =
    setweight(to_tsvector(%(config)s::regconfig, p.title), 'A')
    || setweight(to_tsvector(%(config)s::regconfig, COALESCE((
        SELECT string_agg(s.body, ' ' ORDER BY s.position)
        FROM postmortems_postmortemsection AS s WHERE s.postmortem_id = p.id
    ), '')), 'B')
"""


def search_document_refresh(postmortem_ids: Iterable[int] | None = None) -> None:
    """Recompute the search document of these postmortems (None: of every one)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        if postmortem_ids is None:
            cursor.execute(_REFRESH, {"config": SEARCH_CONFIG})
        else:
            cursor.execute(
                _REFRESH + " WHERE p.id = ANY(%(ids)s)",
                {"config": SEARCH_CONFIG, "ids": list(postmortem_ids)},
            )
