"""The experiments of notebook 06 measure what they claim on the local backend: cold, warm and
restored starts read from REPORT lines, bursts, idle gaps, provisioned concurrency, snapshot
starts, environment memory; and their plots draw."""

from __future__ import annotations

import uuid

import matplotlib
import pandas as pd
import pytest
from botocore.exceptions import ClientError
from matplotlib.figure import Figure

from workshop import lambdas
from workshop.backends import LocalBackend
from workshop.config import Settings
from workshop.experiments import cold_starts
from workshop.local import lambda_service
from workshop.plots import cold_starts as plots

matplotlib.use("Agg")


@pytest.fixture
def shared_cloud():
    """A participant on the kernel-style shared local cloud (where environments are visible)."""
    settings = Settings(
        backend="local",
        participant=f"t{uuid.uuid4().hex[:8]}",
        region="us-east-1",
        endpoint=None,
        aws_confirm=None,
    )
    backend = LocalBackend(settings)
    yield backend
    backend.cleanup(quiet=True)


def test_call_reads_cold_then_warm_from_report(cloud):
    name = lambdas.deploy(cloud, "counter")
    aws_lambda = cloud.client("lambda")
    first = cold_starts.call(aws_lambda, name)
    second = cold_starts.call(aws_lambda, name)
    assert (first["start"], second["start"]) == ("cold", "warm")
    assert first["init_ms"] > 0 and second["init_ms"] is None
    assert first["environment"] == second["environment"]
    assert second["status"] == 200 and second["error"] is None
    assert 0 < second["latency_ms"] < first["latency_ms"] + 1000


def test_call_records_an_api_error_instead_of_raising(cloud):
    row = cold_starts.call(cloud.client("lambda"), cloud.name("does-not-exist"))
    assert row["status"] == 404 and row["error"] == "ResourceNotFoundException"
    assert row["start"] is None


def test_new_version_keeps_variables_and_starts_cold(cloud):
    name = lambdas.deploy(cloud, "counter", Environment={"Variables": {"GREETING": "hi"}})
    aws_lambda = cloud.client("lambda")
    cold_starts.call(aws_lambda, name)
    version = cold_starts.new_version(aws_lambda, name, "round-1")
    row = cold_starts.call(aws_lambda, name, qualifier=version)
    assert row["start"] == "cold" and row["payload"]["greeting"] == "hi"
    variables = aws_lambda.get_function_configuration(FunctionName=name, Qualifier=version)[
        "Environment"
    ]["Variables"]
    assert variables == {"GREETING": "hi", "WORKSHOP_START": "round-1"}


def test_burst_needs_one_environment_per_overlapping_call(cloud):
    name = lambdas.deploy(cloud, "counter")
    frame = cold_starts.burst(cloud.client("lambda"), name, 3, seconds=0.3, waves=2)
    first, second = frame[frame["wave"] == 1], frame[frame["wave"] == 2]
    assert len(first) == len(second) == 3
    assert (first["start"] == "cold").all() and (second["start"] == "warm").all()
    assert first["environment"].nunique() == 3
    assert set(second["environment"]) == set(first["environment"])
    assert (frame["duration_ms"] >= 300).all()


def test_bursts_of_several_sizes(cloud):
    name = lambdas.deploy(cloud, "counter")
    frame = cold_starts.bursts(cloud, name, sizes=(1, 2), seconds=0.2)
    assert frame.groupby(["size", "wave"]).size().to_dict() == {(1, 1): 1, (2, 1): 2, (2, 2): 2}
    assert frame["version"].nunique() == 2
    fig = plots.bursts(frame)
    assert isinstance(fig, Figure) and fig.axes[0].get_title()


def test_idle_gaps_shorter_than_the_keep_alive_stay_warm(cloud):
    if lambda_service.KEEP_ALIVE_S < 5:
        pytest.skip("this test session runs with a short local keep-alive")
    frame = cold_starts.idle_gaps(cloud, gaps=(0.05, 0.2), functions=2, progress=False)
    assert len(frame) == 4 and set(frame["gap_s"]) == {0.05, 0.2}
    assert (frame["start"] == "warm").all()
    assert (frame["idle_s"] >= frame["gap_s"] - 0.01).all()
    fig = plots.idle_gaps(frame, None)
    assert fig.axes[0].get_xlabel()


def test_start_floors():
    floors = cold_starts.start_floors(runs=2)
    assert floors["floor"].tolist() == [
        "python -c pass",
        "os.fork() of a bare Python",
        "os.fork() after import boto3",
    ]
    assert (floors["median_ms"] > 0).all() and (floors["runs"] == 2).all()


def test_environments_and_memory_only_where_they_can_be_seen(cloud, shared_cloud):
    assert cold_starts.environments(cloud) is None  # a local cloud of another server
    assert cold_starts.keep_alive_seconds(cloud) is None
    assert cold_starts.keep_alive_seconds(shared_cloud) == lambda_service.KEEP_ALIVE_S
    # a cloud reached through an endpoint is told apart from AWS
    assert cold_starts.shared_from_elsewhere(cloud)
    assert not cold_starts.shared_from_elsewhere(shared_cloud)
    assert "does not apply" in cold_starts.keep_alive_text(cloud)
    assert "Lambda's own" not in cold_starts.keep_alive_text(cloud)
    assert "workshop serve" in cold_starts.environments_hidden(cloud)
    assert "microVM" not in cold_starts.environments_hidden(cloud)
    seconds = f"{lambda_service.KEEP_ALIVE_S:g} s"
    assert cold_starts.keep_alive_text(shared_cloud).startswith(f"keep-alive: {seconds}")
    name = lambdas.deploy(shared_cloud, "hello")
    lambdas.invoke(shared_cloud, name)
    alive = cold_starts.environments(shared_cloud, name)
    assert len(alive) == 1 and alive["invocations"].tolist() == [1]
    assert 1 < alive["rss_mb"].iloc[0] < 500
    assert cold_starts.rss_mb(10**9) is None  # no such process


