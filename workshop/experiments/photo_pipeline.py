"""Experiments of notebook 08: the photo service as HTTP API, SQS queue and Lambda function.

Notebook 08 builds the pipeline by hand once, with the boto3 calls in its cells; :func:`build`
makes the same thing in one call for the experiments after that, which are about behaviour,
not construction. A run (:func:`run`) sends a burst of uploads through the API at once,
samples the queues' depth in a thread while the function drains them, reads back what the
function recorded (``functions/photo_processor`` sends one record per attempt to a results
queue) and what ended in the dead-letter queue, and returns it all as DataFrames.

Everything here is plain boto3 and HTTP, so it works the same on the local and the aws
backend; on AWS the queue counts SQS reports are approximate and a run takes longer.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from workshop import apis, data, lambdas
from workshop.experiments.threads import Workers

if TYPE_CHECKING:
    from workshop.backends import Backend

RECORD_COLUMNS = [
    "message_id",
    "key",
    "upload_id",
    "outcome",
    "receive_count",
    "sent_ms",
    "started_ms",
    "ended_ms",
    "batch_size",
    "request_id",
    "environment",
]
REQUEST_COLUMNS = ["key", "upload_id", "status", "message_id", "sent_s", "latency_ms", "error"]
DEPTH_COLUMNS = ["t_s", "queue", "visible", "in_flight"]


# --- building ---------------------------------------------------------------------------------


def queue_arn(sqs: Any, queue_url: str) -> str:
    """A queue's ARN: what redrive policies, IAM policies and event source mappings name."""
    answer = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return answer["Attributes"]["QueueArn"]


def allow_sending_results(cloud: Backend, function_role: str, results_arn: str) -> None:
    """Let the functions' execution role send records to the results queue, and nothing else."""
    name = f"send-{results_arn.rsplit(':', 1)[-1]}"[:128]
    lambdas.put_policy(cloud.client("iam"), function_role, name, "sqs:SendMessage", results_arn)


@dataclass
class Pipeline:
    """Everything one photo pipeline is made of, by name, URL or id."""

    url: str
    """The ``POST /photos`` URL of the HTTP API."""
    api_id: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    results_url: str
    function_name: str
    mapping_uuid: str


def build(
    cloud: Backend,
    base: str,
    *,
    batch_size: int = 10,
    window_s: int = 1,
    visibility_s: int = 3,
    max_receive_count: int = 2,
    timeout_s: int = 2,
    report_failures: bool = False,
    environment: dict[str, str] | None = None,
) -> Pipeline:
    """Build the pipeline of notebook 08's section 2 in one call, named after ``base``.

    A queue with a DLQ (``maxReceiveCount``), a results queue, an HTTP API whose ``POST
    /photos`` sends the request body to the queue, the photo_processor function (its
    ``timeout_s`` may not exceed the visibility timeout: the mapping would be refused) and the
    event source mapping. ``report_failures`` both tells the function to return
    ``batchItemFailures`` and gives the mapping ``ReportBatchItemFailures``: one without the
    other loses or retries messages. ``environment`` adds to the function's variables
    (``FAILURE_FRACTION``, ...).
    """
    sqs = cloud.client("sqs")
    dlq_url = cloud.create_queue(f"{base}-dlq")
    redrive = {"deadLetterTargetArn": queue_arn(sqs, dlq_url), "maxReceiveCount": max_receive_count}
    queue_url = cloud.create_queue(
        base, VisibilityTimeout=visibility_s, RedrivePolicy=json.dumps(redrive)
    )
    source_arn = queue_arn(sqs, queue_url)
    results_url = cloud.create_queue(f"{base}-results")

    role = apis.sqs_send_role(cloud, source_arn)
    api = apis.queue_api(cloud, queue_url, role, "POST /photos", name=base)

    variables = {
        "RESULTS_QUEUE_URL": results_url,
        "REPORT_BATCH_ITEM_FAILURES": "1" if report_failures else "0",
        **(environment or {}),
    }
    role = lambdas.execution_role(cloud)
    allow_sending_results(cloud, role, queue_arn(sqs, results_url))
    apis.allow_queue_polling(cloud, source_arn)
    function_name = lambdas.deploy(
        cloud,
        "photo_processor",
        name=base,
        Timeout=timeout_s,
        Environment={"Variables": variables},
    )
    response_types = {"FunctionResponseTypes": ["ReportBatchItemFailures"]}
    mapping = cloud.client("lambda").create_event_source_mapping(
        EventSourceArn=source_arn,
        FunctionName=function_name,
        BatchSize=batch_size,
        MaximumBatchingWindowInSeconds=window_s,
        **(response_types if report_failures else {}),
    )
    url = f"{api['ApiEndpoint']}/photos"
    apis.wait_until_served(url, method="POST", body={"key": "warm-up", "size_kb": 0})
    return Pipeline(
        url=url,
        api_id=api["ApiId"],
        queue_url=queue_url,
        queue_arn=source_arn,
        dlq_url=dlq_url,
        results_url=results_url,
        function_name=function_name,
        mapping_uuid=mapping["UUID"],
    )


