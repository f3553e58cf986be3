"""The postmortems app's pages (one module per page family)."""
