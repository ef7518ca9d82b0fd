"""Find and delete everything one participant created, and nothing of anyone else's.

A resource belongs to the participant when its name starts with the participant's prefix *and*
it carries the participant's tag: the prefix alone would let ``ana`` delete ``ana-b``'s queues.
The sweep runs in dependency order (event source mappings before functions and queues, policies
before roles) and ignores resources that vanish while it runs, so it is safe to repeat.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from workshop.backends import Backend

Deletion = tuple[str, Callable[[], None]]
"""What would be removed ("SQS queue ws-ana-photos") and how to remove it."""

_GONE = {
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "ResourceNotFoundException",
    "NotFoundException",
    "NoSuchEntity",
}


def cleanup(cloud: Backend, *, quiet: bool = False) -> list[str]:
    """Delete the participant's resources on ``cloud``; return (and print) what was removed."""
    removed: list[str] = []
    touched = _services_that_may_hold_resources(cloud)
    for service, sweep in _SWEEPS:
        if touched is not None and service not in touched:
            continue
        for label, delete in sweep(cloud):
            try:
                delete()
            except ClientError as error:
                if error.response["Error"]["Code"] not in _GONE:
                    raise
                continue
            removed.append(label)
            if not quiet:
                print(f"removed {label}")
    if not quiet:
        who = f"participant {cloud.participant} on the {cloud.kind} backend"
        count = f"{len(removed)} resource{'s' if len(removed) != 1 else ''}"
        print(f"Removed {count} of {who}." if removed else f"Nothing to remove for {who}.")
    return removed


def _services_that_may_hold_resources(cloud: Backend) -> set[str] | None:
    """The services worth sweeping, or None for all of them.

    A kernel's private local cloud holds only what this kernel made through its clients, so
    services it never called are skipped (creating their clients costs seconds). A shared
    cloud (``workshop serve``) or a real account may hold resources made elsewhere.
    """
    if cloud.kind != "local" or cloud.settings.endpoint:
        return None
    return set(cloud.request_counts()["service"])


def _queues(cloud: Backend) -> Iterator[Deletion]:
    sqs = cloud.client("sqs")
    for page in sqs.get_paginator("list_queues").paginate(QueueNamePrefix=cloud.prefix):
        for url in page.get("QueueUrls", []):
            name = url.rsplit("/", 1)[-1]
            tags = _ignore_gone(lambda u=url: sqs.list_queue_tags(QueueUrl=u).get("Tags", {}))
            if tags is not None and cloud.owns(name, tags):
                yield f"SQS queue {name}", lambda u=url: sqs.delete_queue(QueueUrl=u)


def _functions(cloud: Backend) -> Iterator[Deletion]:
    for name, _arn in _own_functions(cloud):
        yield f"Lambda function {name}", lambda n=name: _delete_function(cloud, n)


def _delete_function(cloud: Backend, name: str) -> None:
    """The function, then the log group Lambda made for it (untagged, so no other sweep finds
    it; the function's own tags are what proved it ours)."""
    cloud.client("lambda").delete_function(FunctionName=name)
    _ignore_gone(lambda: cloud.client("logs").delete_log_group(logGroupName=f"/aws/lambda/{name}"))


def _event_source_mappings(cloud: Backend) -> Iterator[Deletion]:
    aws_lambda = cloud.client("lambda")
    for name, _arn in _own_functions(cloud):
        mappings = aws_lambda.list_event_source_mappings(FunctionName=name)
        for mapping in mappings.get("EventSourceMappings", []):
            uuid = mapping["UUID"]
            yield (
                f"event source mapping {uuid} ({name})",
                lambda u=uuid: aws_lambda.delete_event_source_mapping(UUID=u),
            )


