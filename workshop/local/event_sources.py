"""Lambda event source mappings from SQS on the local backend: polled as Lambda polls.

moto stores the mappings, but it would run the function inside ``SendMessage``, one message at
a time; here the mappings are checked as AWS checks them, stored by moto with its trigger
silenced, and polled by :mod:`workshop.local.sqs_poller`. Mappings of other sources (streams)
go to moto unchanged.

What AWS reports is kept where it is cheap: ``State`` is ``Creating`` in the create answer,
then ``Enabled``; ``Enabling``/``Disabling``/``Updating`` in an update's answer, and
``Disabling`` until the last poller has stopped, then ``Disabled``; ``Deleting`` in the delete
answer, after which the mapping is gone.
"""

from __future__ import annotations

import json
import threading
import time
import uuid as uuids
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from workshop.local import internal
from workshop.local.aws_errors import SqsError
from workshop.local.iam_policy import allowed
from workshop.local.lambda_service import LambdaError
from workshop.local.moto_state import MotoIam, MotoLambda
from workshop.local.sqs_poller import MappingPollers, MappingSettings, PollerStats
from workshop.local.wsgi import Answer, call, json_answer, read_body

if TYPE_CHECKING:
    from workshop.local.gateway import Gateway

PREFIX = "/2015-03-31/event-source-mappings"
_STOP_WAIT_S = 10.0  # close(): longest wait for pollers finishing an invocation
POLLING_ACTIONS = ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes")
"""What a mapping's function role must be allowed on the queue (Lambda's SQS guide)."""
_DELETED_STATS_KEPT = 100  # stats() still answers for the latest deleted mappings

# The API's own bounds (Lambda's service model), checked before anything else.
_RANGES = {
    "BatchSize": ("batchSize", 1, 10_000),
    "MaximumBatchingWindowInSeconds": ("maximumBatchingWindowInSeconds", 0, 300),
}
_CONCURRENCY = ("scalingConfig.maximumConcurrency", 2, 1_000)


