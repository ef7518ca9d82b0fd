"""FIFO deduplication over AWS's full 5-minute window.

moto compares a new message only with the messages still in the queue, so once the first copy
is deleted a duplicate gets through. AWS remembers every deduplication id for 5 minutes from
the first send, whatever happened to the message: a duplicate send succeeds, returns the first
copy's ids, and delivers nothing.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from typing import Any

WINDOW_SECONDS = 300


@dataclass(frozen=True)
class FirstCopy:
    sent: float
    response: dict[str, Any]
    """The SendMessage answer of the first copy (MessageId, MD5OfMessageBody, SequenceNumber)."""


def deduplication_id(message: dict[str, Any], content_based: bool) -> str | None:
    """The id SQS deduplicates on: the explicit one, else the body's SHA-256 if enabled."""
    explicit = message.get("MessageDeduplicationId")
    if explicit:
        return explicit
    if content_based:
        return hashlib.sha256(str(message.get("MessageBody", "")).encode()).hexdigest()
    return None


class DeduplicationWindow:
    """Every deduplication id seen in the last 5 minutes, per queue (and group, if scoped)."""

    def __init__(self) -> None:
        self._seen: dict[tuple, FirstCopy] = {}
        self._lock = threading.Lock()

    def first_copy(self, key: tuple) -> FirstCopy | None:
        now = time.monotonic()
        with self._lock:
            self._seen = {k: v for k, v in self._seen.items() if now - v.sent < WINDOW_SECONDS}
            return self._seen.get(key)

    def forget_queue(self, identity: tuple | None) -> None:
        """The queue was deleted: a new queue of the same name starts with an empty window."""
        with self._lock:
            self._seen = {k: v for k, v in self._seen.items() if k[0] != identity}

    def remember(self, key: tuple, response: dict[str, Any]) -> None:
        with self._lock:
            self._seen.setdefault(key, FirstCopy(time.monotonic(), response))