def _own_functions(cloud: Backend) -> Iterator[tuple[str, str]]:
    aws_lambda = cloud.client("lambda")
    for page in aws_lambda.get_paginator("list_functions").paginate():
        for function in page.get("Functions", []):
            name, arn = function["FunctionName"], function["FunctionArn"]
            if not name.startswith(cloud.prefix):
                continue
            tags = _ignore_gone(lambda a=arn: aws_lambda.list_tags(Resource=a).get("Tags", {}))
            if tags is not None and cloud.owns(name, tags):
                yield name, arn


def _log_groups(cloud: Backend) -> Iterator[Deletion]:
    logs = cloud.client("logs")
    for prefix in (cloud.prefix, f"/aws/lambda/{cloud.prefix}"):
        for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=prefix):
            for group in page.get("logGroups", []):
                name = group["logGroupName"]
                tags = _ignore_gone(
                    lambda n=name: logs.list_tags_log_group(logGroupName=n).get("tags", {})
                )
                if tags is not None and cloud.owns(name.removeprefix("/aws/lambda/"), tags):
                    yield f"log group {name}", lambda n=name: logs.delete_log_group(logGroupName=n)


def _http_apis(cloud: Backend) -> Iterator[Deletion]:
    apis = cloud.client("apigatewayv2")
    for api in _paged(apis.get_apis, "Items"):
        if cloud.owns(api.get("Name", ""), api.get("Tags") or {}):
            yield (
                f"HTTP API {api['Name']} ({api['ApiId']})",
                lambda i=api["ApiId"]: apis.delete_api(ApiId=i),
            )


def _alarms(cloud: Backend) -> Iterator[Deletion]:
    cloudwatch = cloud.client("cloudwatch")
    pages = cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=cloud.prefix)
    for page in pages:
        for alarm in page.get("MetricAlarms", []):
            name, arn = alarm["AlarmName"], alarm["AlarmArn"]
            tags = _ignore_gone(
                lambda a=arn: cloudwatch.list_tags_for_resource(ResourceARN=a).get("Tags", [])
            )
            if tags is not None and cloud.owns(name, {t["Key"]: t["Value"] for t in tags}):
                yield (
                    f"CloudWatch alarm {name}",
                    lambda n=name: cloudwatch.delete_alarms(AlarmNames=[n]),
                )


def _roles(cloud: Backend) -> Iterator[Deletion]:
    iam = cloud.client("iam")
    for page in iam.get_paginator("list_roles").paginate():
        for role in page.get("Roles", []):
            name = role["RoleName"]
            if not name.startswith(cloud.prefix):
                continue
            tags = _ignore_gone(lambda n=name: iam.list_role_tags(RoleName=n).get("Tags", []))
            if tags is not None and cloud.owns(name, {t["Key"]: t["Value"] for t in tags}):
                yield f"IAM role {name}", lambda n=name: _delete_role(iam, n)


def _delete_role(iam, name: str) -> None:
    for policy in iam.list_attached_role_policies(RoleName=name).get("AttachedPolicies", []):
        iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
    for policy_name in iam.list_role_policies(RoleName=name).get("PolicyNames", []):
        iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
    iam.delete_role(RoleName=name)


def _paged(call: Callable[..., dict], key: str) -> Iterator[dict]:
    """Items of an API that pages with NextToken but has no boto3 paginator."""
    token = None
    while True:
        page = call(**({"NextToken": token} if token else {}))
        yield from page.get(key, [])
        token = page.get("NextToken")
        if not token:
            return


def _ignore_gone(call: Callable[[], object]):
    """Run a lookup; None if the resource vanished in the meantime."""
    try:
        return call()
    except ClientError as error:
        if error.response["Error"]["Code"] in _GONE:
            return None
        raise


# (service, sweep) in dependency order: mappings before functions and queues, policies with roles.
_SWEEPS: list[tuple[str, Callable[[Backend], Iterator[Deletion]]]] = [
    ("lambda", _event_source_mappings),
    ("apigatewayv2", _http_apis),
    ("lambda", _functions),
    ("logs", _log_groups),
    ("sqs", _queues),
    ("cloudwatch", _alarms),
    ("iam", _roles),
]
