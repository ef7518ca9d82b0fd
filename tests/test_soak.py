"""Soak: 5,000 messages through an HTTP API, SQS and Lambda, with failures and crashes.

The article's architecture under stress: an HTTP API's SQS-SendMessage integration puts each
request on a queue; an event source mapping hands batches to a function that fails 10% of its
messages (reporting them with ``ReportBatchItemFailures``) while a killer thread SIGKILLs its
execution environments at random. In the end every message must be accounted for exactly:
processed (the function wrote it down) or in the dead-letter queue, nothing left in the queue.
A message may be processed twice (its environment was killed after the function wrote it down
but before Lambda could delete it); such duplicates are counted and reported, as at-least-once
delivery allows them.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from conftest import zipped

from workshop import apis as workshop_apis
from workshop.lambdas import put_policy

MESSAGES = 5_000
MAX_RECEIVES = 3  # then the DLQ: at 10% failures about 0.1% of messages get there
BUDGET_S = 45  # to drain the queue after the last send


def send_over_http(endpoint: str, count: int, workers: int = 8) -> list[int]:
    """POST ``{"n": i}`` for every i to the API; return the status codes."""
    parts = urlsplit(endpoint)

    def post_range(numbers: range) -> list[int]:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        statuses = []
        try:
            for n in numbers:
                connection.request(
                    "POST",
                    f"{parts.path}/jobs",
                    body=json.dumps({"n": n}),
                    headers={"Content-Type": "application/json"},
                )
                response = connection.getresponse()
                response.read()
                statuses.append(response.status)
        finally:
            connection.close()
        return statuses

    with ThreadPoolExecutor(workers) as pool:
        parts_of = [range(i, count, workers) for i in range(workers)]
        return [s for chunk in pool.map(post_range, parts_of) for s in chunk]


def kill_environments(gateway, function: str, stop: threading.Event, kills: list[int]) -> None:
    """SIGKILL one of the function's busy or idle environments every 0.5 to 1.5 s (each kill
    costs a cold start: a few tenths of a second of CPU on a 2-core machine)."""
    rng = random.Random(7)
    while not stop.wait(rng.uniform(0.5, 1.5)):
        alive = [
            e["pid"]
            for e in gateway.lambdas.environments()
            if e["function"] == function and e["alive"]
        ]
        if alive:
            pid = rng.choice(alive)
            try:
                os.kill(pid, signal.SIGKILL)
                kills.append(pid)
            except ProcessLookupError:
                pass


def test_soak_http_api_sqs_lambda_with_failures_and_crashes(cloud, server, tmp_path):
    sqs, aws_lambda = cloud.client("sqs"), cloud.client("lambda")
    iam = cloud.client("iam")
    out = tmp_path / "processed.tsv"

    dlq = cloud.create_queue("soak-dlq")
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue = cloud.create_queue(
        "soak",
        VisibilityTimeout=3,
        RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES}),
    )
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]

    role = iam.create_role(
        RoleName=cloud.name("soak-role"), AssumeRolePolicyDocument="{}", Tags=cloud.tag_list()
    )["Role"]["Arn"]
    actions = ["sqs:SendMessage", *workshop_apis.QUEUE_POLLING_ACTIONS]
    put_policy(iam, role, "send-and-poll", actions, queue_arn)
    api = workshop_apis.queue_api(cloud, queue, role, "POST /jobs", name="soak")

    function = cloud.name("soak")
    aws_lambda.create_function(
        FunctionName=function,
        Runtime="python3.12",
        Role=role,
        Handler="esm_soak.handler",
        Code={"ZipFile": zipped("esm_soak")},
        Timeout=2,
        MemorySize=128,
        Environment={"Variables": {"OUT": str(out), "FAIL_RATE": "0.1", "WORK_S": "0.01"}},
        Tags=cloud.tags,
    )
    mapping = aws_lambda.create_event_source_mapping(
        EventSourceArn=queue_arn,
        FunctionName=function,
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )

    gateway = server.gateway
    stop, kills = threading.Event(), []
    killer = threading.Thread(
        target=kill_environments, args=(gateway, function, stop, kills), name="soak-killer"
    )
    started = time.monotonic()
    killer.start()
    try:
        statuses = send_over_http(api["ApiEndpoint"], MESSAGES)
        sent_s = time.monotonic() - started
        assert Counter(statuses) == {200: MESSAGES}

        def depth() -> int:
            attributes = sqs.get_queue_attributes(
                QueueUrl=queue,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
            return sum(int(v) for v in attributes.values())

        deadline = time.monotonic() + BUDGET_S
        while depth() and time.monotonic() < deadline:
            if time.monotonic() - started > 20:
                stop.set()  # the last stragglers get through without crashes
            time.sleep(0.2)
        stop.set()
        killer.join(5)
        left = depth()
        drained_s = time.monotonic() - started
    finally:
        stop.set()
        killer.join(5)
        aws_lambda.delete_event_source_mapping(UUID=mapping["UUID"])

    assert left == 0, f"{left} messages still in the queue after {BUDGET_S} s"
    processed = Counter()
    receive_counts = Counter()
    for line in out.read_text().splitlines():
        n, _message_id, count = line.split("\t")
        processed[int(n)] += 1
        receive_counts[int(count)] += 1
    dead = Counter()
    while True:
        got = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=60)
        if not got.get("Messages"):
            break
        for message in got["Messages"]:
            dead[json.loads(message["Body"])["n"]] += 1

    everything = set(range(MESSAGES))
    assert set(processed) | set(dead) == everything, "messages lost"
    assert set(processed) <= everything and set(dead) <= everything
    assert all(count == 1 for count in dead.values()), "a message reached the DLQ twice"
    duplicates = sum(count - 1 for count in processed.values())
    both = set(processed) & set(dead)
    stats = gateway.mappings.stats(mapping["UUID"])
    print(
        f"\nsoak: {MESSAGES} sent over HTTP in {sent_s:.1f} s, all settled after "
        f"{drained_s:.1f} s; processed {len(processed)} distinct, {duplicates} duplicate "
        f"processings; {len(dead)} in the DLQ ({len(both)} of them processed once before); "
        f"{len(kills)} environments killed; {stats.batches} batches, "
        f"{stats.function_errors} failed invocations, pollers at most {stats.pollers_peak}; "
        f"deliveries by receive count {dict(sorted(receive_counts.items()))}"
    )
    assert kills, "no environment was killed: the soak proved nothing about crashes"
    assert len(processed) + len(dead) - len(both) == MESSAGES  # counted exactly