# --- sending ----------------------------------------------------------------------------------


def upload_bodies(n: int, run: str) -> list[dict[str, Any]]:
    """``n`` request bodies from ``data/photo_uploads.csv`` (repeated if ``n`` is larger),
    each with a ``key`` of its own (``run``-number) so that every request can be followed."""
    uploads = [json.loads(body) for body in data.upload_messages()]
    return [{"key": f"{run}-{i:04d}", **uploads[i % len(uploads)]} for i in range(n)]


def post_upload(url: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST one upload; return what the API answered and when, as one row of a request table."""
    sent = time.time()
    row: dict[str, Any] = {"key": body.get("key"), "upload_id": body.get("upload_id")}
    try:
        answer = apis.request(url, "POST", body, timeout=30)
    except OSError as error:
        return {
            **row,
            "status": 0,
            "message_id": None,
            "sent_s": sent,
            "latency_ms": None,
            "error": type(error).__name__,
        }
    message_id = None
    if answer.status == 200:
        result = answer.json().get("SendMessageResponse", {}).get("SendMessageResult", {})
        message_id = result.get("MessageId")
    return {
        **row,
        "status": answer.status,
        "message_id": message_id,
        "sent_s": sent,
        "latency_ms": answer.elapsed_ms,
        "error": None,
    }


def send_burst(url: str, bodies: list[dict[str, Any]], *, workers: int = 8) -> pd.DataFrame:
    """POST every body at once from ``workers`` threads; one row per request.

    ``sent_s`` is the wall-clock time (epoch seconds) the request left, so that it can be
    compared with the times the function recorded; ``latency_ms`` is until the API answered.
    """
    if not bodies:
        return pd.DataFrame(columns=REQUEST_COLUMNS)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="workshop-burst") as pool:
        rows = list(pool.map(lambda body: post_upload(url, body), bodies))
    return pd.DataFrame(rows, columns=REQUEST_COLUMNS)


# --- watching ---------------------------------------------------------------------------------


def depth(sqs: Any, queue_url: str) -> tuple[int, int]:
    """(visible, in flight) of a queue, as SQS reports them (approximate on AWS)."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
    return int(attributes[names[0]]), int(attributes[names[1]])


def sample_depth(
    sqs: Any, queues: dict[str, str], stop: threading.Event, rows: list[dict], every_s: float
) -> None:
    """Append each queue's depth to ``rows`` every ``every_s`` seconds until ``stop`` is set,
    and once more after that, so that the series ends with the final state."""
    while True:
        for name, url in queues.items():
            visible, in_flight = depth(sqs, url)
            rows.append(
                {"t_s": time.time(), "queue": name, "visible": visible, "in_flight": in_flight}
            )
        if stop.is_set():
            return
        stop.wait(every_s)


def drain(sqs: Any, queue_url: str, *, wait_s: int = 0) -> list[dict[str, Any]]:
    """Receive and delete whatever a results queue holds now (up to 10 per call), as records."""
    messages = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s
    ).get("Messages", [])
    if messages:
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
        ]
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
    return [json.loads(message["Body"]) for message in messages]


def wait_for_records(
    sqs: Any, results_url: str, keys: Iterable[str], *, timeout: float = 30
) -> pd.DataFrame:
    """The function's records until every key in ``keys`` has been processed once, or timeout."""
    wanted, records = set(keys), []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records += drain(sqs, results_url, wait_s=1)
        done = {r["key"] for r in records if r["outcome"] == "processed"}
        if wanted <= done:
            break
    return pd.DataFrame(records, columns=RECORD_COLUMNS)


def read_dlq(sqs: Any, dlq_url: str, *, timeout: float = 10) -> pd.DataFrame:
    """Every message in a DLQ, read once and left there: key, message id, receive count.

    Messages moved by a redrive policy keep their message id. Each receive hides what it got
    for 60 s, so repeated receives find the others; stops when one comes back empty.
    """
    rows, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=60,
            AttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", [])
        if not messages:
            break
        for message in messages:
            count = int(message["Attributes"]["ApproximateReceiveCount"])
            key = json.loads(message["Body"]).get("key")
            rows.append({"key": key, "message_id": message["MessageId"], "receive_count": count})
    return pd.DataFrame(rows, columns=["key", "message_id", "receive_count"])


