"""Lambda starts, locally: cold and warm invokes, a burst, an idle environment's memory.

Measures, against this process's own local cloud (the default keep-alive of 60 s):

- cold start of a minimal handler (functions/hello), invoke to response, median over ``cold``
  cold starts forced by a configuration change (an environment variable). Two ways: invoking
  ``$LATEST`` right after the change, and publishing the change as a version and invoking that
  (the way notebooks 05 and 06 do; see the note printed with the figures);
- warm invoke through boto3, median over ``warm`` calls;
- ``burst`` simultaneous first calls of a new version: wall time until all have answered;
- resident memory (VmRSS) of an idle environment: median over the burst's environments.

Run:
    python benchmarks/lambda_starts.py [cold] [warm] [burst]      (defaults 20 200 16)
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from botocore.config import Config

import workshop
from workshop import lambdas
from workshop.experiments import cold_starts


def median_ms(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):7.1f} ms (min {min(values):.1f}, max {max(values):.1f})"
    )


def main(cold: int = 20, warm: int = 200, burst: int = 16) -> None:
    cloud = workshop.connect("local", participant=f"bench{uuid.uuid4().hex[:6]}", quiet=True)
    aws_lambda = cloud.client("lambda")
    try:
        hello = lambdas.deploy(cloud, "hello")
        latest, latest_init, version, version_init = [], [], [], []
        for round_number in range(cold):
            aws_lambda.update_function_configuration(
                FunctionName=hello, Environment={"Variables": {"ROUND": f"latest-{round_number}"}}
            )
            row = cold_starts.call(aws_lambda, hello)
            assert row["start"] == "cold", row
            latest.append(row["latency_ms"])
            latest_init.append(row["init_ms"])
            published = cold_starts.new_version(aws_lambda, hello, f"version-{round_number}")
            row = cold_starts.call(aws_lambda, hello, qualifier=published)
            assert row["start"] == "cold", row
            version.append(row["latency_ms"])
            version_init.append(row["init_ms"])

        cold_starts.call(aws_lambda, hello)  # an environment for $LATEST
        warm_ms = []
        for _ in range(warm):
            started = time.perf_counter()
            aws_lambda.invoke(FunctionName=hello, Payload=b"{}")["Payload"].read()
            warm_ms.append((time.perf_counter() - started) * 1000)

        # More simultaneous calls than botocore's default pool of 10 connections.
        wide = cloud.session.client(
            "lambda", endpoint_url=cloud.endpoint_url, config=Config(max_pool_connections=64)
        )
        published = cold_starts.new_version(aws_lambda, hello, "burst")
        go, rows, lock = threading.Event(), [], threading.Lock()

        def one() -> None:
            go.wait(10)
            row = cold_starts.call(wide, hello, qualifier=published)
            with lock:
                rows.append(row)

        threads = [threading.Thread(target=one) for _ in range(burst)]
        for thread in threads:
            thread.start()
        started = time.perf_counter()
        go.set()
        for thread in threads:
            thread.join(60)
        burst_s = time.perf_counter() - started
        burst_cold = sum(row["start"] == "cold" for row in rows)
        burst_init = [row["init_ms"] for row in rows if row["init_ms"] is not None]

        alive = cold_starts.environments(cloud, hello)
        idle = alive[alive["invocations"] >= 1]["rss_mb"].dropna().tolist()

        # Snapshot starts: a published version with SnapStart. Each call starts while the
        # earlier ones still sleep, so it needs an environment of its own, restored from the
        # snapshot, and the restores happen one at a time.
        snap = lambdas.deploy(
            cloud, "startup", name="startup-snap", SnapStart={"ApplyOn": "PublishedVersions"}
        )
        snap_version = cold_starts.new_version(aws_lambda, snap, "snap")
        time.sleep(1.0)  # the snapshot is taken at publish: let its Init finish
        with ThreadPoolExecutor(12) as pool:
            futures = []
            for _ in range(12):
                futures.append(
                    pool.submit(
                        cold_starts.call, wide, snap, {"sleep": 3.0}, qualifier=snap_version
                    )
                )
                time.sleep(0.15)
            snap_rows = [future.result() for future in futures]
        restores = [r["restore_ms"] for r in snap_rows if r["restore_ms"] is not None]
    finally:
        cloud.cleanup(quiet=True)

    keep_alive = cold_starts.keep_alive_seconds(cloud)
    print(f"Lambda starts on the local backend ({keep_alive:g} s keep-alive)")
    print(f"cold start of hello, {cold} forced by a configuration change, invoke to response:")
    print(f"  $LATEST right after the change:    {median_ms(latest)}")
    print(f"    of which Init Duration:          {median_ms(latest_init)}")
    print(f"  a new version of the change:       {median_ms(version)}")
    print(f"    of which Init Duration:          {median_ms(version_init)}")
    print(
        "  ($LATEST also waits while the local cloud shuts the replaced environment down;\n"
        "   a new version has no environment to replace.)"
    )
    print(f"warm invoke through boto3, {warm} calls:   {median_ms(warm_ms)}")
    print(
        f"{burst} simultaneous first calls of a new version: all answered after "
        f"{burst_s * 1000:.0f} ms; {burst_cold} cold starts, Init {median_ms(burst_init)}"
    )
    print(
        f"snapshot start (SnapStart idea), Restore Duration of {len(restores)} restores: "
        f"{median_ms(restores)}"
    )
    print(
        f"resident memory of an idle environment (VmRSS), {len(idle)} environments: "
        f"median {statistics.median(idle):.1f} MiB (min {min(idle):.1f}, max {max(idle):.1f})"
    )


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:4]))
