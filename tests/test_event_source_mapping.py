"""SQS event source mappings on the local backend: created with boto3, polled as Lambda polls."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.parser.models import SqsModel
from botocore.exceptions import ClientError
from conftest import zipped

from workshop.apis import QUEUE_POLLING_ACTIONS
from workshop.lambdas import put_policy
from workshop.local.server import LocalServer
from workshop.local.sqs_events import messages_to_keep
from workshop.local.sqs_poller import MappingPollers, MappingSettings

# --- helpers -----------------------------------------------------------------------------------


def wait_until(predicate: Callable[[], object], timeout: float, step: float = 0.05):
    """Poll ``predicate`` until it is truthy; return its value, or fail after ``timeout``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"not true within {timeout} s: {predicate}")


def events(out: Path) -> list[dict]:
    """What the handler recorded: one entry per invocation."""
    if not out.exists():
        return []
    text = out.read_text()
    complete = text[: text.rfind("\n") + 1]  # a handler may be writing the last line just now
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


def records(out: Path) -> list[dict]:
    return [r for e in events(out) for r in e["event"]["Records"]]


def distinct(out: Path) -> int:
    """Messages handled at least once (moto may hand a standard queue's message to two
    concurrent receives)."""
    return len({r["messageId"] for r in records(out)})


def bodies(out: Path) -> list[dict]:
    return [json.loads(r["body"]) for r in records(out)]


def sqs_attributes_md5(attributes: dict) -> str:
    """MD5 of message attributes, computed the way SQS documents it."""
    digest = hashlib.md5()

    def put(data: bytes) -> None:
        digest.update(struct.pack(">I", len(data)) + data)

    for name in sorted(attributes):
        value = attributes[name]
        put(name.encode())
        put(value["DataType"].encode())
        if "BinaryValue" in value:
            digest.update(b"\x02")
            put(value["BinaryValue"])
        else:
            digest.update(b"\x01")
            put(value["StringValue"].encode())
    return digest.hexdigest()


def esm_threads(uuid: str) -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(f"esm-{uuid[:8]}-")]


class Setup:
    """A queue (with a DLQ), a function running ``tests/functions/<module>.py`` and helpers."""

    def __init__(self, cloud, tmp_path: Path):
        self.cloud = cloud
        self.sqs = cloud.client("sqs")
        self.aws_lambda = cloud.client("lambda")
        self.out = tmp_path / "events.jsonl"
        iam = cloud.client("iam")
        self.role = iam.create_role(
            RoleName=cloud.name("esm-role"),
            AssumeRolePolicyDocument="{}",
            Tags=cloud.tag_list(),
        )["Role"]["Arn"]
        # what a mapping's function needs to poll every queue here
        put_policy(iam, self.role, "poll", QUEUE_POLLING_ACTIONS, "*")
        self.mappings: list[str] = []

    def queue(
        self,
        base: str = "q",
        *,
        visibility: int = 30,
        dlq_after: int | None = None,
        fifo: bool = False,
    ) -> tuple[str, str]:
        """A queue (URL, ARN); with ``dlq_after``, a DLQ after that many receives."""
        attributes: dict = {"VisibilityTimeout": visibility}
        if dlq_after is not None:
            self.dlq_url = self.cloud.create_queue(f"{base}-dlq", fifo=fifo)
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": self.arn(self.dlq_url), "maxReceiveCount": dlq_after}
            )
        if fifo:
            attributes["ContentBasedDeduplication"] = "true"
        url = self.cloud.create_queue(base, fifo=fifo, **attributes)
        return url, self.arn(url)

    def arn(self, url: str) -> str:
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]

    def function(self, module: str = "esm_handler", variables: dict | None = None, **settings):
        name = self.cloud.name(module.replace("_", "-"))
        self.aws_lambda.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Handler=f"{module}.handler",
            Code={"ZipFile": zipped(module)},
            Tags=self.cloud.tags,
            Environment={"Variables": {"OUT": str(self.out), **(variables or {})}},
            **{"Role": self.role, "Timeout": 3, "MemorySize": 128, **settings},
        )
        return name

    def mapping(self, queue_arn: str, function: str, **settings) -> dict:
        mapping = self.aws_lambda.create_event_source_mapping(
            EventSourceArn=queue_arn, FunctionName=function, **settings
        )
        self.mappings.append(mapping["UUID"])
        return mapping

    def windowed(self, queue_arn: str, function: str, *, batch_size: int, window: int) -> dict:
        """A mapping that gathers batches for ``window`` seconds, with two pollers at most."""
        return self.mapping(
            queue_arn,
            function,
            BatchSize=batch_size,
            MaximumBatchingWindowInSeconds=window,
            ScalingConfig={"MaximumConcurrency": 2},
        )

    def send(self, url: str, messages: list[dict], **extra) -> list[str]:
        ids = []
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            entries = [
                {"Id": str(i), "MessageBody": json.dumps(m), **extra} for i, m in enumerate(chunk)
            ]
            result = self.sqs.send_message_batch(QueueUrl=url, Entries=entries)
            assert not result.get("Failed")
            by_id = {int(s["Id"]): s["MessageId"] for s in result["Successful"]}
            ids += [by_id[i] for i in range(len(chunk))]
        return ids

    def drain(self, url: str) -> list[dict]:
        found = []
        while True:
            got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return found
            found += got

    def depth(self, url: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())

    def close(self) -> None:
        for uuid in self.mappings:
            with contextlib.suppress(ClientError):
                self.aws_lambda.delete_event_source_mapping(UUID=uuid)
        for uuid in self.mappings:
            wait_until(lambda u=uuid: not esm_threads(u), 5)


