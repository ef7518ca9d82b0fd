"""Views of moto's in-memory SQS state: the one module that knows moto's internals.

The local cloud serves moto from a thread of this process, so the SQS front end can look at
queues directly instead of making another request, and can do what moto's API cannot (hold a
long poll open until a message becomes visible, copy a message as a standard queue sometimes
does). Pinned to moto 5.2.x; everything that touches a private attribute of moto is here.
"""

from __future__ import annotations

import copy
import itertools
import json
import time
from typing import Any
from urllib.parse import urlparse

from moto.sqs.models import sqs_backends

from workshop.local.aws_errors import SqsError
from workshop.local.sqs_limits import DeletedQueues, QueueView

_SEQUENCE = itertools.count(1)  # shared by every FIFO queue: increasing everywhere
_SEQUENCE_BASE, _SEQUENCE_STEP = 18_000_000_000_000_000_000, 65_536


def _gone() -> SqsError:
    return SqsError("QueueDoesNotExist", "The specified queue does not exist.")


def adjust_moto_queues() -> None:
    """Two changes to moto's SQS queues, made once (idempotent).

    - Counting: moto's SendMessage builds every queue attribute, counts included, to read one
      setting, and each message's visibility check reads the clock through ``datetime``, so
      each send grew slower as the queue filled (``benchmarks/api_latency.py``). The counts are
      moto's own rules (visible: ``now > visible_at``; delayed: ``now < delayed_until``) with
      the clock read once.
    - Deduplication: moto drops a FIFO message whose deduplication id is still in the queue,
      yet answers the send with a fresh MessageId, and drops messages moved to a FIFO DLQ the
      same way. The SQS front end's five-minute window (:mod:`workshop.local.fifo_dedup`) is
      what deduplicates sends, as AWS does; a message that reaches ``add_message`` is kept.
      (moto's synchronous Lambda trigger in ``add_message`` goes too: the local cloud's own
      pollers serve event source mappings.)
    """
    from moto.core.utils import unix_time_millis
    from moto.sqs.models import Queue

    if getattr(Queue, "_workshop_adjusted", False):
        return

    def messages(self) -> list:
        now = unix_time_millis()
        return [m for m in self._messages if now > m.visible_at and now >= m.delayed_until]

    def not_visible(self) -> int:
        now = unix_time_millis()
        return sum(1 for m in self._messages if not now > m.visible_at)

    def delayed(self) -> int:
        now = unix_time_millis()
        return sum(1 for m in self._messages if now < m.delayed_until)

    def add_message(self, message) -> None:
        with self._messages_lock:
            self._messages.append(message)
            self._messages_lock.notify_all()

    Queue.messages = property(messages)
    Queue.approximate_number_of_messages_not_visible = property(not_visible)
    Queue.approximate_number_of_messages_delayed = property(delayed)
    Queue.add_message = add_message
    Queue._workshop_adjusted = True


def next_sequence_number() -> str:
    """A FIFO ``SequenceNumber``: 20 digits, increasing, not consecutive, like AWS's."""
    return f"{_SEQUENCE_BASE + next(_SEQUENCE) * _SEQUENCE_STEP:020d}"