# --- a run ------------------------------------------------------------------------------------


@dataclass
class Run:
    """What one burst through a pipeline did, every time in seconds since the burst began."""

    requests: pd.DataFrame
    records: pd.DataFrame
    dlq: pd.DataFrame
    depth: pd.DataFrame
    started_s: float = field(repr=False)
    settled: bool = True

    @property
    def sent(self) -> pd.DataFrame:
        """The requests the API accepted (200): the messages that must be accounted for."""
        return self.requests[self.requests["status"] == 200]


def run(
    cloud: Backend,
    pipeline: Pipeline,
    bodies: list[dict[str, Any]],
    *,
    timeout: float = 30,
    workers: int = 8,
    every_s: float = 0.1,
    progress: bool = True,
    description: str = "uploads accounted for",
    report: Callable[[int], None] | None = None,
) -> Run:
    """Send ``bodies`` as a burst and follow them until every accepted one was processed or is
    in the DLQ and the queue is empty, or ``timeout`` seconds pass (``settled`` says which).

    A sampler thread records the queue's and the DLQ's depth every ``every_s`` seconds; a
    follower thread drains the results queue meanwhile, and calls ``report`` with the number
    of uploads accounted for so far (for a progress bar of its caller's). Records and DLQ
    messages of other uploads (a warm-up request's, say) are left out.
    """
    sqs = cloud.client("sqs")
    rows: list[dict] = []
    stop_sampling, sampler = threading.Event(), Workers()
    started = time.time()
    sampler.start(
        "depth-sampler",
        sample_depth,
        sqs,
        {"queue": pipeline.queue_url, "DLQ": pipeline.dlq_url},
        stop_sampling,
        rows,
        every_s,
    )
    records: list[dict] = []
    settled = False
    try:
        requests = send_burst(pipeline.url, bodies, workers=workers)
        accepted = set(requests.loc[requests["status"] == 200, "key"])
        deadline = time.perf_counter() + timeout

        def accounted() -> int:
            processed = {r["key"] for r in records if r["outcome"] == "processed"}
            dead = _dlq_count(rows)
            return min(len(accepted), len(processed & accepted) + dead)

        follower = Workers()

        def follow() -> None:
            nonlocal settled
            while time.perf_counter() < deadline and not follower.stop.is_set():
                # a long poll while work is pending; once all is accounted for, one quick look
                complete = accounted() >= len(accepted)
                got = drain(sqs, pipeline.results_url, wait_s=0 if complete else 1)
                records.extend(got)
                if report is not None:
                    report(accounted())
                if not got and complete and depth(sqs, pipeline.queue_url) == (0, 0):
                    settled = True
                    return

        follower.start("follow-results", follow)
        follower.wait(
            deadline,
            progress=accounted if progress else None,
            total=len(accepted),
            description=description,
            unit="upload",
        )
    finally:
        stop_sampling.set()
        sampler.wait(time.perf_counter() + 5)
    # only this burst's uploads: on AWS, the warm-up request of build() or wait_until_served
    # is a real upload whose record may still be in the results queue
    keys = {body.get("key") for body in bodies}
    ours = pd.DataFrame([r for r in records if r.get("key") in keys], columns=RECORD_COLUMNS)
    dlq = read_dlq(sqs, pipeline.dlq_url)
    return Run(
        requests=_relative(requests, "sent_s", started),
        records=_times(ours, started),
        dlq=dlq[dlq["key"].isin(keys)].reset_index(drop=True),
        depth=_relative(pd.DataFrame(rows, columns=DEPTH_COLUMNS), "t_s", started),
        started_s=started,
        settled=settled,
    )


def run_side_by_side(
    cloud: Backend,
    pipelines: dict[str, Pipeline],
    bodies: Callable[[str], list[dict]],
    *,
    progress: bool = True,
    **options: Any,
) -> dict[str, Run]:
    """:func:`run` on several pipelines at the same time (each its own bodies, ``bodies(name)``),
    so that comparing them takes as long as the slowest one; one progress bar for all."""
    results: dict[str, Run] = {}
    sent = {name: bodies(name) for name in pipelines}
    done = dict.fromkeys(pipelines, 0)
    group = Workers()
    for name, pipeline in pipelines.items():

        def one(name: str = name, pipeline: Pipeline = pipeline) -> None:
            def report(count: int) -> None:
                done[name] = count

            results[name] = run(
                cloud, pipeline, sent[name], progress=False, report=report, **options
            )

        group.start(f"run-{name}", one)
    group.wait(
        time.perf_counter() + options.get("timeout", 30) + 20,
        progress=(lambda: sum(done.values())) if progress else None,
        total=sum(len(b) for b in sent.values()),
        description="uploads accounted for",
        unit="upload",
    )
    return {name: results[name] for name in pipelines}


