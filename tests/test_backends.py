"""Choosing a backend, naming, tagging, and the aws backend's opt-in."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

import workshop
from workshop.backends import AwsBackend, AwsOptInRequired, LocalBackend
from workshop.config import ConfigError, normalise_participant, read_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in (
        "WORKSHOP_BACKEND",
        "WORKSHOP_PARTICIPANT",
        "WORKSHOP_ENDPOINT",
        "WORKSHOP_REGION",
        "WORKSHOP_AWS_ACCOUNT",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(name, raising=False)


def test_local_is_the_default_backend_in_us_east_1():
    settings = read_settings()
    assert (settings.backend, settings.region) == ("local", "us-east-1")


def test_backend_comes_from_the_environment_and_is_checked(monkeypatch):
    monkeypatch.setenv("WORKSHOP_BACKEND", "AWS")
    assert read_settings().backend == "aws"
    monkeypatch.setenv("WORKSHOP_BACKEND", "azure")
    with pytest.raises(ConfigError, match="must be one of local, aws"):
        read_settings()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Ana.Lopez", "ana-lopez"), ("team 3", "team-3"), ("x" * 40, "x" * 20), ("--bo--", "bo")],
)
def test_participant_names_are_made_safe(raw, expected):
    assert normalise_participant(raw) == expected


def test_participant_without_letters_is_refused():
    with pytest.raises(ConfigError, match="WORKSHOP_PARTICIPANT"):
        read_settings(participant="...")


def test_names_and_tags_carry_the_participant(cloud):
    assert cloud.name("photos") == f"ws-{cloud.participant}-photos"
    assert cloud.name(cloud.name("photos")) == cloud.name("photos")  # not prefixed twice
    assert cloud.tags == {
        "workshop": "sqs-lambda-workshop",
        "workshop-participant": cloud.participant,
    }
    url = cloud.create_queue(
        "photos", VisibilityTimeout=5, ContentBasedDeduplication=True, fifo=True
    )
    sqs = cloud.client("sqs")
    assert url.endswith(f"/ws-{cloud.participant}-photos.fifo")
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == cloud.tags
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "5"
    assert attributes["FifoQueue"] == "true"


def test_connect_starts_one_local_cloud_per_process(monkeypatch, capsys):
    first = workshop.connect("local", "solo")
    again = workshop.connect("local", "solo", quiet=True)
    assert first is again and isinstance(first, LocalBackend)
    assert first.endpoint_url.startswith("http://127.0.0.1:")
    assert workshop.current() is first
    assert "Connected: backend local" in capsys.readouterr().out
    first.client("sqs").list_queues()  # the cloud answers
    assert first.account_id == "123456789012"


def test_a_shared_endpoint_is_used_when_set(server, monkeypatch):
    monkeypatch.setenv("WORKSHOP_ENDPOINT", server.endpoint_url)
    cloud = LocalBackend(read_settings("local", "shared"))
    assert cloud.endpoint_url == server.endpoint_url


def test_an_unreachable_endpoint_gives_a_clear_error(monkeypatch):
    monkeypatch.setenv("WORKSHOP_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="workshop serve"):
        LocalBackend(read_settings("local"))


def test_local_credentials_stay_in_the_process(cloud, monkeypatch):
    import os

    assert "AWS_SECRET_ACCESS_KEY" not in os.environ
    credentials = cloud.session.get_credentials()
    assert credentials.access_key == "workshop-local"


def aws_pointed_at(server, monkeypatch):
    """Make the standard credential chain find credentials and an "AWS" that is the test server,
    so the aws backend's opt-in logic runs for real without a network."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")


def test_aws_refuses_without_the_account_confirmed(server, monkeypatch):
    aws_pointed_at(server, monkeypatch)
    with pytest.raises(AwsOptInRequired) as refused:
        AwsBackend(read_settings("aws", "ana"))
    message = str(refused.value)
    assert "123456789012" in message and "eu-west-1" in message
    assert "WORKSHOP_AWS_ACCOUNT=123456789012" in message
    assert "Nothing has been created" in message


def test_aws_refuses_a_different_account(server, monkeypatch):
    aws_pointed_at(server, monkeypatch)
    monkeypatch.setenv("WORKSHOP_AWS_ACCOUNT", "999999999999")
    with pytest.raises(AwsOptInRequired):
        AwsBackend(read_settings("aws", "ana"))


def test_aws_works_once_confirmed(server, monkeypatch):
    aws_pointed_at(server, monkeypatch)
    monkeypatch.setenv("WORKSHOP_AWS_ACCOUNT", "123456789012")
    cloud = AwsBackend(read_settings("aws", "ana-aws"))
    assert (cloud.kind, cloud.region, cloud.account_id) == ("aws", "eu-west-1", "123456789012")
    url = cloud.create_queue("hello")
    assert cloud.cleanup(quiet=True) == ["SQS queue ws-ana-aws-hello"]
    with pytest.raises(ClientError):
        cloud.client("sqs").get_queue_attributes(QueueUrl=url)


def test_aws_without_credentials_says_how_to_fix_it(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="aws configure"):
        AwsBackend(read_settings("aws"))


def test_aws_without_a_region_says_how_to_fix_it(server, monkeypatch, tmp_path):
    aws_pointed_at(server, monkeypatch)
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(ConfigError, match="export AWS_REGION"):
        AwsBackend(read_settings("aws"))


def test_create_queue_waits_out_the_60_seconds_after_a_delete(cloud, monkeypatch, capsys):
    from types import SimpleNamespace

    from workshop.local import sqs_limits

    sqs = cloud.client("sqs")
    sqs.delete_queue(QueueUrl=cloud.create_queue("again"))
    calls = []

    def monotonic():  # the first retry still falls inside the 60 s, the next one after them
        calls.append(1)
        return time.monotonic() + (0 if len(calls) < 2 else 61)

    monkeypatch.setattr(sqs_limits, "time", SimpleNamespace(time=time.time, monotonic=monotonic))
    url = cloud.create_queue("again")
    assert url.endswith(cloud.name("again"))
    assert "only after 60 s, so waiting" in capsys.readouterr().out


def test_aws_create_queue_waits_until_the_new_queue_answers(server, monkeypatch):
    aws_pointed_at(server, monkeypatch)
    monkeypatch.setenv("WORKSHOP_AWS_ACCOUNT", "123456789012")
    cloud = AwsBackend(read_settings("aws", "eventual"))
    sqs = cloud.client("sqs")
    real, failures = sqs.get_queue_attributes, []

    def not_yet(**kwargs):  # AWS's eventual consistency: the first two lookups miss
        if len(failures) < 2:
            failures.append(1)
            raise ClientError(
                {"Error": {"Code": "AWS.SimpleQueueService.NonExistentQueue", "Message": ""}},
                "GetQueueAttributes",
            )
        return real(**kwargs)

    monkeypatch.setattr(sqs, "get_queue_attributes", not_yet)
    url = cloud.create_queue("fresh")
    assert len(failures) == 2
    monkeypatch.setattr(sqs, "get_queue_attributes", real)
    cloud.cleanup(quiet=True)
    assert url.endswith("ws-eventual-fresh")
