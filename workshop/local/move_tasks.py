"""SQS message move tasks (dead-letter queue redrive), which moto does not implement.

``StartMessageMoveTask`` moves the messages that are in a dead-letter queue when it starts back
to their source queue (or to ``DestinationArn``), at most ``MaxNumberOfMessagesPerSecond`` a
second, in the background. AWS's rules, as its API reference states them: the source must be
the dead-letter queue of another queue; one active task per source; ``ListMessageMoveTasks``
shows up to 10 most recent tasks, newest first; only a running task can be cancelled.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from workshop.local.aws_errors import SqsError, invalid_parameter, invalid_value

MAX_RATE = 500
FASTEST_LOCAL_RATE = MAX_RATE  # AWS picks a "system-optimised" rate when none is given
MAX_LISTED = 10


class Mover(Protocol):
    def sources_of(self, dlq_arn: str) -> list[str]: ...
    def visible_count(self, arn: str) -> int: ...
    def move_one(self, source_arn: str, destination_arn: str) -> bool: ...
    def exists(self, arn: str) -> bool: ...


@dataclass
class MoveTask:
    handle: str
    source_arn: str
    destination_arn: str | None
    rate: int | None
    to_move: int
    started_ms: int
    status: str = "RUNNING"
    moved: int = 0
    failure: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    thread: threading.Thread | None = field(default=None, repr=False)

    def describe(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "Status": self.status,
            "SourceArn": self.source_arn,
            "ApproximateNumberOfMessagesMoved": self.moved,
            "ApproximateNumberOfMessagesToMove": self.to_move,
            "StartedTimestamp": self.started_ms,
        }
        if self.status == "RUNNING":  # AWS gives the handle only while it can be cancelled
            result["TaskHandle"] = self.handle
        if self.destination_arn:
            result["DestinationArn"] = self.destination_arn
        if self.rate is not None:
            result["MaxNumberOfMessagesPerSecond"] = self.rate
        if self.failure:
            result["FailureReason"] = self.failure
        return result


class MessageMoveTasks:
    """The tasks of one local cloud, each moving messages from its own thread."""

    def __init__(self) -> None:
        self._tasks: list[MoveTask] = []
        self._lock = threading.Lock()

    def start(self, params: dict[str, Any], mover: Mover) -> dict[str, Any]:
        source = str(params.get("SourceArn") or "")
        destination = params.get("DestinationArn") or None
        rate = params.get("MaxNumberOfMessagesPerSecond")
        if rate is not None and not (isinstance(rate, int) and 1 <= rate <= MAX_RATE):
            raise invalid_value(
                rate, "MaxNumberOfMessagesPerSecond", f"Must be between 1 and {MAX_RATE}."
            )
        if not mover.exists(source):
            raise SqsError(
                "ResourceNotFoundException",
                "The resource that you specified for the SourceArn parameter doesn't exist.",
            )
        sources = mover.sources_of(source)
        if not sources:
            raise invalid_parameter("Source queue must be configured as a Dead Letter Queue.")
        if destination and not mover.exists(destination):
            raise SqsError(
                "ResourceNotFoundException",
                "The resource that you specified for the DestinationArn parameter doesn't exist.",
            )
        if not destination and len(sources) > 1:
            # AWS remembers each message's source queue; the local backend does not.
            raise invalid_parameter(
                "The local backend can redrive to the original source only when one queue uses "
                "this dead-letter queue; pass DestinationArn."
            )
        with self._lock:
            if any(t.source_arn == source and t.status == "RUNNING" for t in self._tasks):
                raise invalid_parameter(
                    "There is already a task running. Only one active task is allowed for a "
                    "source queue arn at a given time."
                )
            task = MoveTask(
                handle=_handle(source),
                source_arn=source,
                destination_arn=destination,
                rate=rate,
                to_move=mover.visible_count(source),
                started_ms=int(time.time() * 1000),
            )
            self._tasks.append(task)
        target = destination or sources[0]
        task.thread = threading.Thread(
            target=self._run, args=(task, target, mover), name="sqs-message-move", daemon=True
        )
        task.thread.start()
        return {"TaskHandle": task.handle}

    def _run(self, task: MoveTask, target: str, mover: Mover) -> None:
        interval = 1.0 / (task.rate or FASTEST_LOCAL_RATE)
        next_move = time.monotonic()
        try:
            while task.moved < task.to_move and not task.cancel.is_set():
                delay = next_move - time.monotonic()
                if delay > 0 and task.cancel.wait(delay):
                    break
                if not mover.move_one(task.source_arn, target):
                    break  # the queue ran dry (messages received or deleted meanwhile)
                task.moved += 1
                next_move += interval
        except SqsError as error:
            task.status, task.failure = "FAILED", error.message
            return
        except Exception as error:  # a task must end, or no other could start on its queue
            task.status, task.failure = "FAILED", f"{type(error).__name__}: {error}"
            return
        task.status = "CANCELLED" if task.cancel.is_set() else "COMPLETED"

    def list(self, params: dict[str, Any], mover: Mover) -> dict[str, Any]:
        source = str(params.get("SourceArn") or "")
        if not mover.exists(source):
            raise SqsError(
                "ResourceNotFoundException",
                "The resource that you specified for the SourceArn parameter doesn't exist.",
            )
        limit = params.get("MaxResults", 1)
        if not (isinstance(limit, int) and 1 <= limit <= MAX_LISTED):
            raise invalid_value(limit, "MaxResults", f"Must be between 1 and {MAX_LISTED}.")
        with self._lock:
            mine = [t for t in reversed(self._tasks) if t.source_arn == source]
        return {"Results": [task.describe() for task in mine[:limit]]}

    def cancel(self, params: dict[str, Any]) -> dict[str, Any]:
        handle = str(params.get("TaskHandle") or "")
        with self._lock:
            task = next((t for t in self._tasks if t.handle == handle), None)
        if task is None or task.status != "RUNNING":
            raise SqsError(
                "ResourceNotFoundException", "The specified task does not exist or is not running."
            )
        task.status = "CANCELLING"  # the mover stops at its next step and says CANCELLED
        task.cancel.set()
        return {"ApproximateNumberOfMessagesMoved": task.moved}

    def stop_all(self) -> None:
        """Cancel every running task (the local cloud is stopping)."""
        with self._lock:
            running = [t for t in self._tasks if t.status == "RUNNING"]
        for task in running:
            task.cancel.set()
            if task.thread is not None:
                task.thread.join(timeout=5)


def _handle(source_arn: str) -> str:
    """An opaque handle, built like AWS's: base64 of the task id and the source ARN."""
    raw = json.dumps({"taskId": str(uuid.uuid4()), "sourceArn": source_arn})
    return base64.b64encode(raw.encode()).decode()
