"""Read-only views of moto's in-memory state: the one module that knows moto's internals.

The local cloud serves moto from a thread of this process, so the checks in front of it can
look at queues directly instead of making another request. Pinned to moto 5.2.x.
"""

from __future__ import annotations

from urllib.parse import urlparse

from moto.sqs.models import sqs_backends

from workshop.local.aws_errors import SqsError
from workshop.local.sqs_limits import DeletedQueues, QueueView


class MotoQueues:
    """:class:`workshop.local.sqs_limits.QueueState` over moto's SQS backend for one region."""

    def __init__(self, region: str, deleted: DeletedQueues):
        self.region = region
        self.deleted = deleted

    def seconds_since_deleted(self, queue_name: str) -> float | None:
        return self.deleted.seconds_since(self.region, queue_name)

    def _find(self, queue_url: str):
        parts = urlparse(queue_url).path.strip("/").split("/")
        if len(parts) != 2:
            return None
        account, name = parts
        if account not in sqs_backends:
            return None
        return sqs_backends[account][self.region].queues.get(name)

    def queue(self, queue_url: str) -> QueueView | None:
        queue = self._find(queue_url)
        if queue is None:
            return None
        return QueueView(
            fifo=bool(queue.fifo_queue),
            content_based_deduplication=str(
                queue.attributes.get("ContentBasedDeduplication", "false")
            ).lower()
            == "true",
            max_message_size=int(queue.maximum_message_size),
        )

    def first_receive(self, queue_url: str, receipt_handle: str) -> float | None:
        queue = self._find(queue_url)
        if queue is None:
            return None
        for message in list(queue._messages):
            if message.receipt_handle == receipt_handle:
                first = message.approximate_first_receive_timestamp
                return first / 1000 if first else None
        return None

    def change_visibility(self, queue_url: str, receipt_handle: str, timeout: int) -> None:
        """ChangeMessageVisibility, after the gateway's checks.

        moto's own version refuses any timeout that ends more than 12 hours after the *send*;
        AWS counts from the receive, which the gateway has already checked.
        """
        queue = self._find(queue_url)
        if queue is None:
            raise SqsError("QueueDoesNotExist", "The specified queue does not exist.")
        for message in list(queue._messages):
            if message.had_receipt_handle(receipt_handle):
                message.change_visibility(timeout)
                if message.visible and message in queue.pending_messages:
                    queue.pending_messages.remove(message)  # as moto does: deliverable again
                return
        raise SqsError(
            "ReceiptHandleIsInvalid",
            f'The input receipt handle "{receipt_handle}" is not a valid receipt handle.',
        )