@pytest.fixture
def esm(cloud, tmp_path):
    setup = Setup(cloud, tmp_path)
    yield setup
    setup.close()


def error_of(call: Callable[[], object]) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


# --- the event ---------------------------------------------------------------------------------


def test_event_is_built_as_lambda_builds_it(esm, cloud):
    url, arn = esm.queue()
    function = esm.function()
    attributes = {
        "colour": {"DataType": "String", "StringValue": "blue"},
        "size": {"DataType": "Number", "StringValue": "42"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
    }
    started_ms = time.time() * 1000
    sent = [
        esm.sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps({"n": n}),
            MessageAttributes=attributes if n == 0 else {},
            MessageSystemAttributes={
                "AWSTraceHeader": {
                    "DataType": "String",
                    "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
                }
            }
            if n == 1
            else {},
        )["MessageId"]
        for n in range(3)
    ]
    mapping = esm.mapping(arn, function, BatchSize=10, MaximumBatchingWindowInSeconds=1)
    assert mapping["State"] == "Creating"
    wait_until(lambda: distinct(esm.out) == 3, 10)
    for invocation in events(esm.out):
        SqsModel.model_validate(invocation["event"])  # powertools' model of the SQS event
    got = {r["messageId"]: r for r in records(esm.out)}
    assert sorted(got) == sorted(sent)
    assert len({r["receiptHandle"] for r in got.values()}) == 3
    for record in got.values():
        assert record["eventSource"] == "aws:sqs"
        assert record["eventSourceARN"] == arn
        assert record["awsRegion"] == "us-east-1"
        assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
        attrs = record["attributes"]
        assert attrs["ApproximateReceiveCount"] == "1"
        assert (
            started_ms - 1000
            <= int(attrs["SentTimestamp"])
            <= int(attrs["ApproximateFirstReceiveTimestamp"])
            <= time.time() * 1000
        )
        assert attrs["SenderId"]
        assert not {"SequenceNumber", "MessageGroupId", "MessageDeduplicationId"} & set(attrs)
    first, second, third = (got[i] for i in sent)
    assert first["messageAttributes"] == {
        "colour": {
            "stringValue": "blue",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        },
        "size": {
            "stringValue": "42",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Number",
        },
        "blob": {
            "binaryValue": base64.b64encode(b"\x00\x01\xff").decode(),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Binary",
        },
    }
    assert first["md5OfMessageAttributes"] == sqs_attributes_md5(attributes)
    assert "md5OfMessageAttributes" not in third and third["messageAttributes"] == {}
    assert second["attributes"]["AWSTraceHeader"].startswith("Root=1-5759e988")
    assert "AWSTraceHeader" not in third["attributes"]


def test_fifo_records_carry_group_sequence_and_deduplication(esm):
    url, arn = esm.queue(fifo=True)
    function = esm.function()
    for n in range(3):
        esm.sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps({"n": n}),
            MessageGroupId="g1",
            MessageDeduplicationId=f"d{n}",
        )
    esm.mapping(arn, function, BatchSize=10)
    wait_until(lambda: len(records(esm.out)) == 3, 10)
    for invocation in events(esm.out):
        SqsModel.model_validate(invocation["event"])
    for record in records(esm.out):
        attrs = record["attributes"]
        assert attrs["MessageGroupId"] == "g1"
        assert attrs["SequenceNumber"].isdigit()
        assert attrs["MessageDeduplicationId"] == f"d{json.loads(record['body'])['n']}"
    assert [b["n"] for b in bodies(esm.out)] == [0, 1, 2]