def _dlq_count(rows: list[dict]) -> int:
    for row in reversed(rows):
        if row["queue"] == "DLQ":
            return row["visible"] + row["in_flight"]
    return 0


def _relative(frame: pd.DataFrame, column: str, started: float) -> pd.DataFrame:
    frame = frame.copy()
    frame[column] = frame[column].astype(float) - started
    return frame


def _times(records: pd.DataFrame, started: float) -> pd.DataFrame:
    """Records with ``sent_s``, ``started_s`` and ``ended_s`` relative to the burst."""
    records = records.copy()
    for name in ("sent", "started", "ended"):
        records[f"{name}_s"] = records[f"{name}_ms"].astype(float) / 1000 - started
    return records


# --- what a run shows -------------------------------------------------------------------------


def invocations(records: pd.DataFrame) -> pd.DataFrame:
    """One row per invocation of the function (its batch): environment, start, end, size,
    and how many of the batch's messages failed and were redeliveries."""
    if records.empty:
        columns = [
            "request_id",
            "environment",
            "started_s",
            "ended_s",
            "batch_size",
            "failed",
            "redelivered",
        ]
        return pd.DataFrame(columns=columns)
    grouped = records.groupby("request_id")
    frame = pd.DataFrame(
        {
            "environment": grouped["environment"].first(),
            "started_s": grouped["started_s"].min(),
            "ended_s": grouped["ended_s"].max(),
            "batch_size": grouped["batch_size"].first(),
            "failed": grouped["outcome"].apply(lambda o: int((o == "failed").sum())),
            "redelivered": grouped["receive_count"].apply(lambda c: int((c > 1).sum())),
        }
    )
    return frame.sort_values("started_s").reset_index()


def concurrency(batches: pd.DataFrame) -> pd.DataFrame:
    """How many invocations were running at every start or end of one: a step series."""
    if batches.empty:
        return pd.DataFrame({"t_s": [0.0], "running": [0]})
    events = pd.concat(
        [
            pd.DataFrame({"t_s": batches["started_s"], "change": 1}),
            pd.DataFrame({"t_s": batches["ended_s"], "change": -1}),
        ]
    ).sort_values(["t_s", "change"])
    events["running"] = events["change"].cumsum()
    return events[["t_s", "running"]].reset_index(drop=True)


def end_to_end(run_: Run) -> pd.DataFrame:
    """Per accepted upload: request sent, API answered, first processed (seconds since the
    burst) and the latency from request to processed in ms. Uploads never processed: NaN."""
    sent = run_.sent[["key", "sent_s", "latency_ms"]].copy()
    done = run_.records[run_.records["outcome"] == "processed"].groupby("key")["ended_s"].min()
    sent["processed_s"] = sent["key"].map(done)
    sent["end_to_end_ms"] = (sent["processed_s"] - sent["sent_s"]) * 1000
    return sent.reset_index(drop=True)


def accounting(run_: Run) -> pd.Series:
    """The "nothing lost" count: every accepted upload is processed, in the DLQ, or both.

    ``lost`` must be 0. ``processed and in the DLQ`` are good uploads that failed with their
    batch too often; ``processed more than once`` counts uploads processed on several
    attempts (duplicates the function must tolerate).
    """
    sent = set(run_.sent["key"])
    processed_rows = run_.records[run_.records["outcome"] == "processed"]
    times = processed_rows.groupby("key").size()
    processed, dead = set(processed_rows["key"]), set(run_.dlq["key"])
    return pd.Series(
        {
            "sent (accepted by the API)": len(sent),
            "processed": len(processed & sent),
            "in the DLQ": len(dead & sent),
            "processed and in the DLQ": len(processed & dead & sent),
            "lost (neither)": len(sent - processed - dead),
            "processed more than once": int((times > 1).sum()),
            "attempts (function records)": len(run_.records),
        }
    )


def redeliveries(run_: Run) -> pd.DataFrame:
    """Attempts per receive count and outcome: how often messages came back."""
    counts = run_.records.groupby(["receive_count", "outcome"]).size().unstack(fill_value=0)
    return counts.reindex(columns=["processed", "failed"], fill_value=0)
