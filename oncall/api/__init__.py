"""The core API: keys, users, me; shared error handling and fields."""