# --- batching ----------------------------------------------------------------------------------


def test_window_zero_invokes_with_one_receive(esm):
    url, arn = esm.queue()
    function = esm.function()
    esm.send(url, [{"n": n} for n in range(30)])
    esm.mapping(arn, function, BatchSize=10)
    wait_until(lambda: distinct(esm.out) == 30, 10)
    assert max(len(e["event"]["Records"]) for e in events(esm.out)) <= 10


def test_batching_window_gathers_past_ten_messages(esm):
    url, arn = esm.queue()
    function = esm.function()
    esm.send(url, [{"n": n} for n in range(25)])
    started = time.monotonic()
    esm.windowed(arn, function, batch_size=100, window=2)
    wait_until(lambda: distinct(esm.out) == 25, 10)
    elapsed = time.monotonic() - started
    sizes = sorted(len(e["event"]["Records"]) for e in events(esm.out))
    # two pollers at most, each gathering several receives of up to 10 until the window ends
    assert len(sizes) <= 2 and sizes[-1] > 10, sizes
    assert elapsed >= 1.9  # the batch waited for its window: it was not full
    assert len({r["messageId"] for r in records(esm.out)}) == 25


def test_a_message_back_during_the_window_is_one_record_with_its_latest_receipt():
    """A window longer than the visibility timeout lets a message come back while its batch is
    gathered; the batch keeps one record of it, with the receipt handle that can delete it."""
    settings = MappingSettings(
        uuid="u",
        queue_arn="arn:aws:sqs:us-east-1:123456789012:q",
        queue_url="http://127.0.0.1/123456789012/q",
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
        batch_size=100,
        window_s=0.3,
    )
    pollers = MappingPollers(None, settings)  # no gateway: its receives are scripted below

    def message(message_id: str, receipt: str, count: str) -> dict:
        attributes = {"ApproximateReceiveCount": count}
        return {
            "MessageId": message_id,
            "ReceiptHandle": receipt,
            "Body": "{}",
            "Attributes": attributes,
        }

    script = [
        [message("1", "r1", "1")],
        [message("1", "r2", "2"), message("2", "r3", "1")],
        [message("2", "r4", "1")],  # a standard queue's duplicate: same count, a record too
    ]
    pollers._receive = lambda settings, want, wait: script.pop(0) if script else []
    batch = pollers._gather()
    assert [(m["MessageId"], m["ReceiptHandle"]) for m in batch.messages] == [
        ("1", "r2"),
        ("2", "r3"),
        ("2", "r4"),
    ]
    assert batch.messages[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_full_batch_does_not_wait_for_the_window(esm):
    url, arn = esm.queue()
    function = esm.function()
    esm.send(url, [{"n": n} for n in range(40)])  # two pollers: 20 each fills both batches
    started = time.monotonic()
    esm.windowed(arn, function, batch_size=20, window=30)
    wait_until(lambda: distinct(esm.out) == 40, 10)
    assert time.monotonic() - started < 10  # far less than the 30 s window
    assert sorted(len(e["event"]["Records"]) for e in events(esm.out)) == [20, 20]


# --- outcomes ----------------------------------------------------------------------------------


def test_success_deletes_the_batch(esm):
    url, arn = esm.queue()
    function = esm.function()
    esm.send(url, [{"n": n} for n in range(15)])
    esm.mapping(arn, function)
    wait_until(lambda: distinct(esm.out) == 15, 10)
    wait_until(lambda: esm.depth(url) == 0, 5)


def test_function_error_redelivers_whole_batch_then_dead_letters(esm):
    url, arn = esm.queue(visibility=2, dlq_after=2)
    function = esm.function(Timeout=1)
    ids = esm.send(url, [{"n": 0, "raise": True}, {"n": 1}])
    esm.mapping(arn, function, BatchSize=10, ScalingConfig={"MaximumConcurrency": 2})
    wait_until(lambda: esm.depth(esm.dlq_url) == 2, 15)
    assert len(events(esm.out)[0]["event"]["Records"]) == 2  # one receive took both
    seen = records(esm.out)
    # the healthy message shared its batch's fate: received twice, then dead-lettered with it
    for message_id in ids:
        counts = sorted(
            int(r["attributes"]["ApproximateReceiveCount"])
            for r in seen
            if r["messageId"] == message_id
        )
        assert counts == [1, 2], counts
    assert esm.depth(url) == 0
    dead = esm.drain(esm.dlq_url)
    assert sorted(json.loads(m["Body"])["n"] for m in dead) == [0, 1]


def test_crashed_environment_fails_the_batch_and_it_comes_back(esm, server):
    url, arn = esm.queue(visibility=2)
    function = esm.function(Timeout=1)
    ids = esm.send(url, [{"n": 0, "exit_first": True}, {"n": 1}])
    mapping = esm.mapping(arn, function, ScalingConfig={"MaximumConcurrency": 2})
    wait_until(lambda: esm.depth(url) == 0, 10)
    assert len(events(esm.out)[0]["event"]["Records"]) == 2  # one receive took both
    counts = {i: [] for i in ids}
    for r in records(esm.out):
        counts[r["messageId"]].append(r["attributes"]["ApproximateReceiveCount"])
    assert list(counts.values()) == [["1", "2"], ["1", "2"]]
    assert server.gateway.mappings.stats(mapping["UUID"]).function_errors == 1


def test_function_timeout_counts_as_an_error(esm):
    url, arn = esm.queue(visibility=2)
    function = esm.function(Timeout=1)
    esm.send(url, [{"n": 0, "sleep": 1.5}])
    esm.mapping(arn, function)
    wait_until(lambda: len(records(esm.out)) >= 2, 10)
    counts = [r["attributes"]["ApproximateReceiveCount"] for r in records(esm.out)][:2]
    assert counts == ["1", "2"]


@pytest.mark.parametrize("report", [True, False])
def test_report_batch_item_failures_only_when_enabled(esm, report):
    url, arn = esm.queue(visibility=2, dlq_after=2)
    function = esm.function(Timeout=1)
    ids = esm.send(url, [{"n": n, "fail": n in (1, 3)} for n in range(5)])
    settings = {"FunctionResponseTypes": ["ReportBatchItemFailures"]} if report else {}
    mapping = esm.mapping(
        arn, function, BatchSize=10, ScalingConfig={"MaximumConcurrency": 2}, **settings
    )
    assert mapping["FunctionResponseTypes"] == (["ReportBatchItemFailures"] if report else [])
    if report:
        # the reported two come back (twice), then go to the DLQ; the other three are deleted
        wait_until(lambda: esm.depth(esm.dlq_url) == 2, 15)
        dead = sorted(json.loads(m["Body"])["n"] for m in esm.drain(esm.dlq_url))
        assert dead == [1, 3]
        per_message = {i: 0 for i in ids}
        for r in records(esm.out):
            per_message[r["messageId"]] += 1
        assert [per_message[i] for i in ids] == [1, 2, 1, 2, 1]
    else:
        # without the flag the answer is ignored: the whole batch succeeded
        wait_until(lambda: len(records(esm.out)) == 5, 10)
        time.sleep(2.5)  # past the visibility timeout: nothing comes back
        assert len(records(esm.out)) == 5
        assert esm.depth(url) == 0 and esm.depth(esm.dlq_url) == 0


def test_unknown_item_identifier_fails_the_whole_batch(esm):
    url, arn = esm.queue(visibility=2)
    function = esm.function(Timeout=1)
    esm.send(
        url,
        [{"n": 0}, {"n": 1, "respond": {"batchItemFailures": [{"itemIdentifier": "nope"}]}}],
    )
    esm.mapping(
        arn,
        function,
        BatchSize=10,
        ScalingConfig={"MaximumConcurrency": 2},
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    wait_until(lambda: len(records(esm.out)) >= 4, 10)
    assert len(events(esm.out)[0]["event"]["Records"]) == 2  # one receive took both
    counts = sorted(int(r["attributes"]["ApproximateReceiveCount"]) for r in records(esm.out))
    assert counts[:4] == [1, 1, 2, 2]


IDS = ["a", "b", "c"]


@pytest.mark.parametrize(
    ("answer", "kept"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": None}, set()),
        ({"statusCode": 200}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "c"}]}, {"a", "c"}),
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, set(IDS)),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, set(IDS)),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, set(IDS)),
        ({"batchItemFailures": [{"id": "a"}]}, set(IDS)),
        ({"batchItemFailures": ["a"]}, set(IDS)),
        ({"batchItemFailures": "a"}, set(IDS)),
        ("ok", set(IDS)),
        ([], set(IDS)),
    ],
)
def test_partial_batch_response_rules(answer, kept):
    assert messages_to_keep(json.dumps(answer).encode(), IDS, True) == kept
    assert messages_to_keep(json.dumps(answer).encode(), IDS, False) == set()


