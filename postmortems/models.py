"""Models of the postmortems app."""
