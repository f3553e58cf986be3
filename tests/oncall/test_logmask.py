"""Integration keys and feed/ack tokens in paths never reach a log line in full: Django's
request logging (404/405 lines, 500 tracebacks), runserver's and gunicorn's access logs."""

import io
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.test import Client

from oncall.logmask import mask_secrets

ROOT = Path(__file__).resolve().parent.parent.parent
KEY = "oncall_integration_AbCdSECRETsecretSECRETsecret0123456789"
MASKED = "oncall_integration_AbCd…"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (f"POST /integrations/alertmanager/{KEY}/ HTTP/1.1", f"/alertmanager/{MASKED}/ HTTP/1.1"),
        ("GET /ical/person/Zz9yFEEDtoken.ics HTTP/1.1", "/ical/person/Zz9y….ics HTTP/1.1"),
        ("Not Found: /notifications/ack/q1w2TOKEN:sig/", "/notifications/ack/q1w2…/"),
        (f"Authorization: Bearer {KEY}", f"Bearer {MASKED}"),
    ],
)
def test_mask_keeps_the_prefix_only(line: str, expected: str) -> None:
    masked = mask_secrets(line)

    assert masked.endswith(expected)
    assert all(word not in masked for word in ("SECRET", "FEED", "TOKEN"))


def test_django_request_logging_masks_the_path_key(
    db: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = Client().get(f"/integrations/alertmanager/{KEY}/")

    assert response.status_code == 405
    assert MASKED in caplog.text
    assert KEY not in caplog.text


def test_a_traceback_is_masked_too(caplog: pytest.LogCaptureFixture) -> None:
    path = f"/integrations/alertmanager/{KEY}/"
    try:
        raise ValueError(f"could not route {path}")
    except ValueError:
        with caplog.at_level(logging.ERROR, logger="django.request"):
            logging.getLogger("django.request").exception("Internal Server Error: %s", path)

    assert "ValueError: could not route /integrations/alertmanager/" + MASKED in caplog.text
    assert KEY not in caplog.text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_gunicorn_access_and_error_logs_mask_the_key(tmp_path: Path) -> None:
    """The real server with the repository's gunicorn.conf.py: a request with the key in the
    path (and as a bearer token) fails with a 500 (no tables in its in-memory database), so
    both the access line and Django's traceback are written."""
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "oncall.settings.test"}
    env.pop("DATABASE_URL", None)
    with log.open("w") as out:
        server = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "oncall.wsgi",
                "-b",
                f"127.0.0.1:{port}",
                "--access-logformat",
                '%(h)s "%(r)s" %(s)s "%(f)s" %({authorization}i)s',
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        for _ in range(100):
            try:
                response = httpx.post(
                    f"http://127.0.0.1:{port}/integrations/alertmanager/{KEY}/",
                    json={"alerts": []},
                    timeout=60,
                    headers={
                        "Authorization": f"Bearer {KEY}",
                        "Referer": f"/ical/person/{KEY}.ics",
                    },
                )
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not start:\n" + log.read_text())
        time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=20)

    text = log.read_text()
    assert response.status_code >= 400
    assert f'"POST /integrations/alertmanager/{MASKED}/ HTTP/1.1"' in text, text
    assert KEY not in text
    assert "SECRET" not in text, text


def test_runserver_request_lines_are_printed_and_masked() -> None:
    """`make run`'s web log shows each request (as before), with the key masked."""
    server = logging.getLogger("django.server")
    # Ours only: pytest hangs its own capture handlers (StreamHandlers too) on loggers.
    streams = [h for h in server.handlers if type(h) is logging.StreamHandler]
    assert streams, "django.server lost its handler: runserver would print no request"
    out = io.StringIO()
    before = streams[0].setStream(out)
    try:
        server.info('"%s" %s %s', f"POST /integrations/alertmanager/{KEY}/ HTTP/1.1", 202, 17)
    finally:
        streams[0].setStream(before)
    assert f"/alertmanager/{MASKED}/ HTTP/1.1" in out.getvalue()
    assert KEY not in out.getvalue()