def test_malformed_json_answer_fails_the_whole_batch():
    assert messages_to_keep(b"{not json", IDS, True) == set(IDS)
    assert messages_to_keep(b"", IDS, True) == set()  # no answer at all is a null answer


def test_powertools_batch_processor_in_a_handler(esm):
    url, arn = esm.queue(visibility=3, dlq_after=1)
    function = esm.function("esm_powertools", Timeout=2)
    esm.send(url, [{"n": n, "fail": n == 2} for n in range(4)])
    esm.mapping(
        arn,
        function,
        BatchSize=10,
        ScalingConfig={"MaximumConcurrency": 2},
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    wait_until(lambda: esm.depth(esm.dlq_url) == 1, 15)
    assert [json.loads(m["Body"])["n"] for m in esm.drain(esm.dlq_url)] == [2]
    assert esm.depth(url) == 0


def test_fifo_keeps_each_group_in_order(esm):
    url, arn = esm.queue(fifo=True, visibility=1)
    function = esm.function(Timeout=1)
    for group in ("a", "b", "c"):
        esm.send(url, [{"g": group, "n": n} for n in range(12)], MessageGroupId=group)
    esm.mapping(arn, function, BatchSize=5)
    wait_until(lambda: len(records(esm.out)) == 36, 15)
    for group in ("a", "b", "c"):
        assert [b["n"] for b in bodies(esm.out) if b["g"] == group] == list(range(12))


def test_fifo_failure_holds_the_group_until_redelivery(esm):
    url, arn = esm.queue(fifo=True, visibility=1)
    function = esm.function(Timeout=1)
    # the first batch of group "a" fails once (its first message raises on its first receive
    # only: the handler is told by the receive count); nothing of "a" overtakes it
    esm.send(
        url,
        [{"g": "a", "n": 0, "raise_first": True}] + [{"g": "a", "n": n} for n in (1, 2)],
        MessageGroupId="a",
    )
    esm.mapping(arn, function, BatchSize=1)
    wait_until(lambda: len(records(esm.out)) >= 4, 10)
    seen = [
        (json.loads(r["body"])["n"], r["attributes"]["ApproximateReceiveCount"])
        for r in records(esm.out)
    ]
    assert seen[:4] == [(0, "1"), (0, "2"), (1, "1"), (2, "1")], seen


def test_fifo_partial_failure_stopping_at_the_first_failure_keeps_order(esm):
    url, arn = esm.queue(fifo=True, visibility=2, dlq_after=3)
    # Lambda deletes what the function does not report; a FIFO consumer must therefore report
    # its first failure and everything after it in the batch
    function = esm.function(variables={"STOP_AT_FIRST_FAILURE": "1"}, Timeout=1)
    esm.send(url, [{"n": n, "fail_first": n == 1} for n in range(4)], MessageGroupId="a")
    esm.mapping(arn, function, BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"])
    wait_until(lambda: len(records(esm.out)) == 7, 10)
    seen = [
        (json.loads(r["body"])["n"], r["attributes"]["ApproximateReceiveCount"])
        for r in records(esm.out)
    ]
    assert seen == [(0, "1"), (1, "1"), (2, "1"), (3, "1"), (1, "2"), (2, "2"), (3, "2")]
    wait_until(lambda: esm.depth(url) == 0, 3)
    assert esm.depth(esm.dlq_url) == 0


# --- throttling and scaling ----------------------------------------------------------------


def test_throttled_batches_are_retried_not_lost(esm, server):
    url, arn = esm.queue(visibility=20)
    function = esm.function(Timeout=2)
    esm.aws_lambda.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=1)
    esm.send(url, [{"n": n, "sleep": 0.2} for n in range(8)])
    mapping = esm.mapping(arn, function, BatchSize=1)
    wait_until(lambda: len(records(esm.out)) == 8, 15)
    assert all(r["attributes"]["ApproximateReceiveCount"] == "1" for r in records(esm.out))
    stats = server.gateway.mappings.stats(mapping["UUID"])
    assert stats.throttles > 0  # five pollers against a reserved concurrency of one
    wait_until(lambda: esm.depth(url) == 0, 5)


def test_maximum_concurrency_caps_the_pollers(esm, server):
    url, arn = esm.queue(visibility=5)
    function = esm.function()
    esm.send(url, [{"n": n, "sleep": 0.05} for n in range(100)])
    mapping = esm.mapping(arn, function, BatchSize=2, ScalingConfig={"MaximumConcurrency": 3})
    # distinct messages: a standard queue may deliver one twice
    wait_until(lambda: len({r["messageId"] for r in records(esm.out)}) == 100, 20)
    assert server.gateway.mappings.stats(mapping["UUID"]).pollers_peak == 3


def test_pollers_scale_up_while_batches_come_full_and_down_when_idle(esm, server):
    url, arn = esm.queue(visibility=5)  # a batch lost to a crashed cold start comes back soon
    function = esm.function()
    esm.send(url, [{"n": n, "sleep": 0.02} for n in range(300)])
    mapping = esm.mapping(arn, function, BatchSize=2)
    wait_until(lambda: len({r["messageId"] for r in records(esm.out)}) == 300, 30)
    stats = server.gateway.mappings.stats(mapping["UUID"])
    assert stats.pollers_peak > 5
    wait_until(lambda: len(esm_threads(mapping["UUID"])) == 5, 5)  # idle: back to five


# --- control plane -----------------------------------------------------------------------------


def test_disable_stops_polling_promptly_and_enable_resumes(esm):
    url, arn = esm.queue()
    function = esm.function()
    mapping = esm.mapping(arn, function)
    uuid = mapping["UUID"]
    wait_until(lambda: esm.aws_lambda.get_event_source_mapping(UUID=uuid)["State"] == "Enabled", 2)
    assert esm_threads(uuid)
    started = time.monotonic()
    answer = esm.aws_lambda.update_event_source_mapping(UUID=uuid, Enabled=False)
    assert answer["State"] == "Disabling"
    wait_until(lambda: esm.aws_lambda.get_event_source_mapping(UUID=uuid)["State"] == "Disabled", 3)
    assert time.monotonic() - started < 1.6 and not esm_threads(uuid)
    esm.send(url, [{"n": 1}])
    time.sleep(1.0)
    assert records(esm.out) == []
    answer = esm.aws_lambda.update_event_source_mapping(UUID=uuid, Enabled=True)
    assert answer["State"] == "Enabling"
    wait_until(lambda: len(records(esm.out)) == 1, 5)


def test_enable_right_after_disable_keeps_polling(esm):
    url, arn = esm.queue()
    function = esm.function()
    uuid = esm.mapping(arn, function)["UUID"]
    esm.aws_lambda.update_event_source_mapping(UUID=uuid, Enabled=False)
    esm.aws_lambda.update_event_source_mapping(UUID=uuid, Enabled=True)  # still stopping
    time.sleep(1.5)  # the old pollers are gone by now
    esm.send(url, [{"n": 1}])
    wait_until(lambda: len(records(esm.out)) == 1, 5)
    assert esm.aws_lambda.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"


def test_a_batch_in_hand_when_disabled_is_still_processed(esm):
    url, arn = esm.queue()
    function = esm.function()
    mapping = esm.windowed(arn, function, batch_size=50, window=5)
    esm.send(url, [{"n": n} for n in range(3)])
    time.sleep(0.5)  # gathering: the window has 4.5 s to go
    esm.aws_lambda.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    wait_until(lambda: len(records(esm.out)) == 3, 3)
    wait_until(lambda: esm.depth(url) == 0, 3)


def test_update_changes_settings_and_delete_stops_the_pollers(esm):
    url, arn = esm.queue()
    function = esm.function()
    mapping = esm.mapping(arn, function)
    uuid = mapping["UUID"]
    answer = esm.aws_lambda.update_event_source_mapping(
        UUID=uuid,
        BatchSize=50,
        MaximumBatchingWindowInSeconds=2,  # long enough for three sends on a busy machine
        ScalingConfig={"MaximumConcurrency": 2},
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    assert answer["State"] == "Updating"
    got = esm.aws_lambda.get_event_source_mapping(UUID=uuid)
    assert (got["BatchSize"], got["MaximumBatchingWindowInSeconds"]) == (50, 2)
    assert got["ScalingConfig"] == {"MaximumConcurrency": 2}
    assert got["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    listed = esm.aws_lambda.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [uuid]
    by_arn = esm.aws_lambda.list_event_source_mappings(FunctionName=got["FunctionArn"])
    assert [m["UUID"] for m in by_arn["EventSourceMappings"]] == [uuid]
    wait_until(lambda: len(esm_threads(uuid)) == 2, 3)  # the idle extra pollers retired
    esm.send(url, [{"n": n} for n in range(25)])  # two pollers: one gathers more than 10
    wait_until(lambda: distinct(esm.out) == 25, 8)
    assert max(len(e["event"]["Records"]) for e in events(esm.out)) > 10
    assert esm.aws_lambda.delete_event_source_mapping(UUID=uuid)["State"] == "Deleting"
    wait_until(lambda: not esm_threads(uuid), 2)
    assert error_of(lambda: esm.aws_lambda.get_event_source_mapping(UUID=uuid))[0] == (
        "ResourceNotFoundException"
    )
    code, _ = error_of(lambda: esm.aws_lambda.delete_event_source_mapping(UUID=uuid))
    assert code == "ResourceNotFoundException"
    code, _ = error_of(lambda: esm.aws_lambda.update_event_source_mapping(UUID=uuid, BatchSize=5))
    assert code == "ResourceNotFoundException"


def test_cleanup_deletes_the_mapping_and_stops_its_pollers(esm, cloud):
    _url, arn = esm.queue()
    function = esm.function()
    uuid = esm.mapping(arn, f"arn:aws:lambda:us-east-1:123456789012:function:{function}")["UUID"]
    assert esm_threads(uuid)
    removed = cloud.cleanup(quiet=True)
    assert any(uuid in str(item) for item in removed), removed
    wait_until(lambda: not esm_threads(uuid), 2)
    listed = esm.aws_lambda.list_event_source_mappings(EventSourceArn=arn)
    assert listed["EventSourceMappings"] == []


def test_the_function_role_must_be_allowed_to_poll_the_queue(esm, cloud):
    iam = cloud.client("iam")
    role = iam.create_role(
        RoleName=cloud.name("no-poll"), AssumeRolePolicyDocument="{}", Tags=cloud.tag_list()
    )["Role"]
    _url, arn = esm.queue()
    function = esm.function(Role=role["Arn"])
    create = esm.aws_lambda.create_event_source_mapping

    def refusal() -> tuple[str, str]:
        return error_of(lambda: create(EventSourceArn=arn, FunctionName=function))

    missing = "The provided execution role does not have permissions to call {} on SQS"
    assert refusal() == ("InvalidParameterValueException", missing.format("ReceiveMessage"))
    put_policy(iam, role["RoleName"], "poll", ["sqs:ReceiveMessage"], arn)
    assert refusal()[1] == missing.format("DeleteMessage")
    put_policy(iam, role["RoleName"], "poll", ["sqs:ReceiveMessage", "sqs:DeleteMessage"], arn)
    assert refusal()[1] == missing.format("GetQueueAttributes")
    put_policy(iam, role["RoleName"], "poll", ["sqs:*"], arn)
    put_policy(iam, role["RoleName"], "deny", ["sqs:DeleteMessage"], arn, "Deny")  # Deny wins
    assert refusal()[1] == missing.format("DeleteMessage")
    iam.delete_role_policy(RoleName=role["RoleName"], PolicyName="deny")
    mapping = esm.mapping(arn, function, Enabled=False)
    # switching the mapping to a function whose role may not poll is refused too
    bare = iam.create_role(
        RoleName=cloud.name("bare"), AssumeRolePolicyDocument="{}", Tags=cloud.tag_list()
    )["Role"]["Arn"]
    other = esm.function("probe", Role=bare)
    code, message = error_of(
        lambda: esm.aws_lambda.update_event_source_mapping(UUID=mapping["UUID"], FunctionName=other)
    )
    assert (code, message) == ("InvalidParameterValueException", missing.format("ReceiveMessage"))


def test_create_and_update_checks_as_aws_makes_them(esm):
    _url, arn = esm.queue(visibility=5)
    _fifo_url, fifo_arn = esm.queue("f", fifo=True)
    function = esm.function(Timeout=3)
    slow = esm.function("probe", Timeout=10)
    create = esm.aws_lambda.create_event_source_mapping
    cases = [
        (
            dict(EventSourceArn=arn, FunctionName=slow),
            "InvalidParameterValueException",
            "Queue visibility timeout: 5 seconds is less than Function timeout: 10 seconds",
        ),
        (
            dict(EventSourceArn=arn, FunctionName=function, BatchSize=11),
            "InvalidParameterValueException",
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is "
            "greater than 10",
        ),
        (
            dict(
                EventSourceArn=arn,
                FunctionName=function,
                BatchSize=10001,
                MaximumBatchingWindowInSeconds=1,
            ),
            "ValidationException",
            "1 validation error detected: Value '10001' at 'batchSize' failed to satisfy "
            "constraint: Member must have value less than or equal to 10000",
        ),
        (
            dict(EventSourceArn=arn, FunctionName=function, MaximumBatchingWindowInSeconds=301),
            "ValidationException",
            "1 validation error detected: Value '301' at 'maximumBatchingWindowInSeconds' failed "
            "to satisfy constraint: Member must have value less than or equal to 300",
        ),
        (
            dict(
                EventSourceArn=arn,
                FunctionName=function,
                ScalingConfig={"MaximumConcurrency": 1001},
            ),
            "ValidationException",
            "1 validation error detected: Value '1001' at 'scalingConfig.maximumConcurrency' "
            "failed to satisfy constraint: Member must have value less than or equal to 1000",
        ),
        (
            dict(EventSourceArn=arn, FunctionName=function, FunctionResponseTypes=["Partial"]),
            "ValidationException",
            "1 validation error detected: Value '[Partial]' at 'functionResponseTypes' failed to "
            "satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value "
            "set: [ReportBatchItemFailures]]",
        ),
        (
            dict(EventSourceArn=fifo_arn, FunctionName=function, MaximumBatchingWindowInSeconds=1),
            "InvalidParameterValueException",
            "Batching window is not supported for FIFO queues",
        ),
        (
            dict(EventSourceArn=fifo_arn, FunctionName=function, BatchSize=11),
            "InvalidParameterValueException",
            "Maximum batch size must be between 1 and 10 inclusive",
        ),
        (
            dict(EventSourceArn=arn + "-missing", FunctionName=function),
            "InvalidParameterValueException",
            "Error occurred while ReceiveMessage. SQS Error Code: "
            "AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue "
            "does not exist.",
        ),
        (
            dict(EventSourceArn=arn, FunctionName=function + "-missing"),
            "InvalidParameterValueException",
            "Function does not exist",
        ),
    ]
    for request, code, message in cases:
        assert error_of(lambda r=request: create(**r)) == (code, message), request
    assert (
        esm.aws_lambda.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"] == []
    )
    # boto3 itself refuses what is below the model's minimum
    with pytest.raises(Exception, match="MaximumConcurrency"):
        create(EventSourceArn=arn, FunctionName=function, ScalingConfig={"MaximumConcurrency": 1})

    mapping = esm.mapping(arn, function, Enabled=False)
    assert mapping["State"] == "Creating"
    code, message = error_of(lambda: create(EventSourceArn=arn, FunctionName=function))
    assert code == "ResourceConflictException" and mapping["UUID"] in message
    update = esm.aws_lambda.update_event_source_mapping
    assert error_of(lambda: update(UUID=mapping["UUID"], BatchSize=11))[1].startswith(
        "Maximum batch window in seconds must be greater than 0"
    )
    assert error_of(lambda: update(UUID=mapping["UUID"], FunctionName=slow))[1] == (
        "Queue visibility timeout: 5 seconds is less than Function timeout: 10 seconds"
    )
    got = esm.aws_lambda.get_event_source_mapping(UUID=mapping["UUID"])
    assert got["BatchSize"] == 10 and got["State"] == "Disabled"
    assert got["FunctionArn"].endswith(f":function:{function}")
    assert not esm_threads(mapping["UUID"])


def test_simultaneous_creates_make_one_mapping(esm):
    _url, arn = esm.queue()
    function = esm.function()
    outcomes: list[str] = []

    def create() -> None:
        try:
            esm.mapping(arn, function, Enabled=False)
            outcomes.append("created")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(outcomes) == ["ResourceConflictException"] * 5 + ["created"]
    listed = esm.aws_lambda.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]
    assert len(listed) == 1


def test_server_stop_ends_every_poller(tmp_path):
    with LocalServer() as server:
        from conftest import make_local

        cloud = make_local(server)
        setup = Setup(cloud, tmp_path)
        url, arn = setup.queue()
        function = setup.function()
        mapping = setup.mapping(arn, function)
        setup.send(url, [{"n": n} for n in range(5)])
        wait_until(lambda: len(records(setup.out)) == 5, 10)
        assert esm_threads(mapping["UUID"])
    assert not esm_threads(mapping["UUID"])


def test_a_malformed_create_request_gets_an_aws_shaped_error(server):
    """What boto3 would never send (no FunctionName, a ScalingConfig that is not an object)."""
    import urllib.error
    import urllib.request

    cases = {
        b'{"EventSourceArn": "arn:aws:sqs:us-east-1:123456789012:q"}': "ValidationException",
        b"[1, 2]": "InvalidRequestContentException",
    }
    for body, code in cases.items():
        request = urllib.request.Request(
            f"{server.endpoint_url}/2015-03-31/event-source-mappings/", data=body, method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 400
        assert refused.value.headers["x-amzn-ErrorType"] == code
