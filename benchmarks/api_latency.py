"""HTTP API latency on the local backend: API Gateway to Lambda, to SQS, and to SQS then Lambda.

Starts its own local cloud and measures, with plain ``http.client`` connections:

- HTTP API -> warm Lambda (quick create, payload 2.0, functions/hello): median and p99 of
  ``sequential`` requests one after another, then throughput with ``threads`` client threads
  each sending requests for ``seconds`` seconds;
- HTTP API -> SQS-SendMessage integration: median and p99 of ``sequential`` requests, the queue
  emptied every 100 sends (as consumers keep it short), then again with the queue filling up
  (moto counts the queue's messages on every send; the local cloud makes that count cheap);
- HTTP API -> SQS -> Lambda through an event source mapping (batch size 10, no batching window),
  at low load (one request every 100 ms): from the request being sent to the consumer's log
  line saying it processed the message (both clocks are this machine's).

The issue's targets: Lambda median <= 5 ms, p99 <= 25 ms, >= 300 requests/s; SQS median
<= 10 ms; end to end median <= 100 ms.

Run:
    python benchmarks/api_latency.py [sequential] [threads] [seconds] [messages]
    (defaults 1000 4 5 50)
"""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import threading
import time
import uuid
from urllib.parse import urlparse

import boto3

from workshop.apis import QUEUE_POLLING_ACTIONS
from workshop.lambdas import FUNCTIONS_DIR, put_policy, zip_folder
from workshop.local.server import LocalServer

CONSUMER = """
import json, time

def handler(event, context):
    for record in event["Records"]:
        print("PROCESSED", json.loads(record["body"])["id"], int(time.time() * 1000))
    return {}
"""


def zipped_source(source: str) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary(label: str, values: list[float]) -> str:
    return (
        f"{label:<34} median {statistics.median(values):6.2f} ms   "
        f"p99 {percentile(values, 99):6.2f} ms   (n={len(values)})"
    )


