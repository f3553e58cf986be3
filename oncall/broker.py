"""The embedded broker for `make run`: kombu's filesystem transport with atomic writes.

Kombu's own filesystem transport creates a message file in the folder the worker reads and
then writes into it, and rewrites exchange tables in place (truncating before it locks), so
a reader can meet half a file: the worker died with `JSONDecodeError` after some minutes of
beat publishing. Here every file a reader may open is complete:

- a message is written under `staging/` and renamed into the queue folder (`os.replace` is
  atomic on one filesystem), so a listing shows only whole messages;
- a reader claims a message by renaming it into `claimed/` (exactly one claimant wins; the
  stock transport may move it to another filesystem with copy-then-delete), reads it and
  removes it;
- exchange tables are rewritten whole under a lock file and replaced atomically;
- a file that still does not parse (left by an older version, a full disk) is moved to
  `corrupt/` with an error in the log instead of stopping the worker.
"""

import logging
import os
import uuid
from pathlib import Path
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem as stock
from kombu.transport.virtual import Channel as VirtualChannel
from kombu.transport.virtual import Empty
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)
# The stubs know less of kombu's filesystem module than it has (its locks, its table rows).
filesystem: Any = stock


def folders(root: Path) -> dict[str, str]:
    """The transport options for a broker rooted at `root` (settings and tests share it)."""
    return {
        "data_folder_in": str(root / "out"),
        "data_folder_out": str(root / "out"),
        "staging_folder": str(root / "staging"),
        "claimed_folder": str(root / "claimed"),
        "corrupt_folder": str(root / "corrupt"),
        "control_folder": str(root / "control"),
    }


def write_atomically(path: Path, data: bytes, staging: Path) -> None:
    """Write `data` to `path` so that a reader sees the old file or the new, never a part."""
    staging.mkdir(parents=True, exist_ok=True)
    temporary = staging / f".{uuid.uuid4().hex}.tmp"
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise ChannelError(f"Cannot write {path}") from exc


class Channel(filesystem.Channel):
    @property
    def staging_folder(self) -> Path:
        return Path(self.transport_options.get("staging_folder", "staging"))

    @property
    def claimed_folder(self) -> Path:
        return Path(self.transport_options.get("claimed_folder", "claimed"))

    @property
    def corrupt_folder(self) -> Path:
        return Path(self.transport_options.get("corrupt_folder", "corrupt"))

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        # Zero-padded so that names sort by time (CLOCK_MONOTONIC is shared by every process).
        name = f"{round(monotonic() * 1000):015d}_{uuid.uuid4()}.{queue}.msg"
        write_atomically(
            Path(self.data_folder_out) / name, str_to_bytes(dumps(payload)), self.staging_folder
        )

    def _get(self, queue: str) -> Any:
        wanted = f"{queue}.msg"
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != wanted:
                continue
            claimed = self.claimed_folder / name
            self.claimed_folder.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(Path(self.data_folder_in) / name, claimed)
            except FileNotFoundError:
                continue  # another consumer claimed it first
            try:
                payload = claimed.read_bytes()
            except OSError as exc:
                raise ChannelError(f"Cannot read file {claimed!r} from queue.") from exc
            try:
                message = loads(bytes_to_str(payload))
            except ValueError:
                self.corrupt_folder.mkdir(parents=True, exist_ok=True)
                os.replace(claimed, self.corrupt_folder / name)
                logger.error(
                    "Broker message %s on queue %s does not parse; moved to %s",
                    name,
                    queue,
                    self.corrupt_folder,
                )
                continue
            claimed.unlink(missing_ok=True)
            return message
        raise Empty()

    def _update_table(self, exchange: str, change: Any) -> None:
        """Apply `change` (a list → list function) to an exchange table, atomically."""
        file = self._exchange_file(exchange)
        self.control_folder.mkdir(parents=True, exist_ok=True)
        with open(file.with_suffix(".lock"), "a") as lock_file:
            filesystem.lock(lock_file, filesystem.LOCK_EX)
            try:
                try:
                    table = [filesystem.exchange_queue_t(*row) for row in loads(file.read_text())]
                except FileNotFoundError:
                    table = []
                except ValueError:
                    logger.error("Exchange table %s does not parse; starting it afresh", file)
                    table = []
                new = change(list(table))
                if new != table:
                    write_atomically(file, str_to_bytes(dumps(new)), self.staging_folder)
            finally:
                filesystem.unlock(lock_file)

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        row = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        self._update_table(exchange, lambda table: table if row in table else [row, *table])

    def _delete(
        self, queue: str, exchange: str, routing_key: str, pattern: str, *args: Any, **kwargs: Any
    ) -> None:
        VirtualChannel._delete(self, queue, exchange, routing_key, pattern, *args, **kwargs)
        row = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        self._update_table(exchange, lambda table: [r for r in table if r != row])

    def get_table(self, exchange: str) -> list[Any]:
        file = self._exchange_file(exchange)
        try:
            return [filesystem.exchange_queue_t(*row) for row in loads(file.read_text())]
        except FileNotFoundError:
            return []
        except ValueError:
            logger.error("Exchange table %s does not parse; treating it as empty", file)
            return []
        except OSError as exc:
            raise ChannelError(f"Cannot open {file}") from exc


class Transport(filesystem.Transport):
    """Selected by `CELERY_BROKER_TRANSPORT` when the broker URL is `filesystem://`."""

    Channel = Channel

    @property
    def default_connection_params(self) -> dict[str, Any]:
        # Files have no host: without this kombu warns "No hostname was supplied" on every
        # connection, i.e. on every request of `make run` that queues a task.
        return {"port": self.default_port, "hostname": ""}