class MappingError(Exception):
    """An error the Lambda API answers with, in AWS's shape."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code = status, code

    def answer(self) -> Answer:
        headers = [("x-amzn-ErrorType", self.code), ("x-amzn-RequestId", str(uuids.uuid4()))]
        return json_answer(self.status, {"Type": "User", "Message": str(self)}, headers)


def _invalid(message: str) -> MappingError:
    return MappingError(400, "InvalidParameterValueException", message)


def _not_found() -> MappingError:
    return MappingError(
        404, "ResourceNotFoundException", "The resource you requested does not exist."
    )


@dataclass
class _Mapping:
    settings: MappingSettings
    enabled: bool
    region: str
    function_name: str
    pollers: MappingPollers | None = None


class EventSourceMappings:
    """Every SQS event source mapping of the local cloud, and its pollers.

    :meth:`control` sees every ``/2015-03-31/event-source-mappings`` call first and returns
    its answer (checking what AWS checks, letting moto store the mapping, then starting,
    updating or stopping the mapping's pollers).
    """

    def __init__(self, gateway: Gateway):
        self.gateway = gateway
        self._mappings: dict[str, _Mapping] = {}
        self._deleted_stats: dict[str, PollerStats] = {}  # what deleted mappings did
        self._lock = threading.Lock()
        self._creating = threading.Lock()  # one create at a time: the duplicate check holds
        self._closed = False
        self._started: list[MappingPollers] = []  # every set not yet known to have ended

    # --- the API ---------------------------------------------------------------------------

    def control(self, method: str, path: str, environ: dict[str, Any], region: str) -> Answer:
        uuid = unquote(path[len(PREFIX) :].strip("/"))
        try:
            if method == "POST" and not uuid:
                return self._create(environ, region)
            if method == "GET" and not uuid:
                return self._list(environ, region)
            if method == "GET":
                return self._get(uuid, environ)
            if method == "PUT":
                return self._update(uuid, environ, region)
            if method == "DELETE":
                return self._delete(uuid, environ)
        except MappingError as error:
            return error.answer()
        except (KeyError, TypeError, AttributeError, ValueError) as error:
            # A request boto3 would not send (a missing or mistyped field): refused, not a crash.
            return MappingError(
                400, "ValidationException", f"1 validation error detected: {error!r}"
            ).answer()
        return call(self.gateway.moto_app, environ)

    def stats(self, uuid: str) -> PollerStats | None:
        """What a mapping's pollers did so far (None if it has never polled)."""
        mapping = self._mappings.get(uuid)
        pollers = mapping.pollers if mapping else None
        return pollers.stats if pollers else self._deleted_stats.get(uuid)

    def close(self) -> None:
        """Stop every poller promptly (the server is stopping), those of deleted or replaced
        mappings included."""
        with self._lock:
            self._closed = True
            pollers, self._started = self._started, []
        for poller in pollers:
            poller.stop(abandon=True)
        deadline = time.monotonic() + _STOP_WAIT_S
        for poller in pollers:
            poller.join(max(0.0, deadline - time.monotonic()))

    def _start(self, mapping: _Mapping, settings: MappingSettings) -> None:
        """Start fresh pollers for a mapping (the caller holds the lock)."""
        mapping.pollers = MappingPollers(self.gateway, settings)
        mapping.pollers.start()
        self._started = [p for p in self._started if p.running or not p.stopping]
        self._started.append(mapping.pollers)

    # --- create ----------------------------------------------------------------------------

    def _create(self, environ: dict[str, Any], region: str) -> Answer:
        request = _json(environ)
        source = str(request.get("EventSourceArn") or "")
        if not _is_sqs(source):
            answer = call(self.gateway.moto_app, environ)
            MotoLambda.silence_sqs_triggers()
            return answer
        _check_ranges(request)
        fifo = source.endswith(".fifo")
        batch_size = int(request.get("BatchSize") or 10)
        window = request.get("MaximumBatchingWindowInSeconds")
        _check_batching(batch_size, window, fifo)
        function_arn, function_name, timeout, role = self._function(request["FunctionName"], region)
        queue_url, visibility = self._queue(source)
        _check_role(role, source)
        _check_timeouts(visibility, timeout)
        with self._creating:  # from the duplicate check until the mapping is known
            self._refuse_duplicate(source, function_arn, function_name)
            status, headers, body = call(self.gateway.moto_app, environ)
            MotoLambda.silence_sqs_triggers()
            if not status.startswith("2"):
                return status, headers, body
            result = json.loads(body)
            settings = MappingSettings(
                uuid=result["UUID"],
                queue_arn=source,
                queue_url=queue_url,
                function_arn=function_arn,
                batch_size=batch_size,
                window_s=float(window or 0),
                max_concurrency=(request.get("ScalingConfig") or {}).get("MaximumConcurrency"),
                report_batch_item_failures="ReportBatchItemFailures"
                in (request.get("FunctionResponseTypes") or []),
            )
            mapping = _Mapping(settings, bool(request.get("Enabled", True)), region, function_name)
            with self._lock:
                self._mappings[settings.uuid] = mapping
                if mapping.enabled and not self._closed:
                    self._start(mapping, settings)
        return json_answer(202, self._shaped(result, mapping, "Creating"))

    def _refuse_duplicate(self, source: str, function_arn: str, function_name: str) -> None:
        with self._lock:
            for uuid, mapping in self._mappings.items():
                if (
                    mapping.settings.queue_arn == source
                    and mapping.settings.function_arn == function_arn
                ):
                    raise MappingError(
                        409,
                        "ResourceConflictException",
                        f'An event source mapping with SQS arn (" {source} ") and function '
                        f'(" {function_name} ") already exists. Please update or delete the '
                        f"existing mapping with UUID {uuid}",
                    )

    # --- read ------------------------------------------------------------------------------

    def _get(self, uuid: str, environ: dict[str, Any]) -> Answer:
        status, headers, body = call(self.gateway.moto_app, environ)
        if not status.startswith("2"):
            raise _not_found()
        mapping = self._mappings.get(uuid)
        if mapping is None:
            return status, headers, body
        return json_answer(200, self._shaped(json.loads(body), mapping))

    def _list(self, environ: dict[str, Any], region: str) -> Answer:
        """All mappings, filtered here: moto compares ``FunctionName`` only with the name the
        mapping was created with, where AWS accepts a name, an ARN or a partial ARN."""
        query = parse_qs(environ.get("QUERY_STRING", ""))
        source = query.get("EventSourceArn", [None])[0]
        function = query.get("FunctionName", [None])[0]
        everything = {**environ, "QUERY_STRING": ""}
        status, headers, body = call(self.gateway.moto_app, everything)
        if not status.startswith("2"):
            return status, headers, body
        listed = []
        for item in json.loads(body).get("EventSourceMappings", []):
            if source and item.get("EventSourceArn") != source:
                continue
            if function and not _same_function(function, item.get("FunctionArn", ""), region):
                continue
            mapping = self._mappings.get(item.get("UUID", ""))
            listed.append(self._shaped(item, mapping) if mapping else item)
        return json_answer(200, {"EventSourceMappings": listed})

    # --- update ----------------------------------------------------------------------------

    def _update(self, uuid: str, environ: dict[str, Any], region: str) -> Answer:
        mapping = self._mappings.get(uuid)
        if mapping is None:
            status, headers, body = call(self.gateway.moto_app, environ)
            MotoLambda.silence_sqs_triggers()
            if not status.startswith("2") or body.strip() in (b"", b"{}"):
                raise _not_found()
            return status, headers, body
        request = _json(environ)
        _check_ranges(request)
        settings = mapping.settings
        batch_size = int(request.get("BatchSize", settings.batch_size))
        window = request.get("MaximumBatchingWindowInSeconds", settings.window_s)
        _check_batching(batch_size, window, settings.fifo)
        function_arn, function_name = settings.function_arn, mapping.function_name
        if request.get("FunctionName"):
            function_arn, function_name, timeout, role = self._function(
                request["FunctionName"], region
            )
            _, visibility = self._queue(settings.queue_arn)
            _check_role(role, settings.queue_arn)
            _check_timeouts(visibility, timeout)
        scaling = request.get("ScalingConfig", None)
        max_concurrency = (
            settings.max_concurrency
            if scaling is None
            else (scaling or {}).get("MaximumConcurrency")
        )
        types = request.get("FunctionResponseTypes", None)
        report = (
            settings.report_batch_item_failures
            if types is None
            else "ReportBatchItemFailures" in types
        )
        status, headers, body = call(self.gateway.moto_app, environ)
        MotoLambda.silence_sqs_triggers()
        if not status.startswith("2"):
            return status, headers, body
        new = MappingSettings(
            uuid=uuid,
            queue_arn=settings.queue_arn,
            queue_url=settings.queue_url,
            function_arn=function_arn,
            batch_size=batch_size,
            window_s=float(window or 0),
            max_concurrency=max_concurrency,
            report_batch_item_failures=report,
        )
        enabled = bool(request.get("Enabled", mapping.enabled))
        state = "Updating"
        with self._lock:
            if self._mappings.get(uuid) is not mapping:  # deleted meanwhile
                return json_answer(202, self._shaped(json.loads(body), mapping, "Deleting"))
            was = mapping.enabled
            mapping.settings, mapping.enabled, mapping.function_name = new, enabled, function_name
            if enabled and not was:
                state = "Enabling"
            elif was and not enabled:
                state = "Disabling"
            if mapping.pollers is not None and not enabled:
                mapping.pollers.stop()
            elif mapping.pollers is not None:
                mapping.pollers.update(new)
            if (
                enabled
                and not self._closed
                and (mapping.pollers is None or mapping.pollers.stopping)
            ):
                # stopped (or still stopping) pollers are not restarted: fresh ones take over
                self._start(mapping, new)
        return json_answer(202, self._shaped(json.loads(body), mapping, state))

    # --- delete ----------------------------------------------------------------------------

    def _delete(self, uuid: str, environ: dict[str, Any]) -> Answer:
        status, headers, body = call(self.gateway.moto_app, environ)
        if not status.startswith("2") or body.strip() in (b"", b"{}"):
            raise _not_found()
        with self._lock:
            mapping = self._mappings.pop(uuid, None)
        if mapping is None:
            return status, headers, body
        if mapping.pollers is not None:
            mapping.pollers.stop()  # the batches in hand are still processed
            with self._lock:
                self._deleted_stats[uuid] = mapping.pollers.stats
                while len(self._deleted_stats) > _DELETED_STATS_KEPT:
                    del self._deleted_stats[next(iter(self._deleted_stats))]  # the oldest
        return json_answer(202, self._shaped(json.loads(body), mapping, "Deleting"))

    # --- checks ----------------------------------------------------------------------------

    def _function(self, name: str, region: str) -> tuple[str, str, int, str]:
        """The function's ARN (qualified if the name is), its name, its timeout and its
        execution role."""
        base, qualifier = _name_and_qualifier(name)
        try:
            _, configuration, _ = self.gateway.lambdas.function(
                base, qualifier, region, internal.ACCOUNT
            )
        except LambdaError:
            raise _invalid("Function does not exist") from None
        arn = configuration["FunctionArn"].split(":function:")[0]
        arn = f"{arn}:function:{configuration['FunctionName']}"
        if qualifier and qualifier != "$LATEST":
            arn = f"{arn}:{qualifier}"
        timeout = int(configuration.get("Timeout") or 3)
        return arn, configuration["FunctionName"], timeout, str(configuration.get("Role") or "")

    def _queue(self, arn: str) -> tuple[str, int]:
        """The queue's URL and visibility timeout; AWS's error if Lambda cannot read it."""
        parts = arn.split(":")
        try:
            url = internal.sqs(
                self.gateway,
                "GetQueueUrl",
                {"QueueName": parts[5], "QueueOwnerAWSAccountId": parts[4]},
                parts[3],
            )["QueueUrl"]
            attributes = internal.sqs(
                self.gateway,
                "GetQueueAttributes",
                {"QueueUrl": url, "AttributeNames": ["VisibilityTimeout"]},
                parts[3],
            )["Attributes"]
        except SqsError as error:
            raise _invalid(
                f"Error occurred while ReceiveMessage. SQS Error Code: {error.code}. "
                f"SQS Error Message: {error.message}"
            ) from None
        return url, int(attributes["VisibilityTimeout"])

    # --- answers ---------------------------------------------------------------------------

    def _shaped(
        self, result: dict[str, Any], mapping: _Mapping | None, state: str | None = None
    ) -> dict[str, Any]:
        """moto's configuration with what AWS shows for an SQS mapping."""
        if mapping is None:
            return result
        settings = mapping.settings
        shaped = {
            k: v
            for k, v in result.items()
            if k not in ("StartingPosition", "Tags", "LastProcessingResult")
        }
        shaped.update(
            {
                "BatchSize": settings.batch_size,
                "MaximumBatchingWindowInSeconds": int(settings.window_s),
                "FunctionArn": settings.function_arn,
                "FunctionResponseTypes": (
                    ["ReportBatchItemFailures"] if settings.report_batch_item_failures else []
                ),
                "State": state or _state(mapping),
                "StateTransitionReason": "USER_INITIATED",
            }
        )
        if settings.max_concurrency is not None:
            shaped["ScalingConfig"] = {"MaximumConcurrency": settings.max_concurrency}
        else:
            shaped.pop("ScalingConfig", None)
        return shaped


def _state(mapping: _Mapping) -> str:
    if mapping.enabled:
        return "Enabled"
    return "Disabling" if _polling(mapping) else "Disabled"


def _polling(mapping: _Mapping) -> bool:
    return mapping.pollers is not None and mapping.pollers.running > 0


def _check_ranges(request: dict[str, Any]) -> None:
    """The service model's bounds, answered as AWS answers them (a ValidationException)."""
    problems = []
    for key, (member, low, high) in _RANGES.items():
        if key in request and request[key] is not None:
            problems += _bound(request[key], member, low, high)
    scaling = request.get("ScalingConfig") or {}
    if scaling.get("MaximumConcurrency") is not None:
        problems += _bound(scaling["MaximumConcurrency"], *_CONCURRENCY)
    types = request.get("FunctionResponseTypes")
    if types is not None and any(t != "ReportBatchItemFailures" for t in types):
        problems.append(
            f"Value '[{', '.join(map(str, types))}]' at 'functionResponseTypes' failed to "
            "satisfy constraint: Member must satisfy constraint: [Member must satisfy enum "
            "value set: [ReportBatchItemFailures]]"
        )
    if problems:
        count = len(problems)
        raise MappingError(
            400,
            "ValidationException",
            f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(problems),
        )


def _bound(value: Any, member: str, low: int, high: int) -> list[str]:
    if not isinstance(value, int) or isinstance(value, bool):
        return [
            f"Value '{value}' at '{member}' failed to satisfy constraint: Member must be a number"
        ]
    if value < low:
        return [
            f"Value '{value}' at '{member}' failed to satisfy constraint: "
            f"Member must have value greater than or equal to {low}"
        ]
    if value > high:
        return [
            f"Value '{value}' at '{member}' failed to satisfy constraint: "
            f"Member must have value less than or equal to {high}"
        ]
    return []


def _check_batching(batch_size: int, window: Any, fifo: bool) -> None:
    """The SQS-specific rules on batch size and batching window."""
    if fifo and window:
        raise _invalid("Batching window is not supported for FIFO queues")
    if fifo and batch_size > 10:
        raise _invalid("Maximum batch size must be between 1 and 10 inclusive")
    if batch_size > 10 and not window:
        raise _invalid(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is "
            "greater than 10"
        )


def _check_role(role_arn: str, queue_arn: str) -> None:
    """Lambda polls with the function's execution role: AWS refuses a mapping whose role may not
    receive from, delete from and read the attributes of the queue."""
    parts = role_arn.split(":")
    documents = (MotoIam(parts[4]).role_policies(role_arn) if len(parts) > 4 else None) or []
    for action in POLLING_ACTIONS:
        if not allowed(documents, f"sqs:{action}", queue_arn):
            raise _invalid(
                f"The provided execution role does not have permissions to call {action} on SQS"
            )


def _check_timeouts(visibility: int, timeout: int) -> None:
    if timeout > visibility:
        raise _invalid(
            f"Queue visibility timeout: {visibility} seconds is less than Function timeout: "
            f"{timeout} seconds"
        )


def _is_sqs(arn: str) -> bool:
    parts = arn.split(":")
    return len(parts) == 6 and parts[0] == "arn" and parts[2] == "sqs"


def _name_and_qualifier(name: str) -> tuple[str, str | None]:
    """A function name, partial ARN or ARN, with its qualifier split off."""
    parts = name.split(":")
    if name.startswith("arn:"):
        return (":".join(parts[:7]), parts[7]) if len(parts) == 8 else (name, None)
    if len(parts) == 3 and parts[1] == "function":  # account:function:name
        return name, None
    if len(parts) == 4 and parts[1] == "function":
        return ":".join(parts[:3]), parts[3]
    if len(parts) == 2:
        return parts[0], parts[1]
    return name, None


def _same_function(wanted: str, function_arn: str, region: str) -> bool:
    base, qualifier = _name_and_qualifier(wanted)
    name = base.rsplit(":", 1)[-1] if ":" in base else base
    target_base, target_qualifier = _name_and_qualifier(function_arn)
    return target_base.rsplit(":", 1)[-1] == name and (
        qualifier is None or qualifier == target_qualifier
    )


def _json(environ: dict[str, Any]) -> dict[str, Any]:
    try:
        request = json.loads(read_body(environ) or b"{}")
    except ValueError:
        raise MappingError(
            400, "InvalidRequestContentException", "Could not parse request body into json"
        ) from None
    if not isinstance(request, dict):
        raise MappingError(
            400, "InvalidRequestContentException", "Could not parse request body into json"
        )
    return request
