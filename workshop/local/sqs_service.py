"""SQS on the local backend: moto, with what the workshop adds in front of it.

Every SQS request (JSON protocol, ``X-Amz-Target: AmazonSQS.<Action>``) is checked against
AWS's limits first. Then most go to moto as they are; a few are answered or finished here,
each for a stated reason (see ``_OWN_ACTIONS`` and :meth:`SqsFrontEnd.handle`):

- long polls wait here, so that a message is delivered as soon as its visibility timeout ends;
- ChangeMessageVisibility, because moto counts the 12-hour limit from the send;
- FIFO sends, to deduplicate over AWS's whole 5-minute window;
- the message move tasks (dead-letter queue redrive), which moto lacks;
- standard queues with realism turned on get duplicates and reordering.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from workshop.local.aws_errors import SqsError
from workshop.local.fifo_dedup import DeduplicationWindow, deduplication_id
from workshop.local.moto_state import MotoQueues, adjust_moto_queues
from workshop.local.move_tasks import MessageMoveTasks
from workshop.local.realism import Realism
from workshop.local.sqs_limits import Checked, DeletedQueues, check_request
from workshop.local.wsgi import Answer, WsgiApp, call, json_answer


class SqsFrontEnd:
    def __init__(self, moto_app: WsgiApp):
        adjust_moto_queues()
        self.moto_app = moto_app
        self.deleted_queues = DeletedQueues()
        self.realism = Realism()
        self.dedup = DeduplicationWindow()
        self.move_tasks = MessageMoveTasks()
        self._receive_locks: dict[tuple[str, str] | None, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def handle(self, action: str, params: dict[str, Any], region: str, environ: dict) -> Answer:
        """Answer one SQS request; ``environ`` is the original request, to forward to moto."""
        queues = MotoQueues(region, self.deleted_queues)
        try:
            checked = check_request(action, params, queues)
            own = _OWN_ACTIONS.get(action)
            if own is not None:
                result = own(self, checked.params, queues)
                if checked.failed:  # entries the limits refused on their own
                    result["Failed"] = result.get("Failed", []) + checked.failed
                return _json(result)
            if action == "ReceiveMessage":
                return self._receive(checked.params, queues, environ)
            if action in ("SendMessage", "SendMessageBatch"):
                return self._send(action, checked, queues, environ)
        except SqsError as error:
            return error.answer()
        if checked.failed:
            return self._forward_batch(checked, environ)
        identity = queues.key(params.get("QueueUrl", "")) if action == "DeleteQueue" else None
        answer = _forward(self.moto_app, environ, checked.params)
        if action == "DeleteQueue" and answer[0].startswith("200"):
            self.deleted_queues.record(region, str(params.get("QueueUrl", "")).rsplit("/", 1)[-1])
            self.dedup.forget_queue(identity)
        if action in ("DeleteMessage", "DeleteMessageBatch"):
            # A delete can free a FIFO group: a waiting long poll may now take its next message.
            queues.notify(params.get("QueueUrl", ""))
        return answer

    # --- receiving ------------------------------------------------------------------------

    def _receive(self, params: dict[str, Any], queues: MotoQueues, environ: dict) -> Answer:
        """A long poll, held here: ask moto without waiting, and ask again the moment a message
        arrives or becomes visible, until the wait time is up."""
        url = params.get("QueueUrl", "")
        view = queues.queue(url)
        wait = params.get("WaitTimeSeconds")
        wait = int(wait) if wait is not None else (view.receive_wait_seconds if view else 0)
        deadline = time.monotonic() + wait
        # moto's receive is not thread-safe: two at the same moment could both take one message
        # (or, on a FIFO queue, messages of one group). One receive at a time per queue; the
        # lock is held only for moto's answer, never during the wait.
        lock = self._receive_lock(queues.key(url)) if view else nullcontext()
        while True:
            with lock:
                if view and view.fifo:
                    queues.release_timed_out(url)
                answer = _forward(self.moto_app, environ, {**params, "WaitTimeSeconds": 0})
                status, _, raw = answer
                if not status.startswith("200"):
                    return answer
                messages = json.loads(raw or b"{}").get("Messages", [])
                if view:
                    queues.align_visibility(url, [m["ReceiptHandle"] for m in messages])
            remaining = deadline - time.monotonic()
            if messages or remaining <= 0:
                break
            queues.wait_for_change(url, remaining)
        realism = self.realism.get(queues.key(url))
        if realism is not None and realism.duplicate > 0:
            for message in messages:
                if realism.draw(realism.duplicate):
                    queues.deliver_again(url, message["ReceiptHandle"])
        return answer

    def _receive_lock(self, key: tuple[str, str] | None) -> threading.Lock:
        with self._locks_lock:
            return self._receive_locks.setdefault(key, threading.Lock())

    # --- sending --------------------------------------------------------------------------

    def _send(self, action: str, checked: Checked, queues: MotoQueues, environ: dict) -> Answer:
        params = checked.params
        url = params.get("QueueUrl", "")
        view = queues.queue(url)
        if view is not None and view.fifo:
            return self._send_fifo(action, checked, queues, environ)
        answer = (
            self._forward_batch(checked, environ)
            if checked.failed
            else _forward(self.moto_app, environ, params)
        )
        realism = self.realism.get(queues.key(url))
        if realism is not None and realism.reorder > 0 and answer[0].startswith("200"):
            result = json.loads(answer[2])
            sent = result.get("Successful", [result]) if action == "SendMessageBatch" else [result]
            for entry in sent:
                if "MessageId" in entry and realism.draw(realism.reorder):
                    queues.deliver_early(url, entry["MessageId"])
        return answer

    def _send_fifo(
        self, action: str, checked: Checked, queues: MotoQueues, environ: dict
    ) -> Answer:
        """Sends to a FIFO queue: a duplicate within 5 minutes (of an earlier send or of an
        earlier entry of the same batch) is acknowledged with the first copy's answer, not
        enqueued; every message gets its ``SequenceNumber``.

        One send at a time per queue (the receive lock), from the window check to the window's
        record, so that two copies sent at the same moment cannot both get in, and no receive
        sees a message before it is numbered. This window is the only deduplication: moto's own
        is switched off (:func:`adjust_moto_queues`).
        """
        params = checked.params
        url = params["QueueUrl"]
        view = queues.queue(url)
        assert view is not None
        identity = queues.key(url)

        def window_key(message: dict[str, Any]) -> tuple | None:
            dedup = deduplication_id(message, view.content_based_deduplication)
            if dedup is None:
                return None
            group = message.get("MessageGroupId") if view.deduplication_per_group else None
            return (identity, group, dedup)

        def numbered(sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
            numbers = queues.number(url, [entry["MessageId"] for entry in sent])
            for entry in sent:
                if entry["MessageId"] in numbers:  # (gone already if the queue was purged)
                    entry["SequenceNumber"] = numbers[entry["MessageId"]]
            return sent

        with self._receive_lock(identity):
            if action == "SendMessage":
                key = window_key(params)
                first = self.dedup.first_copy(key) if key else None
                if first is not None:
                    return _json(first.response)
                answer = _forward(self.moto_app, environ, params)
                if not answer[0].startswith("200"):
                    return answer
                sent = numbered([json.loads(answer[2])])[0]
                if key:
                    self.dedup.remember(key, _first_copy_fields(sent))
                return _json(sent)
            return self._send_fifo_batch(checked, window_key, numbered, environ)

    def _send_fifo_batch(
        self,
        checked: Checked,
        window_key: Callable[[dict[str, Any]], tuple | None],
        numbered: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
        environ: dict,
    ) -> Answer:
        fresh: list[dict[str, Any]] = []
        repeats: list[tuple[dict[str, Any], dict[str, Any] | str]] = []  # answer or earlier Id
        keys: dict[str, tuple] = {}  # fresh entry Id -> its window key
        earlier: dict[tuple, str] = {}  # window key -> the fresh entry that has it
        for entry in checked.params["Entries"]:
            key = window_key(entry)
            first = self.dedup.first_copy(key) if key else None
            if first is not None:
                repeats.append((entry, first.response))
            elif key is not None and key in earlier:
                repeats.append((entry, earlier[key]))
            else:
                fresh.append(entry)
                if key is not None:
                    keys[entry["Id"]], earlier[key] = key, entry["Id"]
        result: dict[str, Any] = {"Successful": [], "Failed": list(checked.failed)}
        moto: dict[str, Any] = {}
        if fresh:
            status, headers, raw = _forward(
                self.moto_app, environ, {**checked.params, "Entries": fresh}
            )
            if not status.startswith("200"):
                return status, headers, raw
            moto = json.loads(raw)
        sent = {entry["Id"]: entry for entry in numbered(moto.get("Successful", []))}
        failed = {entry["Id"]: entry for entry in moto.get("Failed", [])}
        for entry_id, entry in sent.items():
            if entry_id in keys:
                self.dedup.remember(keys[entry_id], _first_copy_fields(entry))
        result["Successful"] += sent.values()
        result["Failed"] += failed.values()
        for entry, first in repeats:
            if isinstance(first, dict):
                result["Successful"].append({"Id": entry["Id"], **first})
            elif first in sent:  # a repeat of an earlier entry of this batch
                result["Successful"].append({"Id": entry["Id"], **_first_copy_fields(sent[first])})
            else:  # that entry failed: so does its copy
                result["Failed"].append({**failed[first], "Id": entry["Id"]})
        order = {entry["Id"]: n for n, entry in enumerate(checked.params["Entries"])}
        for outcome in ("Successful", "Failed"):  # in the order of the request
            result[outcome].sort(key=lambda entry: order.get(entry["Id"], len(order)))
        return _json(result)

    def _forward_batch(self, checked: Checked, environ: dict) -> Answer:
        """Forward the entries that passed, then add the failed ones to moto's answer."""
        result: dict[str, Any] = {"Successful": []}
        if not checked.nothing_left:
            status, headers, raw = _forward(self.moto_app, environ, checked.params)
            if not status.startswith("200"):
                return status, headers, raw
            result = json.loads(raw)
        result["Failed"] = result.get("Failed", []) + checked.failed
        return _json(result)

    # --- realism control -------------------------------------------------------------------

    def configure_realism(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        """``POST /_workshop/sqs/realism`` with QueueUrl, Duplicate, Reorder and Seed."""
        queues = MotoQueues(region, self.deleted_queues)
        url = str(request.get("QueueUrl", ""))
        view = queues.queue(url)
        if view is None:
            raise ValueError(f"No queue at {url}.")
        if view.fifo:
            raise ValueError(
                "Realism applies to standard queues only: FIFO queues never duplicate or reorder."
            )
        self.realism.configure(
            queues.key(url),  # type: ignore[arg-type]
            float(request.get("Duplicate", 0)),
            float(request.get("Reorder", 0)),
            request.get("Seed"),
        )
        return {}


def _change_visibility(front: SqsFrontEnd, params: dict, queues: MotoQueues) -> dict:
    queues.change_visibility(
        params["QueueUrl"], params["ReceiptHandle"], int(params["VisibilityTimeout"])
    )
    return {}


def _change_visibility_batch(front: SqsFrontEnd, params: dict, queues: MotoQueues) -> dict:
    successful, failed = [], []
    for entry in params["Entries"]:
        try:
            queues.change_visibility(
                params["QueueUrl"], entry["ReceiptHandle"], int(entry["VisibilityTimeout"])
            )
        except SqsError as error:
            if error.name == "QueueDoesNotExist":
                raise
            failed.append(error.batch_entry(entry["Id"]))
        else:
            successful.append({"Id": entry["Id"]})
    return {"Successful": successful, "Failed": failed}


# SQS actions answered here instead of by moto, and why:
_OWN_ACTIONS: dict[str, Callable[[SqsFrontEnd, dict, MotoQueues], dict]] = {
    # moto counts the 12-hour visibility limit from the send, AWS from the receive
    "ChangeMessageVisibility": _change_visibility,
    "ChangeMessageVisibilityBatch": _change_visibility_batch,
    # moto has no message move tasks
    "StartMessageMoveTask": lambda front, params, queues: front.move_tasks.start(params, queues),
    "ListMessageMoveTasks": lambda front, params, queues: front.move_tasks.list(params, queues),
    "CancelMessageMoveTask": lambda front, params, queues: front.move_tasks.cancel(params),
}


def _first_copy_fields(sent: dict[str, Any]) -> dict[str, Any]:
    keep = ("MessageId", "MD5OfMessageBody", "MD5OfMessageAttributes", "SequenceNumber")
    return {k: sent[k] for k in keep if k in sent}


def _json(result: dict[str, Any]) -> Answer:
    return json_answer(
        200, result, [("x-amzn-RequestId", str(uuid.uuid4()))], "application/x-amz-json-1.0"
    )


def _forward(app: WsgiApp, environ: dict[str, Any], params: dict[str, Any]) -> Answer:
    """Send ``params`` to moto as the body of the original request; collect the answer."""
    return call(app, environ, json.dumps(params).encode())