class MotoQueues:
    """:class:`workshop.local.sqs_limits.QueueState` and more, over moto's SQS backend for one
    region."""

    def __init__(self, region: str, deleted: DeletedQueues):
        self.region = region
        self.deleted = deleted

    # --- finding queues -------------------------------------------------------------------

    def _find(self, queue_url: str):
        parts = urlparse(queue_url).path.strip("/").split("/")
        if len(parts) != 2:
            return None
        account, name = parts
        if account not in sqs_backends:
            return None
        return sqs_backends[account][self.region].queues.get(name)

    def _find_arn(self, arn: str):
        parts = arn.split(":")
        if len(parts) != 6 or parts[2] != "sqs" or parts[4] not in sqs_backends:
            return None
        return sqs_backends[parts[4]][parts[3]].queues.get(parts[5])

    def _require(self, queue_url: str):
        queue = self._find(queue_url)
        if queue is None:
            raise _gone()
        return queue

    def key(self, queue_url: str) -> tuple[str, str] | None:
        """A stable identity for a queue (region and ARN), whatever host the URL names."""
        queue = self._find(queue_url)
        return None if queue is None else (self.region, queue.queue_arn)

    def seconds_since_deleted(self, queue_name: str) -> float | None:
        return self.deleted.seconds_since(self.region, queue_name)

    def queue(self, queue_url: str) -> QueueView | None:
        return self._view(self._find(queue_url))

    def queue_by_arn(self, arn: str) -> QueueView | None:
        return self._view(self._find_arn(arn))

    def _view(self, queue) -> QueueView | None:
        if queue is None:
            return None
        # Read the attributes one by one: moto's ``queue.attributes`` counts every message in
        # the queue, which made each send slower as a queue filled up.
        fifo = bool(queue.fifo_queue)
        content_based = getattr(queue, "content_based_deduplication", False) if fifo else False
        scope = getattr(queue, "deduplication_scope", None) if fifo else None
        return QueueView(
            fifo=fifo,
            content_based_deduplication=str(content_based).lower() == "true",
            max_message_size=int(queue.maximum_message_size),
            receive_wait_seconds=int(queue.receive_message_wait_time_seconds or 0),
            deduplication_per_group=scope == "messageGroup",
        )

    # --- visibility -----------------------------------------------------------------------

    def release_timed_out(self, queue_url: str, margin_ms: float = 20.0) -> None:
        """Before a FIFO receive, let go of the message groups whose visibility timeout ended.

        moto keeps timed-out FIFO messages "pending" and frees them one at a time in the middle
        of a receive, so it would hand out a group's last message first. A group is freed
        whole, and only when every pending message of it is visible, or about to be within
        ``margin_ms`` (made visible now): moto's receive then never sees a group half in flight.
        """
        from moto.core.utils import unix_time_millis

        queue = self._find(queue_url)
        if queue is None:
            return
        now = unix_time_millis()
        groups: dict[str | None, list] = {}
        for message in list(queue.pending_messages):
            groups.setdefault(message.group_id, []).append(message)
        for messages in groups.values():
            if all(m.visible_at <= now + margin_ms for m in messages):
                for message in messages:
                    message.visible_at = min(message.visible_at, now - 1)
                    queue.pending_messages.discard(message)

    def align_visibility(self, queue_url: str, receipt_handles: list[str]) -> None:
        """Give the messages of one receive one visibility deadline, as one receive on AWS does.

        moto stamps each message with its own clock reading while it copies the batch, so under
        load the messages of one receive became visible again milliseconds apart, and a long
        poll woken by the first one took the batch apart (a healthy message then escaped its
        failed batch's fate). Every message gets the latest of the deadlines.
        """
        queue = self._find(queue_url)
        if queue is None or len(receipt_handles) < 2:
            return
        wanted = set(receipt_handles)
        batch = [m for m in list(queue.pending_messages) if m.receipt_handle in wanted]
        if len(batch) > 1:
            latest = max(m.visible_at for m in batch)
            for message in batch:
                message.visible_at = latest

    def number(self, queue_url: str, message_ids: list[str]) -> dict[str, str]:
        """Give FIFO messages just sent their ``SequenceNumber``, in the order given.

        AWS numbers every FIFO message, increasing within a group; moto numbers only those sent
        with an explicit deduplication id, and at random. Ours are 20 digits, increasing and
        not consecutive, like AWS's.
        """
        queue = self._find(queue_url)
        if queue is None:
            return {}
        wanted, found = set(message_ids), {}
        for message in reversed(list(queue._messages)):  # just sent: at the end
            if message.id in wanted:
                found[message.id] = message
                if len(found) == len(wanted):
                    break
        numbers = {}
        for message_id in message_ids:
            if message_id in found:
                number = next_sequence_number()
                found[message_id].sequence_number = number
                numbers[message_id] = number
        return numbers

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
        """ChangeMessageVisibility, after the front end's checks.

        moto's own version refuses any timeout that ends more than 12 hours after the *send*;
        AWS counts from the receive, which the front end has already checked.
        """
        queue = self._require(queue_url)
        for message in list(queue._messages):
            if message.had_receipt_handle(receipt_handle):
                message.change_visibility(timeout)
                if message.visible and message in queue.pending_messages:
                    queue.pending_messages.remove(message)  # as moto does: deliverable again
                with queue._messages_lock:
                    queue._messages_lock.notify_all()  # a waiting long poll may take it now
                return
        raise SqsError(
            "ReceiptHandleIsInvalid",
            f'The input receipt handle "{receipt_handle}" is not a valid receipt handle.',
        )

    def notify(self, queue_url: str) -> None:
        """Wake the long polls waiting on a queue (something changed that moto does not
        signal, such as a delete that frees a FIFO group)."""
        queue = self._find(queue_url)
        if queue is not None:
            with queue._messages_lock:
                queue._messages_lock.notify_all()

    def wait_for_change(self, queue_url: str, timeout: float) -> None:
        """Sleep until a message arrives, or the next hidden or delayed message becomes visible,
        or ``timeout`` seconds pass, whichever is first.

        moto's long poll rechecks visibility only about once a second; waking exactly when a
        message's visibility timeout ends is what makes redelivery times measurable.
        """
        queue = self._find(queue_url)
        if queue is None or timeout <= 0:
            return
        now_ms = time.time() * 1000
        upcoming = [
            moment
            for message in list(queue._messages)
            for moment in (message.visible_at, message.delayed_until)
            if moment > now_ms
        ]
        if upcoming:
            timeout = min(timeout, (min(upcoming) - now_ms) / 1000 + 0.002)
        with queue._messages_lock:
            queue._messages_lock.wait(timeout)

    # --- realism: what a standard queue may do on AWS ---------------------------------------

    def deliver_again(self, queue_url: str, receipt_handle: str) -> bool:
        """Put a second copy of a just-received message back in the queue, visible at once: the
        same MessageId, body and attributes, its own receipt handles."""
        queue = self._find(queue_url)
        if queue is None:
            return False
        for message in list(queue._messages):
            if message.receipt_handle == receipt_handle:
                twin = copy.copy(message)
                twin.receipt_handle = None
                twin._old_receipt_handles = []
                twin.visible_at = 0.0
                twin.approximate_receive_count = 0
                twin.approximate_first_receive_timestamp = None
                with queue._messages_lock:
                    queue._messages.append(twin)
                    queue._messages_lock.notify_all()
                return True
        return False

    def deliver_early(self, queue_url: str, message_id: str) -> bool:
        """Move a just-sent message ahead of the waiting message sent before it."""
        queue = self._find(queue_url)
        if queue is None:
            return False
        with queue._messages_lock:
            messages = queue._messages
            index = next((i for i, m in enumerate(messages) if m.id == message_id), None)
            if index is None:
                return False
            for earlier in range(index - 1, -1, -1):
                candidate = messages[earlier]
                if candidate.approximate_receive_count == 0 and candidate.visible:
                    messages.insert(earlier, messages.pop(index))
                    return True
        return False

    # --- dead-letter queues and message moves ---------------------------------------------

    def exists(self, arn: str) -> bool:
        return self._find_arn(arn) is not None

    def sources_of(self, dlq_arn: str) -> list[str]:
        """ARNs of the queues whose redrive policy sends failures to ``dlq_arn``."""
        dlq = self._find_arn(dlq_arn)
        if dlq is None:
            return []
        backend = sqs_backends[dlq.account_id][dlq.region]
        return sorted(
            queue.queue_arn
            for queue in list(backend.queues.values())
            if (queue.redrive_policy or {}).get("deadLetterTargetArn") == dlq_arn
        )

    def visible_count(self, arn: str) -> int:
        queue = self._find_arn(arn)
        return 0 if queue is None else len(queue.messages)

    def move_one(self, source_arn: str, destination_arn: str) -> bool:
        """Move the oldest visible message of ``source_arn`` to ``destination_arn``, as a new
        message with the same body and attributes; False if there is none to move."""
        source, destination = self._find_arn(source_arn), self._find_arn(destination_arn)
        if source is None or destination is None:
            raise _gone()
        with source._messages_lock:
            message = next(iter(source.messages), None)
            if message is None:
                return False
            source._messages.remove(message)
        backend = sqs_backends[destination.account_id][destination.region]
        try:
            moved = backend.send_message(
                destination.name,
                message.body,
                message_attributes=_plain(message.message_attributes),
                group_id=message.group_id if destination.fifo_queue else None,
                deduplication_id=message.deduplication_id if destination.fifo_queue else None,
            )
        except Exception as error:  # refused: the message stays where it was
            with source._messages_lock:
                source._messages.insert(0, message)
            raise SqsError(
                "InvalidParameterValue", f"The message could not be moved: {error}"
            ) from error
        if destination.fifo_queue:
            moved.sequence_number = next_sequence_number()
        return True