def test_init_by_imports_and_the_comparison(shared_cloud):
    handlers = {
        "stdlib only": lambdas.deploy(shared_cloud, "hello"),
        "boto3": lambdas.deploy(shared_cloud, "imports_boto3"),
    }
    imports = cold_starts.init_by_imports(shared_cloud, handlers, rounds=2, progress=False)
    assert len(imports) == 4 and (imports["start"] == "cold").all()
    assert imports["rss_mb"].notna().all()
    medians = imports.groupby("handler")[["init_ms", "rss_mb"]].median()
    assert medians.loc["boto3", "rss_mb"] > medians.loc["stdlib only", "rss_mb"]
    floors = pd.DataFrame(
        {"floor": ["python -c pass", "os.fork() of a bare Python"], "median_ms": [20.0, 0.5]}
    )
    table = cold_starts.comparison(floors, imports)
    assert len(table) == 8 and list(table.columns) == [
        "quantity",
        "this machine",
        "AWS / Firecracker",
        "source",
    ]
    fork = table.set_index("quantity").loc["Copy a running Python process (os.fork)"]
    assert fork["this machine"] == "0.5 ms bare; – after import boto3"  # no boto3 floor given
    row = table.set_index("quantity").loc["Init Duration added by import boto3"]
    assert row["this machine"].startswith("+") and "270" in row["AWS / Firecracker"]
    assert table.set_index("quantity").loc["Init Duration added by import pandas"].iloc[0] == "–"
    fig = plots.init_by_imports(imports)
    assert len(fig.axes) == 2


def test_start_kinds_provisioned_and_snapshot(cloud):
    startup = lambdas.deploy(cloud, "startup")
    snap = lambdas.deploy(
        cloud, "startup", name="startup-snap", SnapStart={"ApplyOn": "PublishedVersions"}
    )
    kinds = cold_starts.start_kinds(cloud, startup, snap, calls=2, seconds=0.2)
    by_kind = {kind: group for kind, group in kinds.groupby("kind")}
    assert (by_kind["on demand"]["start"] == "cold").all()
    assert (by_kind["provisioned"]["start"] == "warm").all()
    assert (by_kind["provisioned"]["init_type"] == "provisioned-concurrency").all()
    snapshot = by_kind["SnapStart"]
    assert len(snapshot) == 1 + 3
    assert snapshot["start"].value_counts().to_dict() == {"restored": 3, "warm": 1}
    assert snapshot["restore_ms"].notna().sum() == 3
    assert snapshot["made_in_init"].nunique() == 1  # one Init, shared by every restore
    assert by_kind["on demand"]["made_in_init"].nunique() == 2
    with pytest.raises(
        cloud.client("lambda").exceptions.ProvisionedConcurrencyConfigNotFoundException
    ):
        versions = cloud.client("lambda").list_versions_by_function(FunctionName=startup)
        provisioned = versions["Versions"][-1]["Version"]
        cloud.client("lambda").get_provisioned_concurrency_config(
            FunctionName=startup, Qualifier=provisioned
        )  # removed after the calls
    fig = plots.start_kinds(kinds)
    assert len(fig.axes) == 2


class RefusingProvisioned:
    """A Lambda client that refuses provisioned concurrency, as AWS does for an account whose
    concurrency quota leaves no room for it."""

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        return getattr(self._client, name)

    def put_provisioned_concurrency_config(self, **_):
        raise ClientError(
            {"Error": {"Code": "InvalidParameterValueException", "Message": "no room"}},
            "PutProvisionedConcurrencyConfig",
        )


class RefusingCloud:
    def __init__(self, cloud):
        self._cloud = cloud

    def __getattr__(self, name):
        return getattr(self._cloud, name)

    def client(self, service):
        client = self._cloud.client(service)
        return RefusingProvisioned(client) if service == "lambda" else client


def test_start_kinds_goes_on_when_provisioned_concurrency_is_refused(cloud, capsys):
    startup = lambdas.deploy(cloud, "startup")
    snap = lambdas.deploy(
        cloud, "startup", name="startup-snap", SnapStart={"ApplyOn": "PublishedVersions"}
    )
    kinds = cold_starts.start_kinds(RefusingCloud(cloud), startup, snap, calls=2, seconds=0.1)
    assert set(kinds["kind"]) == {"on demand", "SnapStart"}
    assert "refused (InvalidParameterValueException: no room)" in capsys.readouterr().out
    assert len(plots.start_kinds(kinds).axes) == 2


def test_latency_plot_takes_notebook_05s_table():
    calls = pd.DataFrame(
        {
            "start": ["cold", "warm", "warm"],
            "latency_ms": [40.0, 3.0, 4.0],
            "init_ms": [30.0, None, None],
        }
    )
    fig = plots.latency_distributions(calls)
    assert fig.axes[0].get_xscale() == "log"
