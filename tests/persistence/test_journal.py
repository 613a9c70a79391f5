"""What only the SQLite journal does: its file, its lock, its I/O errors (the contract is in test_contract.py)."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest

from rayka._errors import JournalError
from tests.persistence.conftest import Spawn
from rayka.persistence import FORMAT_VERSION, JournalStatistics, SqliteJournal, decode, encode

pytestmark = pytest.mark.timeout(60)



@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "journal.db")


@pytest.fixture
def journal(path: str) -> Iterator[SqliteJournal]:
    with SqliteJournal(path) as journal:
        yield journal


def wait_all(futures: list[Future[int]]) -> list[int]:
    return [future.result(timeout=10) for future in futures]


# ------------------------------------------------------------------ sequences


# ------------------------------------------------------------ refusing to open


def test_a_file_that_is_not_sqlite_is_refused_with_journal_error(path: str) -> None:
    Path(path).write_bytes(b"these are not the pages you are looking for" * 100)

    with pytest.raises(JournalError, match="not an SQLite database") as caught:
        SqliteJournal(path)
    assert path in str(caught.value)


def test_an_sqlite_file_with_damaged_pages_is_refused_with_journal_error(path: str) -> None:
    Path(path).write_bytes(b"SQLite format 3\x00" + os.urandom(8192))

    with pytest.raises(JournalError, match="move it aside") as caught:
        SqliteJournal(path)
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)


def test_an_sqlite_database_of_another_application_is_refused(path: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers(name TEXT)")
    conn.close()

    with pytest.raises(JournalError, match="not a rayka journal.*customers"):
        SqliteJournal(path)


def test_a_journal_of_another_format_version_is_refused(path: str) -> None:
    SqliteJournal(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'version'", (FORMAT_VERSION + 1,))
    conn.close()

    with pytest.raises(JournalError, match=f"version {FORMAT_VERSION + 1}"):
        SqliteJournal(path)


def test_a_journal_held_by_another_process_is_refused_at_once(path: str, spawn: Spawn) -> None:
    script = """if True:
        import sys
        from rayka.persistence import SqliteJournal
        with SqliteJournal(sys.argv[1]) as journal:
            journal.append("a", [b"x"]).result()
            print("ready", flush=True)
            sys.stdin.read()
    """
    holder = spawn(script, path)
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline() == "ready\n"

    started = time.monotonic()
    with pytest.raises(JournalError, match=f"another writer \\(pid {holder.pid}"):
        SqliteJournal(path)
    assert time.monotonic() - started < 1.0

    holder.stdin.close()
    assert holder.wait(timeout=10) == 0
    with SqliteJournal(path) as journal:
        assert journal.read("a") == [(1, b"x")]


def test_a_second_journal_on_the_same_file_in_one_process_is_refused(journal: SqliteJournal) -> None:
    with pytest.raises(JournalError, match="in use"):
        SqliteJournal(journal.path)


# ------------------------------------------------------ snapshots and deletion


# ------------------------------------------------------------- write failures


def test_an_io_error_during_commit_fails_every_future_of_its_group(path: str, spawn: Spawn) -> None:
    script = """if True:
        import json, os, resource, signal, sys
        from rayka.persistence import SqliteJournal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
        path = sys.argv[1]
        journal = SqliteJournal(path, group_window=0.3)
        journal.append("warm", [b"w"]).result()
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        largest = max(os.path.getsize(path + suffix) for suffix in ("", "-wal"))
        resource.setrlimit(resource.RLIMIT_FSIZE, (largest + 1024, hard))
        futures = [journal.append("big", [bytes(20_000)]) for _ in range(40)]
        outcomes = []
        for future in futures:
            error = future.exception(timeout=20)
            outcomes.append(None if error is None else [type(error).__name__, type(error.__cause__).__name__])
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        after = journal.append("after", [b"fine"]).result(timeout=20)
        print(json.dumps({"outcomes": outcomes, "after": after, "failed": journal.statistics().failed}))
        journal.close()
    """
    proc = spawn(script, path)
    out, _ = proc.communicate(timeout=50)
    assert proc.returncode == 0
    report = json.loads(out)

    assert report["outcomes"] == [["JournalError", "OperationalError"]] * 40
    assert report["failed"] == 40
    assert report["after"] == 1
    with SqliteJournal(path) as journal:
        assert journal.highest_seq("big") == 0
        assert journal.read("warm") == [(1, b"w")]
        assert journal.read("after") == [(1, b"fine")]


def test_a_request_that_cannot_be_written_fails_alone_and_spares_its_group(path: str) -> None:
    SqliteJournal(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.persistence_id = 'poison'"
            " BEGIN SELECT RAISE(ABORT, 'poisoned event'); END"
        )
    conn.close()

    with SqliteJournal(path, group_window=0.2) as journal:
        futures = [journal.append(pid, [b"x"]) for pid in ("a", "poison", "b", "a")]
        error = futures[1].exception(timeout=10)
        assert isinstance(error, JournalError)
        assert isinstance(error.__cause__, sqlite3.IntegrityError)
        assert "poisoned event" in str(error)
        assert [futures[i].result(timeout=10) for i in (0, 2, 3)] == [1, 1, 2]
        assert journal.statistics().failed == 1
        assert journal.append("a", [b"y"]).result(timeout=10) == 3
        assert journal.highest_seq("poison") == 0


# ------------------------------------------------------------------ encoding


def test_encode_and_decode_round_trip_builtins_tuples_and_arbitrary_objects() -> None:
    value = {"n": [1, 2.5, None, True, b"raw"], "t": ("add", (1, 2)), 3: JournalStatistics(commits=2)}

    assert decode(encode(value)) == value
    assert type(decode(encode(("a", 1)))) is tuple


# ------------------------------------------------------------- damage while open


def test_a_file_deleted_while_open_fails_that_commit_and_every_later_write(path: str) -> None:
    with SqliteJournal(path) as journal:
        assert journal.append("q", [b"kept"]).result(timeout=10) == 1
        os.remove(path)

        for attempt in range(3):
            with pytest.raises(JournalError, match="deleted or replaced") as failure:
                journal.append("q", [b"lost-%d" % attempt]).result(timeout=10)
            assert path in str(failure.value)


def test_a_file_replaced_while_open_is_noticed_at_the_next_commit(path: str, tmp_path: Path) -> None:
    other = str(tmp_path / "other.db")
    SqliteJournal(other).close()
    with SqliteJournal(path) as journal:
        journal.append("q", [b"x"]).result(timeout=10)
        os.replace(other, path)

        with pytest.raises(JournalError, match="deleted or replaced"):
            journal.append("q", [b"y"]).result(timeout=10)


def test_a_version_1_journal_is_upgraded_and_keeps_its_numbers(path: str) -> None:
    with SqliteJournal(path) as journal:
        journal.append("a", [b"1", b"2", b"3"])
        journal.delete_up_to("b", 0)
        journal.append("b", [b"1", b"2"]).result(timeout=10)
        journal.delete_up_to("b", 2).result(timeout=10)
    with sqlite3.connect(path) as conn:  # what version 1 wrote: no heads table
        conn.execute("DROP TABLE heads")
        conn.execute("UPDATE meta SET value = 1 WHERE key = 'version'")
    conn.close()

    with SqliteJournal(path) as journal:
        assert journal.recover("a").highest_seq == 3
        assert journal.recover("b").highest_seq == 2 and journal.recover("b").events == []
        assert journal.append("b", [b"3"]).result(timeout=10) == 3


def test_a_read_only_directory_is_named_as_such_not_as_damage() -> None:
    import shutil
    import tempfile

    directory = tempfile.mkdtemp(prefix="rayka-ro-")
    if os.geteuid() == 0:
        os.chown(directory, 65534, 65534)  # the child runs as nobody, who must own it to make it read-only
    path = os.path.join(directory, "journal.db")
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        message = "no error"
        try:
            if os.geteuid() == 0:  # root writes to any directory: become nobody
                os.setgid(65534)
                os.setuid(65534)
            SqliteJournal(path).close()
            os.chmod(directory, 0o555)
            try:
                SqliteJournal(path).close()
            except JournalError as error:
                message = str(error)
        except BaseException as error:
            message = f"child failed: {error!r}"
        os.write(write, message.encode())
        os._exit(0)
    os.close(write)
    try:
        with os.fdopen(read, "rb") as pipe:
            message = pipe.read().decode()
        os.waitpid(child, 0)
    finally:
        os.chmod(directory, 0o755)
        shutil.rmtree(directory, ignore_errors=True)
    assert "read-only" in message and "damaged" not in message, message


@pytest.mark.parametrize("depth", [65, 250, 350, 5_000])
def test_a_value_nested_too_deep_is_refused_when_written_never_a_crash_when_read(depth: int) -> None:
    import msgpack

    from rayka._errors import SerializationError
    from rayka._values import MAX_NESTING

    value: object = ()
    for _ in range(depth):
        value = (value,)
    with pytest.raises(SerializationError, match=f"deeper than {MAX_NESTING} levels"):
        encode(value)
    data = msgpack.packb([])  # what an older writer could have stored: read back, it is refused, not a SIGSEGV
    for _ in range(depth):
        data = msgpack.packb(msgpack.ExtType(1, data))
    with pytest.raises(SerializationError, match="deeper than"):
        decode(data)


def test_values_at_the_nesting_limit_round_trip() -> None:
    from rayka._values import MAX_NESTING

    value: object = "core"
    for _ in range(MAX_NESTING):
        value = (value,)
    assert decode(encode(value)) == value


def test_random_byte_flips_never_make_recovery_return_a_silent_prefix(tmp_path: Path) -> None:
    import random

    seed = int(os.environ.get("RAYKA_TRIAL_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    written = 3_000
    for trial in range(12):
        path = str(tmp_path / f"flips-{trial}.db")
        with SqliteJournal(path) as journal:
            for start in range(0, written, 100):
                journal.append("acc", [encode(("add", n)) for n in range(start, start + 100)])
            journal.append("acc", []).result(timeout=10)
        size = os.path.getsize(path)
        with open(path, "r+b") as file:
            for _ in range(rng.randint(1, 20)):
                offset = rng.randrange(100, size)  # past the header, which is checked on its own
                file.seek(offset)
                byte = file.read(1)
                file.seek(offset)
                file.write(bytes([byte[0] ^ (1 << rng.randrange(8))]))
        try:
            with SqliteJournal(path) as journal:
                found = journal.recover("acc")
                events = list(found.replay())
        except JournalError:
            continue  # noticed: fine
        # not noticed: then nothing is missing (a flip inside a payload that still decodes is not detected)
        assert [seq for seq, _ in events] == list(range(1, written + 1)), f"seed {seed}, trial {trial}"
