"""Clean-up removes everything of one participant and nothing of anyone else's."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from conftest import make_local

from workshop.apis import QUEUE_POLLING_ACTIONS
from workshop.backends import LocalBackend
from workshop.lambdas import put_policy


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def create_everything(cloud: LocalBackend) -> None:
    """One of each kind of resource the notebooks create, named and tagged for ``cloud``."""
    sqs, aws_lambda = cloud.client("sqs"), cloud.client("lambda")
    queue = cloud.create_queue("uploads")
    cloud.create_queue("orders", fifo=True)
    role = cloud.client("iam").create_role(
        RoleName=cloud.name("role"),
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        Tags=cloud.tag_list(),
    )["Role"]["Arn"]
    put_policy(cloud.client("iam"), role, "send", ["sqs:SendMessage", *QUEUE_POLLING_ACTIONS], "*")
    aws_lambda.create_function(
        FunctionName=cloud.name("resize"),
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": _zip()},
        Tags=cloud.tags,
    )
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    aws_lambda.create_event_source_mapping(
        EventSourceArn=queue_arn["Attributes"]["QueueArn"], FunctionName=cloud.name("resize")
    )
    cloud.client("logs").create_log_group(logGroupName=f"/aws/lambda/{cloud.name('resize')}")
    cloud.client("logs").create_log_group(logGroupName=cloud.name("audit"), tags=cloud.tags)
    cloud.client("apigatewayv2").create_api(
        Name=cloud.name("photos"), ProtocolType="HTTP", Tags=cloud.tags
    )
    cloud.client("cloudwatch").put_metric_alarm(
        AlarmName=cloud.name("dlq-not-empty"),
        MetricName="ApproximateNumberOfMessagesVisible",
        Namespace="AWS/SQS",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
        Tags=cloud.tag_list(),
    )


def inventory(cloud: LocalBackend) -> set[str]:
    """Every resource on the server, whoever owns it (an event source mapping by its function)."""
    names = {
        url.rsplit("/", 1)[-1] for url in cloud.client("sqs").list_queues().get("QueueUrls", [])
    }
    aws_lambda = cloud.client("lambda")
    names |= {f["FunctionName"] for f in aws_lambda.list_functions()["Functions"]}
    names |= {
        "mapping of " + m["FunctionArn"].rsplit(":", 1)[-1]
        for m in aws_lambda.list_event_source_mappings()["EventSourceMappings"]
    }
    names |= {r["RoleName"] for r in cloud.client("iam").list_roles()["Roles"]}
    names |= {a["Name"] for a in cloud.client("apigatewayv2").get_apis()["Items"]}
    names |= {g["logGroupName"] for g in cloud.client("logs").describe_log_groups()["logGroups"]}
    alarms = cloud.client("cloudwatch").describe_alarms()["MetricAlarms"]
    names |= {a["AlarmName"] for a in alarms}
    return names


def owner(name: str) -> str:
    """The participant a resource name belongs to (``ws-ana-b-x`` is ana-b's, not ana's)."""
    for participant in ("ana-b", "ana", "bo"):
        if f"ws-{participant}-" in name:
            return participant
    return "nobody"


@pytest.fixture
def participants(server):
    """Three participants on one server; ``ana-b``'s prefix starts with ``ana``'s."""
    people = [make_local(server, name) for name in ("ana", "ana-b", "bo")]
    yield people
    for cloud in people:
        cloud.cleanup(quiet=True)


def test_cleanup_removes_one_participant_and_spares_the_others(participants, capsys):
    ana = participants[0]
    for cloud in participants:
        create_everything(cloud)
    before = inventory(ana)
    assert {owner(name) for name in before} >= {"ana", "ana-b", "bo"}

    removed = ana.cleanup()

    after = inventory(ana)
    assert after == {name for name in before if owner(name) != "ana"}
    # two queues, role, function (its /aws/lambda log group goes with it), mapping, log, API,
    # alarm
    assert len(removed) == 8, removed
    printed = capsys.readouterr().out
    assert all(f"removed {label}" in printed for label in removed)
    assert "Removed 8 resources of participant ana on the local backend." in printed


def test_cleanup_is_idempotent(cloud, capsys):
    create_everything(cloud)
    assert cloud.cleanup()
    assert cloud.cleanup() == []
    assert "Nothing to remove for participant" in capsys.readouterr().out


def test_an_untagged_resource_with_the_prefix_is_left_alone(cloud):
    """The prefix is not proof of ownership: without the participant tag, nothing is deleted."""
    sqs = cloud.client("sqs")
    url = sqs.create_queue(QueueName=cloud.name("made-by-hand"))["QueueUrl"]
    assert cloud.cleanup(quiet=True) == []
    sqs.delete_queue(QueueUrl=url)
