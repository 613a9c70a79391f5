"""Topic names and patterns with AMQP topic-exchange semantics (RabbitMQ tutorial 5).

A topic is dot-separated words (``"quick.orange.rabbit"``). A subscription
pattern may use ``*`` for exactly one word and ``#`` for zero or more words
(as whole words): ``"*.orange.*"``, ``"lazy.#"``, ``"#"``.

Example:
    >>> matches("*.orange.*", "quick.orange.rabbit"), matches("lazy.#", "lazy"), matches("*.orange.*", "orange")
    (True, True, False)
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["is_pattern", "matches"]


def is_pattern(topic: str) -> bool:
    """Whether ``topic`` has a ``*`` or ``#`` word (so it matches other topics, not only itself)."""
    return ("*" in topic or "#" in topic) and any(word in ("*", "#") for word in topic.split("."))


@lru_cache(maxsize=8192)
def matches(pattern: str, topic: str) -> bool:
    """Whether ``topic`` is routed to a subscription on ``pattern``."""
    want, words = pattern.split("."), topic.split(".")
    # reach[j]: the first i pattern words can match the first j topic words
    reach = [True] + [False] * len(words)
    for part in want:
        if part == "#":
            for j in range(1, len(words) + 1):  # zero or more words: carry every reached place forward
                reach[j] = reach[j] or reach[j - 1]
        else:
            for j in range(len(words), 0, -1):
                reach[j] = reach[j - 1] and (part == "*" or part == words[j - 1])
            reach[0] = False
    return reach[len(words)]
