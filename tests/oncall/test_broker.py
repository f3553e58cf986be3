"""The embedded broker (oncall/broker.py): a reader never meets half a message."""

import json
import multiprocessing
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection
from kombu.transport.virtual import Empty

from oncall.broker import folders

TRANSPORT = "oncall.broker:Transport"
BIG = "x" * 1_000_000  # a large body widens the window in which a write is half done


def connect(root: Path) -> Any:
    return Connection("filesystem://", transport=TRANSPORT, transport_options=folders(root))


def publish(root: str, writer: int, count: int) -> None:
    with connect(Path(root)) as connection:
        for number in range(count):
            connection.default_channel._put("q", {"writer": writer, "n": number, "pad": BIG})


def bind(root: str, queue: str) -> None:
    with connect(Path(root)) as connection:
        for _ in range(20):
            connection.default_channel._queue_bind("fan", "", "", queue)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for folder in folders(tmp_path).values():
        Path(folder).mkdir(parents=True, exist_ok=True)
    return tmp_path


def test_a_reader_racing_three_writers_gets_every_message_whole(root: Path) -> None:
    # The stock kombu transport fails this with JSONDecodeError: the reader moves a message
    # file away while its writer is still writing it (the worker's crash under `make run`).
    writers = [
        multiprocessing.get_context("spawn").Process(target=publish, args=(str(root), w, 30))
        for w in range(3)
    ]
    for process in writers:
        process.start()
    received: list[tuple[int, int]] = []
    with connect(root) as connection:
        channel = connection.default_channel
        while len(received) < 90 and (any(p.is_alive() for p in writers) or channel._size("q")):
            try:
                message = channel._get("q")
            except Empty:
                continue
            assert message["pad"] == BIG
            received.append((message["writer"], message["n"]))
    for process in writers:
        process.join()
    assert sorted(received) == [(w, n) for w in range(3) for n in range(30)]
    for writer in range(3):  # one writer's messages arrive in the order it sent them
        assert [n for w, n in received if w == writer] == list(range(30))


def test_a_file_that_does_not_parse_is_set_aside_and_the_next_message_read(root: Path) -> None:
    out = Path(folders(root)["data_folder_out"])
    (out / "000000000000001_broken.q.msg").write_text('{"half": ')
    with connect(root) as connection:
        channel = connection.default_channel
        channel._put("q", {"n": 1})
        assert channel._get("q") == {"n": 1}
        with pytest.raises(Empty):
            channel._get("q")
    assert [p.name for p in Path(folders(root)["corrupt_folder"]).iterdir()] == [
        "000000000000001_broken.q.msg"
    ]


def test_concurrent_binds_keep_every_queue_in_the_exchange_table(root: Path) -> None:
    binders = [
        multiprocessing.get_context("spawn").Process(target=bind, args=(str(root), f"q{n}"))
        for n in range(4)
    ]
    for process in binders:
        process.start()
    for process in binders:
        process.join()
    table = json.loads((Path(folders(root)["control_folder"]) / "fan.exchange").read_text())
    assert sorted(row[2] for row in table) == ["q0", "q1", "q2", "q3"]
    with connect(root) as connection:
        connection.default_channel._delete("q1", "fan", "", "")
        assert sorted(q.queue for q in connection.default_channel.get_table("fan")) == [
            "q0",
            "q2",
            "q3",
        ]


def test_nothing_half_written_is_left_in_the_queue_folder(root: Path) -> None:
    with connect(root) as connection:
        for number in range(5):
            connection.default_channel._put("q", {"n": number})
    names = sorted(p.name for p in Path(folders(root)["data_folder_out"]).iterdir())
    assert len(names) == 5
    assert all(name.endswith(".q.msg") for name in names)
    assert list(Path(folders(root)["staging_folder"]).iterdir()) == []


def test_connecting_logs_no_hostname_warning(root: Path, caplog: pytest.LogCaptureFixture) -> None:
    with connect(root) as connection:
        connection.default_channel._put("q", {"n": 1})
        connection.info()
    assert "No hostname" not in caplog.text