def _plain(attributes: Any) -> dict[str, Any]:
    """moto keeps message attributes as a dict already; copy it so the two messages don't
    share one."""
    return json.loads(json.dumps(attributes or {}))


# --- Lambda and CloudWatch Logs ------------------------------------------------------------


class MotoLambda:
    """The function configurations, code and logs the local Lambda data plane needs."""

    def __init__(self, account: str, region: str):
        from moto.awslambda.models import lambda_backends
        from moto.logs.models import logs_backends

        self.account, self.region = account, region
        self._lambda = lambda_backends[account][region]
        self._logs = logs_backends[account][region]

    def function(self, name_or_arn: str, qualifier: str | None) -> tuple[dict, bytes] | None:
        """The function's configuration (as GetFunctionConfiguration returns it) and zip code,
        or None if there is no such function or version."""
        fn = self._get(name_or_arn, qualifier)
        if fn is None:
            return None
        configuration = dict(fn.get_configuration())
        configuration["ReservedConcurrentExecutions"] = fn.reserved_concurrency
        return configuration, fn.code_bytes

    def put_logs(self, group: str, stream: str, events: list[dict]) -> None:
        """Append events (``{"timestamp": ms, "message": str}``), creating group and stream the
        way Lambda does: untagged, on first use."""
        if group not in self._logs.groups:
            self._logs.create_log_group(group, tags={})
        if stream not in self._logs.groups[group].streams:
            self._logs.create_log_stream(group, stream)
        self._logs.put_log_events(group, stream, events)

    @staticmethod
    def silence_sqs_triggers() -> None:
        """Detach event source mappings from moto's queues: moto would invoke the function
        inside SendMessage, synchronously and one message at a time, which Lambda never does."""
        for region_backends in list(sqs_backends.values()):
            for backend in list(region_backends.values()):
                for queue in list(backend.queues.values()):
                    queue.lambda_event_source_mappings.clear()

    def policy_statements(self, name_or_arn: str, qualifier: str | None) -> list[dict] | None:
        """The statements of the function's resource-based policy (AddPermission), or None if
        there is no such function."""
        fn = self._get(name_or_arn, qualifier)
        return None if fn is None else list(fn.policy.statements)

    def _get(self, name_or_arn: str, qualifier: str | None):
        from moto.awslambda.exceptions import UnknownFunctionException

        try:
            return self._lambda.get_function(name_or_arn, qualifier)
        except UnknownFunctionException:
            return None


