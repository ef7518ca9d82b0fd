"""Opt-in realism for standard queues: the duplicates and reordering AWS may produce.

A standard queue on AWS is stored on many servers, so it delivers every message *at least*
once and in *roughly* the order sent: now and then a message arrives twice, or before one
sent earlier. moto never does either, so a consumer tested on it alone never meets the case it
must handle. Per queue, a learner can turn on both with set probabilities; FIFO queues are
never affected. It is a simulation of what AWS may do, and the notebooks say so.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field


@dataclass
class QueueRealism:
    duplicate: float
    reorder: float
    rng: random.Random = field(repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def draw(self, probability: float) -> bool:
        with self.lock:
            return self.rng.random() < probability


class Realism:
    """The realism settings of every queue that has them, by queue identity."""

    def __init__(self) -> None:
        self._queues: dict[tuple[str, str], QueueRealism] = {}
        self._lock = threading.Lock()

    def configure(
        self, key: tuple[str, str], duplicate: float, reorder: float, seed: int | None
    ) -> None:
        for name, value in (("duplicate", duplicate), ("reorder", reorder)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability between 0 and 1, got {value}")
        with self._lock:
            if duplicate == 0 and reorder == 0:
                self._queues.pop(key, None)
            else:
                self._queues[key] = QueueRealism(duplicate, reorder, random.Random(seed))

    def get(self, key: tuple[str, str] | None) -> QueueRealism | None:
        if key is None:
            return None
        with self._lock:
            return self._queues.get(key)
