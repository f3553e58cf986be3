"""`make run`'s settings (oncall.settings.local): DEBUG off unless DEBUG=1, and the pages still
get their CSS, htmx and favicon (WhiteNoise, hashed names) at 127.0.0.1 and localhost.

Each check runs Django in a fresh interpreter with those settings, as `make run` does."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SETTINGS = """
import json, django
django.setup()
from django.conf import settings
print(json.dumps({"debug": settings.DEBUG, "hosts": settings.ALLOWED_HOSTS}))
"""

# Collect (as `make run` does before it starts), then ask for the login page and each static
# file it links, on both host names, through the whole middleware stack.
SERVE = """
import json, re, django
django.setup()
from django.core.management import call_command
from django.test import Client
call_command("collectstatic", interactive=False, verbosity=0)
out = {}
for host in ("127.0.0.1:8000", "localhost:8000"):
    client = Client(HTTP_HOST=host)
    page = client.get("/accounts/login/")
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.content.decode())
    out[host] = {
        "page": page.status_code,
        "assets": {a: [client.get(a).status_code, client.get(a).get("Content-Type")] for a in assets},
    }
    missing = client.get("/no/such/page/")
    out[host]["missing"] = [missing.status_code, "URLconf" in missing.content.decode()]
print(json.dumps(out))
"""


def run_local(code: str, tmp_path: Path, **env: str) -> dict:
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DEBUG", "DATABASE_URL", "REDIS_URL") and not k.startswith("DJANGO_")
    }
    environ |= {"DJANGO_SETTINGS_MODULE": "oncall.settings.local", "VAR_DIR": str(tmp_path)}
    environ |= env
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("env", "debug"), [({}, False), ({"DEBUG": "1"}, True)])
def test_debug_is_off_unless_asked_for(tmp_path: Path, env: dict[str, str], debug: bool) -> None:
    found = run_local(SETTINGS, tmp_path, **env)
    assert found["debug"] is debug
    assert {"127.0.0.1", "localhost"} <= set(found["hosts"])


def test_with_debug_off_pages_get_their_css_htmx_and_favicon(tmp_path: Path) -> None:
    found = run_local(SERVE, tmp_path)
    for host, result in found.items():
        assert result["page"] == 200, host
        assets = result["assets"]
        kinds = {path.split("/")[2].split(".")[0]: answer for path, answer in assets.items()}
        assert set(kinds) == {"favicon", "css", "js", "vendor"}, assets
        for path, (status, content_type) in assets.items():
            assert status == 200, path
            assert content_type.split(";")[0] in {"text/css", "text/javascript", "image/svg+xml"}
        # Hashed names: a browser may cache them for good.
        assert all(len(path.rsplit(".", 2)[1]) == 12 for path in assets), assets
        assert result["missing"] == [404, False]  # no URL patterns listed
