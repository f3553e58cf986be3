"""1,000 webhook notifications through a real worker to a local HTTP peer.

Prints messages per second and p50/p99 from enqueue to sent. Needs PostgreSQL and Redis:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/oncall_h6 \\
    REDIS_URL=redis://127.0.0.1:6379/12 .venv/bin/python bench/notify.py [count] [concurrency]

It creates (and drops) a throwaway test database next to DATABASE_URL's.
"""

import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "oncall.settings.test"
os.environ.setdefault("NOTIFY_CONSOLE", "0")


class Peer(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


def main(count: int = 1000, concurrency: int = 8) -> None:
    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url or not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("set DATABASE_URL (PostgreSQL) and REDIS_URL")
    os.environ["TEST_CELERY_BROKER_URL"] = redis_url

    import django

    django.setup()
    import redis
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    from notifications.models import Notification, Status
    from notifications.services import notification_enqueue

    redis.Redis.from_url(redis_url).flushdb()
    old = setup_databases(verbosity=0, interactive=False)
    peer = ThreadingHTTPServer(("127.0.0.1", 0), Peer)
    threading.Thread(target=peer.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{peer.server_port}/hook"
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "NOTIFY_WEBHOOK_SECRET": "bench",
    }
    log = open(ROOT / "var" / "bench-notify-worker.log", "w")  # noqa: SIM115
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "oncall", "worker", "-Q", "notify-webhook",
         "--pool", "threads", "--concurrency", str(concurrency), "--loglevel", "WARNING",
         "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        time.sleep(4)  # the worker connects and waits
        started = time.monotonic()
        for i in range(count):
            notification_enqueue(
                idempotency_key=f"bench:{i}",
                channel="webhook",
                address=url,
                subject=f"Page {i}",
                body="bench",
            )
        enqueued = time.monotonic() - started
        deadline = time.monotonic() + 300
        while Notification.objects.exclude(status__in=[Status.SENT, Status.FAILED]).exists():
            if time.monotonic() > deadline:
                sys.exit("timed out waiting for deliveries")
            time.sleep(0.2)
        rows = list(Notification.objects.values_list("created_at", "sent_at", "status"))
        sent = [(c, s) for c, s, status in rows if status == Status.SENT and s]
        latencies = sorted((s - c).total_seconds() * 1000 for c, s in sent)
        span = (max(s for _, s in sent) - min(c for c, _ in sent)).total_seconds()
        print(f"notifications: {count} (sent {len(sent)}, failed {len(rows) - len(sent)})")
        print(f"worker: 1 process, threads pool, concurrency {concurrency}")
        print(f"enqueue: {count / enqueued:.0f}/s ({enqueued:.2f}s for all)")
        print(f"throughput, first enqueue to last sent: {len(sent) / span:.0f} messages/s")
        print(f"enqueue → sent: p50 {statistics.median(latencies):.0f} ms, "
              f"p99 {latencies[int(len(latencies) * 0.99) - 1]:.0f} ms, "
              f"max {latencies[-1]:.0f} ms")  # fmt: skip
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        peer.shutdown()
        connection.close()
        teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
