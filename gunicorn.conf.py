"""Gunicorn settings read from the working directory (the image's WORKDIR, `.ci/run`'s):
an access log with integration keys and feed/ack tokens masked (oncall/logmask.py)."""

logger_class = "oncall.logmask.GunicornLogger"
accesslog = "-"


def on_starting(server: object) -> None:
    """Create PROMETHEUS_MULTIPROC_DIR when set (a missing folder is made, never fatal)."""
    from oncall.metrics import multiprocess_dir

    multiprocess_dir()


def child_exit(server: object, worker: object) -> None:
    """A gunicorn worker died: drop its live gauges from the shared metrics folder."""
    from oncall.metrics import process_exited

    process_exited(getattr(worker, "pid", 0))