class Client:
    """One client's connection (the server closes after each answer; it reconnects)."""

    def __init__(self, endpoint: str):
        url = urlparse(endpoint)
        self.host, self.port, self.base = url.hostname, url.port, url.path

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, float]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        started = time.perf_counter()
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            connection.request(method, self.base + path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
        finally:
            connection.close()
        return response.status, (time.perf_counter() - started) * 1000


def sequential(client: Client, count: int, method: str = "GET", body: bytes | None = None):
    latencies = []
    for _ in range(count):
        status, elapsed = client.request(method, "/bench", body)
        if status != 200:
            raise RuntimeError(f"unexpected status {status}")
        latencies.append(elapsed)
    return latencies


def throughput(endpoint: str, threads: int, seconds: float) -> tuple[float, list[float], int]:
    stop = time.monotonic() + seconds
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def run() -> None:
        client = Client(endpoint)
        mine = []
        while time.monotonic() < stop:
            status, elapsed = client.request("GET", "/bench")
            if status != 200:
                with lock:
                    errors[0] += 1
            mine.append(elapsed)
        with lock:
            latencies.extend(mine)

    started = time.monotonic()
    workers = [threading.Thread(target=run, name=f"bench-client-{i}") for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=seconds + 60)
    return len(latencies) / (time.monotonic() - started), latencies, errors[0]


def main(count: int = 1000, threads: int = 4, seconds: float = 5, messages: int = 50) -> None:
    with LocalServer() as server:
        options = {
            "endpoint_url": server.endpoint_url,
            "region_name": "us-east-1",
            "aws_access_key_id": "bench",
            "aws_secret_access_key": "bench",
        }
        aws_lambda = boto3.client("lambda", **options)
        apis = boto3.client("apigatewayv2", **options)
        iam = boto3.client("iam", **options)
        sqs = boto3.client("sqs", **options)
        logs = boto3.client("logs", **options)
        suffix = uuid.uuid4().hex[:6]
        role = iam.create_role(RoleName=f"bench-{suffix}", AssumeRolePolicyDocument="{}")["Role"]
        account = role["Arn"].split(":")[4]

        # --- HTTP API -> Lambda -------------------------------------------------------------
        function = aws_lambda.create_function(
            FunctionName=f"bench-hello-{suffix}",
            Runtime="python3.12",
            Role=role["Arn"],
            Handler="app.handler",
            Code={"ZipFile": zip_folder(FUNCTIONS_DIR / "hello")},
        )
        api = apis.create_api(
            Name=f"bench-{suffix}", ProtocolType="HTTP", Target=function["FunctionArn"]
        )
        aws_lambda.add_permission(
            FunctionName=function["FunctionName"],
            StatementId="apigateway",
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceArn=f"arn:aws:execute-api:us-east-1:{account}:{api['ApiId']}/*",
        )
        client = Client(api["ApiEndpoint"])
        sequential(client, 20)  # warm: an environment is running
        print(f"local cloud {server.endpoint_url}; {count} sequential requests per figure\n")
        print(summary("HTTP API -> warm Lambda", sequential(client, count)))
        rate, latencies, errors = throughput(api["ApiEndpoint"], threads, seconds)
        print(
            f"{'  ' + str(threads) + ' client threads':<34} {rate:6.0f} requests/s   "
            f"median {statistics.median(latencies):.2f} ms   p99 {percentile(latencies, 99):.2f} ms"
            f"   errors {errors}"
        )

        # --- HTTP API -> SQS ----------------------------------------------------------------
        queue = sqs.create_queue(QueueName=f"bench-{suffix}")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        actions = ["sqs:SendMessage", *QUEUE_POLLING_ACTIONS]
        put_policy(iam, role["RoleName"], "send-and-poll", actions, queue_arn)
        to_sqs = apis.create_api(Name=f"bench-sqs-{suffix}", ProtocolType="HTTP")
        integration = apis.create_integration(
            ApiId=to_sqs["ApiId"],
            IntegrationType="AWS_PROXY",
            IntegrationSubtype="SQS-SendMessage",
            PayloadFormatVersion="1.0",
            CredentialsArn=role["Arn"],
            RequestParameters={"QueueUrl": queue, "MessageBody": "$request.body"},
        )
        apis.create_route(
            ApiId=to_sqs["ApiId"],
            RouteKey="POST /bench",
            Target=f"integrations/{integration['IntegrationId']}",
        )
        apis.create_stage(ApiId=to_sqs["ApiId"], StageName="$default", AutoDeploy=True)
        sqs_client = Client(to_sqs["ApiEndpoint"])
        sequential(sqs_client, 20, "POST", b'{"id": "warm"}')
        body = b'{"id": "bench"}'
        shallow: list[float] = []
        while len(shallow) < count:  # a queue that its consumers keep short
            drain(sqs, queue)
            shallow += sequential(sqs_client, min(100, count - len(shallow)), "POST", body)
        print(summary("HTTP API -> SQS-SendMessage", shallow))
        deep = sequential(sqs_client, count, "POST", body)
        print(summary(f"  queue filling up to {count}", deep))

        # --- HTTP API -> SQS -> Lambda --------------------------------------------------------
        drain(sqs, queue)
        consumer = aws_lambda.create_function(
            FunctionName=f"bench-consumer-{suffix}",
            Runtime="python3.12",
            Role=role["Arn"],
            Handler="app.handler",
            Code={"ZipFile": zipped_source(CONSUMER)},
        )["FunctionName"]
        try:
            aws_lambda.create_event_source_mapping(
                EventSourceArn=queue_arn,
                FunctionName=consumer,
                BatchSize=10,
                MaximumBatchingWindowInSeconds=0,
            )
        except Exception as error:  # the mapping may not exist on this backend yet
            print(f"HTTP API -> SQS -> Lambda: no event source mapping ({error})")
            return
        end_to_end(sqs_client, sqs, queue, logs, consumer, messages)


def drain(sqs, queue: str) -> None:
    """Receive and delete until the queue is empty (PurgeQueue is allowed once a minute)."""
    while True:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages")
        if not messages:
            return
        sqs.delete_message_batch(
            QueueUrl=queue,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )


def end_to_end(client: Client, sqs, queue: str, logs, consumer: str, messages: int) -> None:
    sent: dict[str, float] = {}
    # A first message starts the consumer's environment; it is not counted.
    client.request("POST", "/bench", json.dumps({"id": "cold"}).encode())
    time.sleep(2)
    for _ in range(messages):
        key = uuid.uuid4().hex
        sent[key] = time.time() * 1000
        status, _elapsed = client.request("POST", "/bench", json.dumps({"id": key}).encode())
        if status != 200:
            print(f"  message {key}: HTTP {status}")
        time.sleep(0.1)
    processed: dict[str, float] = {}
    deadline = time.monotonic() + 30
    while len(processed) < len(sent) and time.monotonic() < deadline:
        time.sleep(0.5)
        pages = logs.get_paginator("filter_log_events").paginate(
            logGroupName=f"/aws/lambda/{consumer}", filterPattern="PROCESSED"
        )
        for event in (e for page in pages for e in page["events"]):
            parts = event["message"].split()
            if len(parts) >= 3 and parts[0] == "PROCESSED" and parts[1] in sent:
                processed[parts[1]] = float(parts[2])
    delays = [processed[key] - sent[key] for key in processed]
    if not delays:
        print("HTTP API -> SQS -> Lambda: nothing was processed within 30 s")
        return
    print(summary("HTTP API -> SQS -> Lambda (end to end)", delays))
    if len(processed) < len(sent):
        print(f"  {len(sent) - len(processed)} of {len(sent)} messages not processed in time")
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        print(f"  queue now: {attributes}")


if __name__ == "__main__":
    arguments = [float(a) for a in sys.argv[1:]]
    main(*(int(a) if i != 2 else a for i, a in enumerate(arguments)))
