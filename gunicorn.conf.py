"""Gunicorn settings read from the working directory (the image's WORKDIR, `.ci/run`'s):
an access log with integration keys and feed/ack tokens masked (oncall/logmask.py)."""

logger_class = "oncall.logmask.GunicornLogger"
accesslog = "-"
