"""The incidents API."""
