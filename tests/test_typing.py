"""A user's type checker sees typed refs: ``Actor[M, R]`` makes ``spawn`` return ``ActorRef[M, R]``, ``ask`` ``Reply[R]``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

USER_CODE = '''
import rayka


class Counter(rayka.Actor[int, int]):
    def receive(self, message: int) -> int:
        return message


class Echo(rayka.Actor[str]):
    def receive(self, message: str) -> str:
        return message


class Parent(rayka.Actor):
    def receive(self, message: object) -> object:
        child = self.context.spawn(Counter)
        child.tell("not an int")  # line 18: refused
        return child


with rayka.ActorSystem("typed") as system:
    counter = system.spawn(Counter)
    counter.tell(5)
    counter.tell("five")  # line 25: refused
    reveal_type(counter)
    reveal_type(counter.ask(1))
    total: int = counter.ask(1).result()
    name: str = counter.ask(1).result()  # line 29: refused
    reveal_type(system.spawn(Echo).ask("hi"))
    anything = system.spawn(Parent)
    anything.tell("a plain Actor takes anything")


class Account(rayka.Actor):
    def deposit(self, amount: int) -> int:
        return amount

    async def later(self, amount: int) -> str:
        return str(amount)


with rayka.ActorSystem("calls") as system:
    account = system.spawn(Account)
    reveal_type(account.call(Account.deposit, 1))
    reveal_type(account.call(Account.later, 1))
    account.call(Account.deposit, "one")  # line 47: refused
    account.cast(Account.deposit)  # line 48: refused (missing argument)
    reveal_type(account.proxy().deposit(1))
'''


@pytest.mark.timeout(300)
def test_a_users_mypy_sees_message_and_answer_types_through_spawn_context_spawn_and_ask(tmp_path: Path) -> None:
    (tmp_path / "user.py").write_text(USER_CODE)
    (tmp_path / "mypy.ini").write_text(
        "[mypy]\nfollow_imports = silent\n"
        "[mypy-cloudpickle.*,msgpack.*,psutil.*,pykka.*,ray.*,psycopg.*]\nignore_missing_imports = True\n")
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "--cache-dir", str(tmp_path / "cache"), "user.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=280, env={**os.environ, "MYPYPATH": str(REPO)})
    out = done.stdout
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert [line.split(":")[1] for line in errors] == ["18", "25", "29", "47", "48"], out
    assert all('"tell" of "ActorRef" has incompatible type "str"; expected "int"' in line for line in errors[:2]), out
    assert 'Incompatible types in assignment (expression has type "int", variable has type "str")' in errors[2], out
    assert 'Revealed type is "rayka.actors._ref.ActorRef[int, int]"' in out
    assert 'Revealed type is "rayka.actors._reply.Reply[int]"' in out
    assert 'Revealed type is "rayka.actors._reply.Reply[Any]"' in out  # Actor[str]: answers not declared
    assert 'Revealed type is "rayka.actors._reply.Reply[str]"' in out  # an async method's result
    assert 'No overload variant of "call" of "ActorRef" matches argument types' in errors[3], out
    assert 'Missing positional argument "amount" in call to "cast" of "ActorRef"' in errors[4], out
    assert out.count('Revealed type is "rayka.actors._reply.Reply[int]"') == 2, out  # call(deposit) too
    assert 'user.py:49: note: Revealed type is "rayka.actors._reply.Reply[Any]"' in out  # a proxy is untyped