# --- API Gateway v2 and IAM ----------------------------------------------------------------


_STAGE_FIELDS = {  # UpdateStage's members, as moto's Stage calls them
    "accessLogSettings": "access_log_settings",
    "autoDeploy": "auto_deploy",
    "clientCertificateId": "client_certificate_id",
    "defaultRouteSettings": "default_route_settings",
    "description": "description",
    "routeSettings": "route_settings",
    "stageVariables": "stage_variables",
}


class MotoApis:
    """HTTP APIs as moto stores them, each part in the shape the API Gateway v2 API returns it
    (``routeKey``, ``integrationUri``, ``stageName``...)."""

    @staticmethod
    def find(api_id: str) -> tuple[str, str] | None:
        """The account and region that hold an API id, or None."""
        from moto.apigatewayv2.models import apigatewayv2_backends

        for account, regions in list(apigatewayv2_backends.items()):
            for region, backend in list(regions.items()):
                if api_id in backend.apis:
                    return account, region
        return None

    @staticmethod
    def exists(account: str, region: str, api_id: str) -> bool:
        from moto.apigatewayv2.models import apigatewayv2_backends

        return api_id in apigatewayv2_backends[account][region].apis

    @staticmethod
    def describe(account: str, region: str, api_id: str) -> dict[str, Any] | None:
        """``{"api", "routes", "integrations", "stages"}`` of one API (lists of dicts), or None
        if it is gone."""
        from moto.apigatewayv2.models import apigatewayv2_backends

        api = apigatewayv2_backends[account][region].apis.get(api_id)
        if api is None:
            return None
        return {
            "api": api.to_json(),
            "routes": [route.to_json() for route in list(api.routes.values())],
            "integrations": [i.to_json() for i in list(api.integrations.values())],
            "stages": [stage.to_json() for stage in list(api.stages.values())],
        }

    @staticmethod
    def update_stage(
        account: str, region: str, api_id: str, name: str, request: dict[str, Any]
    ) -> dict[str, Any] | None:
        """UpdateStage, which moto lacks; the stage as the API returns it, or None if there is
        no such stage."""
        from datetime import datetime

        from moto.apigatewayv2.models import apigatewayv2_backends

        api = apigatewayv2_backends[account][region].apis.get(api_id)
        stage = api.stages.get(name) if api is not None else None
        if stage is None:
            return None
        for member, attribute in _STAGE_FIELDS.items():
            if member in request:
                setattr(stage, attribute, request[member])
        stage.updated = datetime.now()
        return stage.to_json()


class MotoIam:
    """Roles and their policies, for the checks AWS makes when a service assumes a role."""

    def __init__(self, account: str):
        from moto.iam.models import iam_backends

        self._iam = iam_backends[account]["aws"]

    def role_policies(self, role_arn: str) -> list[dict[str, Any]] | None:
        """The identity policy documents of a role (inline and attached), or None if there is
        no such role."""
        role = next((r for r in list(self._iam.get_roles()) if r.arn == role_arn), None)
        if role is None:
            return None
        documents = list(role.policies.values())
        for managed in list(role.managed_policies.values()):
            version = next(
                (v for v in managed.versions if v.version_id == managed.default_version_id), None
            )
            if version is not None:
                documents.append(version.document)
        found = []
        for document in documents:
            try:
                found.append(document if isinstance(document, dict) else json.loads(document))
            except ValueError:
                continue
        return found
