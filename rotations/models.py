"""Models of the rotations app."""
