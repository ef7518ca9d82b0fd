"""HTTP APIs on the local backend: created with plain boto3, served on 127.0.0.1 as AWS serves
them (routes, stages, Lambda proxy 2.0 and 1.0, the permission check, the SQS integration)."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventModel,
    APIGatewayProxyEventV2Model,
)
from botocore.exceptions import ClientError
from conftest import zipped

from workshop import apis as workshop_apis
from workshop.lambdas import put_policy

ACCOUNT = "123456789012"


def call(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        response = urllib.request.urlopen(request, timeout=20)
    except urllib.error.HTTPError as error:
        response = error
    with response:
        headers = {k.lower(): ", ".join(response.headers.get_all(k)) for k in response.headers}
        return response.status, headers, response.read()


def echoed(url: str, **kwargs: Any) -> dict[str, Any]:
    """The event the echo function received; it must validate against Powertools' model."""
    status, _headers, body = call(url, **kwargs)
    assert status == 200, body
    event = json.loads(body)["event"]
    model = APIGatewayProxyEventV2Model if event["version"] == "2.0" else APIGatewayProxyEventModel
    model.model_validate(event)
    return event


@pytest.fixture
def role(cloud) -> str:
    return cloud.client("iam").create_role(
        RoleName=cloud.name("http-role"), AssumeRolePolicyDocument="{}", Tags=cloud.tag_list()
    )["Role"]["Arn"]


@pytest.fixture
def function(cloud, role):
    """Deploy tests/functions/http_echo.py; return (name, arn)."""
    aws_lambda = cloud.client("lambda")

    def make(base: str = "http-echo", timeout: int = 3) -> tuple[str, str]:
        name = cloud.name(base)
        arn = aws_lambda.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="http_echo.handler",
            Code={"ZipFile": zipped("http_echo")},
            Timeout=timeout,
            Tags=cloud.tags,
        )["FunctionArn"]
        return name, arn

    return make


def allow(cloud, name: str, api_id: str, source: str = "*/*") -> None:
    cloud.client("lambda").add_permission(
        FunctionName=name,
        StatementId=f"apigw-{api_id}",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{api_id}/{source}",
    )


@pytest.fixture
def quick_api(cloud, function):
    """A quick-created API in front of the echo function, with the permission it needs."""
    name, arn = function()
    api = cloud.client("apigatewayv2").create_api(
        Name=cloud.name("quick"), ProtocolType="HTTP", Target=arn, Tags=cloud.tags
    )
    allow(cloud, name, api["ApiId"])
    return api


def explicit_api(cloud, arn: str, routes: list[str], version: str = "2.0", **integration):
    apis = cloud.client("apigatewayv2")
    api = apis.create_api(Name=cloud.name("explicit"), ProtocolType="HTTP", Tags=cloud.tags)
    integration_id = apis.create_integration(
        ApiId=api["ApiId"],
        IntegrationType="AWS_PROXY",
        IntegrationUri=arn,
        PayloadFormatVersion=version,
        **integration,
    )["IntegrationId"]
    for key in routes:
        apis.create_route(ApiId=api["ApiId"], RouteKey=key, Target=f"integrations/{integration_id}")
    return api, integration_id


# --- the control plane ---------------------------------------------------------------------


def test_api_endpoint_is_local_everywhere(cloud, server):
    apis = cloud.client("apigatewayv2")
    api = apis.create_api(Name=cloud.name("endpoint"), ProtocolType="HTTP", Tags=cloud.tags)
    expected = f"{server.endpoint_url}/_aws/execute-api/{api['ApiId']}"
    assert api["ApiEndpoint"] == expected
    assert apis.get_api(ApiId=api["ApiId"])["ApiEndpoint"] == expected
    listed = [a for a in apis.get_apis()["Items"] if a["ApiId"] == api["ApiId"]]
    assert listed[0]["ApiEndpoint"] == expected
    updated = apis.update_api(ApiId=api["ApiId"], Description="changed")
    assert updated["ApiEndpoint"] == expected and updated["Description"] == "changed"


def test_quick_create_adds_integration_route_and_stage(cloud, function):
    name, arn = function()
    apis = cloud.client("apigatewayv2")
    api = apis.create_api(
        Name=cloud.name("quick"),
        ProtocolType="HTTP",
        Target=arn,
        RouteKey="GET /hello",
        Tags=cloud.tags,
    )
    integrations = apis.get_integrations(ApiId=api["ApiId"])["Items"]
    assert [(i["IntegrationType"], i["IntegrationUri"]) for i in integrations] == [
        ("AWS_PROXY", arn)
    ]
    assert integrations[0]["PayloadFormatVersion"] == "2.0"
    routes = apis.get_routes(ApiId=api["ApiId"])["Items"]
    assert [(r["RouteKey"], r["Target"]) for r in routes] == [
        ("GET /hello", f"integrations/{integrations[0]['IntegrationId']}")
    ]
    stages = apis.get_stages(ApiId=api["ApiId"])["Items"]
    assert [(s["StageName"], s["AutoDeploy"]) for s in stages] == [("$default", True)]
    allow(cloud, name, api["ApiId"])
    assert call(api["ApiEndpoint"] + "/hello")[0] == 200
    assert call(api["ApiEndpoint"] + "/other")[::2] == (404, b'{"message":"Not Found"}')


def test_a_stage_serves_its_deployment_and_auto_deploy_serves_every_change(cloud, function):
    name, arn = function()
    api, integration_id = explicit_api(cloud, arn, ["GET /one"])
    api_id, base = api["ApiId"], api["ApiEndpoint"]
    allow(cloud, name, api_id)
    apis = cloud.client("apigatewayv2")
    apis.create_stage(ApiId=api_id, StageName="prod")
    apis.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    assert call(base + "/prod/one")[0] == 404, "never deployed: nothing to serve"
    assert "DeploymentId" not in apis.get_stage(ApiId=api_id, StageName="prod")
    assert call(base + "/one")[0] == 200

    first = apis.create_deployment(ApiId=api_id, StageName="prod", Description="first")
    assert (first["DeploymentStatus"], first["Description"]) == ("DEPLOYED", "first")
    assert apis.get_stage(ApiId=api_id, StageName="prod")["DeploymentId"] == first["DeploymentId"]
    assert call(base + "/prod/one")[0] == 200

    apis.create_route(ApiId=api_id, RouteKey="GET /two", Target=f"integrations/{integration_id}")
    assert call(base + "/two")[0] == 200, "auto-deploy releases the change at once"
    assert call(base + "/prod/two")[0] == 404, "prod still serves its snapshot"
    second = apis.create_deployment(ApiId=api_id)["DeploymentId"]
    assert call(base + "/prod/two")[0] == 404, "a deployment to no stage changes no stage"
    updated = apis.update_stage(ApiId=api_id, StageName="prod", DeploymentId=second)
    assert updated["DeploymentId"] == second
    assert call(base + "/prod/two")[0] == 200
    apis.create_route(ApiId=api_id, RouteKey="GET /three", Target=f"integrations/{integration_id}")
    assert call(base + "/prod/three")[0] == 404
    updated = apis.update_stage(
        ApiId=api_id, StageName="prod", AutoDeploy=True, StageVariables={"color": "green"}
    )
    assert updated["AutoDeploy"] is True and updated["StageVariables"] == {"color": "green"}
    assert call(base + "/prod/three")[0] == 200, "auto-deploy turned on: the API as it is now"
    kept = apis.update_stage(ApiId=api_id, StageName="prod", AutoDeploy=False)
    assert apis.get_deployment(ApiId=api_id, DeploymentId=kept["DeploymentId"])["AutoDeployed"]
    apis.create_route(ApiId=api_id, RouteKey="GET /four", Target=f"integrations/{integration_id}")
    assert call(base + "/prod/three")[0] == 200, "auto-deploy off: its last release stays"
    assert call(base + "/prod/four")[0] == 404
    described = apis.update_deployment(ApiId=api_id, DeploymentId=second, Description="renamed")
    assert described["Description"] == "renamed"

    listed = [d["DeploymentId"] for d in apis.get_deployments(ApiId=api_id)["Items"]]
    assert sorted(listed) == sorted([first["DeploymentId"], second, kept["DeploymentId"]])
    assert apis.get_deployment(ApiId=api_id, DeploymentId=second)["DeploymentId"] == second
    for attempt, message in [
        (
            lambda: apis.get_deployment(ApiId=api_id, DeploymentId="nope"),
            "Invalid Deployment identifier specified nope",
        ),
        (
            lambda: apis.update_stage(ApiId=api_id, StageName="prod", DeploymentId="nope"),
            "Invalid Deployment identifier specified nope",
        ),
        (
            lambda: apis.create_deployment(ApiId=api_id, StageName="missing"),
            "Invalid stage identifier specified",
        ),
        (
            lambda: apis.update_stage(ApiId=api_id, StageName="missing", Description="x"),
            "Invalid stage identifier specified",
        ),
    ]:
        with pytest.raises(ClientError) as refused:
            attempt()
        assert refused.value.response["Error"] == {"Code": "NotFoundException", "Message": message}
    apis.delete_stage(ApiId=api_id, StageName="prod")
    assert call(base + "/prod/one")[0] == 404


# --- payload format 2.0 ----------------------------------------------------------------------


def test_event_v2_field_for_field(cloud, quick_api):
    before = time.time()
    status, headers, body = call(
        quick_api["ApiEndpoint"] + "/orders/7?size=big&tag=a&tag=b",
        method="POST",
        body=b'{"item": "tea"}',
        headers={"Content-Type": "application/json", "Cookie": "session=1; theme=dark,blue"},
    )
    assert status == 200
    assert headers["x-handled-by"].endswith("http-echo")
    event = json.loads(body)["event"]
    APIGatewayProxyEventV2Model.model_validate(event)
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/orders/7"
    assert event["rawQueryString"] == "size=big&tag=a&tag=b"
    assert event["queryStringParameters"] == {"size": "big", "tag": "a,b"}
    assert event["cookies"] == ["session=1", "theme=dark,blue"]
    assert "cookie" not in event["headers"]
    assert all(name == name.lower() for name in event["headers"])
    assert event["headers"]["content-type"] == "application/json"
    assert event["body"] == '{"item": "tea"}' and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["apiId"] == quick_api["ApiId"] and context["stage"] == "$default"
    assert context["http"]["method"] == "POST" and context["http"]["path"] == "/orders/7"
    assert context["http"]["sourceIp"] == "127.0.0.1"
    assert before * 1000 - 5 <= context["timeEpoch"] <= time.time() * 1000 + 5
    assert context["requestId"] == headers["apigw-requestid"]
    again = echoed(quick_api["ApiEndpoint"] + "/orders/7")
    assert again["requestContext"]["requestId"] != context["requestId"]
    assert again["requestContext"]["timeEpoch"] >= context["timeEpoch"]
    assert "body" not in again and "cookies" not in again


def test_binary_bodies_are_base64_both_ways(cloud, quick_api):
    data = bytes(range(256))
    event = echoed(
        quick_api["ApiEndpoint"] + "/upload",
        method="POST",
        body=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == data
    form = echoed(
        quick_api["ApiEndpoint"] + "/form",
        method="POST",
        body=b"a=1&b=2",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form["isBase64Encoded"] is True and base64.b64decode(form["body"]) == b"a=1&b=2"
    status, headers, body = call(quick_api["ApiEndpoint"] + "/file?mode=binary")
    assert status == 200 and body == data
    assert headers["content-type"] == "application/octet-stream"


@pytest.mark.parametrize(
    ("returned", "status", "body"),
    [
        ({"hello": "world"}, 200, b'{"hello": "world"}'),
        ([1, 2], 200, b"[1, 2]"),
        ("Hello from Lambda!", 200, b"Hello from Lambda!"),
        (
            {"statusCode": 201, "headers": {"x-a": "1"}, "cookies": ["c=1"], "body": "made"},
            201,
            b"made",
        ),
        ({"statusCode": "abc", "body": "x"}, 500, b'{"message":"Internal Server Error"}'),
        ({"statusCode": 200, "body": {"not": "a string"}}, 500, None),
    ],
)
def test_v2_responses_are_mapped(cloud, quick_api, returned, status, body):
    got_status, headers, got_body = call(
        quick_api["ApiEndpoint"] + "/?mode=return",
        method="POST",
        body=json.dumps(returned).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert got_status == status
    if body is not None:
        assert got_body == body
    if status == 201:
        assert headers["x-a"] == "1" and headers["set-cookie"] == "c=1"
    if status == 500:
        assert got_body == b'{"message":"Internal Server Error"}'


def test_function_error_gives_500(cloud, quick_api):
    status, headers, body = call(quick_api["ApiEndpoint"] + "/?mode=fail")
    assert (status, body) == (500, b'{"message":"Internal Server Error"}')
    assert headers["content-type"] == "application/json" and headers["apigw-requestid"]


# --- routes and stages -----------------------------------------------------------------------


def test_most_specific_route_wins(cloud, function):
    name, arn = function()
    routes = [
        "GET /pets/dog/1",
        "GET /pets/dog/{id}",
        "GET /pets/{proxy+}",
        "ANY /pets/{kind}/{id}",
        "POST /pets/{kind}/{id}",
        "$default",
    ]
    api, _ = explicit_api(cloud, arn, routes)
    apis = cloud.client("apigatewayv2")
    apis.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    allow(cloud, name, api["ApiId"])
    base = api["ApiEndpoint"]
    cases = [
        ("GET", "/pets/dog/1", "GET /pets/dog/1", None),
        ("GET", "/pets/dog/2", "GET /pets/dog/{id}", {"id": "2"}),
        ("GET", "/pets/cat/3", "ANY /pets/{kind}/{id}", {"kind": "cat", "id": "3"}),
        ("POST", "/pets/cat/3", "POST /pets/{kind}/{id}", {"kind": "cat", "id": "3"}),
        ("GET", "/pets/a/b/c", "GET /pets/{proxy+}", {"proxy": "a/b/c"}),
        ("DELETE", "/pets/a/b/c", "$default", None),
        ("GET", "/elsewhere", "$default", None),
        ("GET", "/pets/caf%C3%A9/1", "ANY /pets/{kind}/{id}", {"kind": "café", "id": "1"}),
        # a parameter is decoded once: an encoded slash stays inside it, %25 is one "%"
        ("GET", "/pets/a%2Fb/1", "ANY /pets/{kind}/{id}", {"kind": "a/b", "id": "1"}),
        ("GET", "/pets/a%2525b/1", "ANY /pets/{kind}/{id}", {"kind": "a%25b", "id": "1"}),
    ]
    for method, path, route_key, parameters in cases:
        event = echoed(base + path, method=method, body=b"" if method == "POST" else None)
        assert (event["routeKey"], event.get("pathParameters")) == (route_key, parameters), path
        assert event["rawPath"] == path  # as the client sent it


def test_named_stage_and_missing_stage(cloud, function):
    name, arn = function()
    api, _ = explicit_api(cloud, arn, ["GET /hello"])
    apis = cloud.client("apigatewayv2")
    assert call(api["ApiEndpoint"] + "/hello")[2] == b'{"message":"Not Found"}'  # no stage yet
    apis.create_stage(
        ApiId=api["ApiId"], StageName="prod", AutoDeploy=True, StageVariables={"color": "blue"}
    )
    allow(cloud, name, api["ApiId"])
    event = echoed(api["ApiEndpoint"] + "/prod/hello")
    assert event["rawPath"] == "/prod/hello" and event["requestContext"]["stage"] == "prod"
    assert event["stageVariables"] == {"color": "blue"}
    assert call(api["ApiEndpoint"] + "/hello")[0] == 404  # no $default stage
    assert call(api["ApiEndpoint"] + "/prod/other")[0] == 404  # no route, no $default route


def test_route_changes_are_served_at_once(cloud, function):
    name, arn = function()
    api, integration_id = explicit_api(cloud, arn, ["GET /one"])
    apis = cloud.client("apigatewayv2")
    apis.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    allow(cloud, name, api["ApiId"])
    assert call(api["ApiEndpoint"] + "/one")[0] == 200
    assert call(api["ApiEndpoint"] + "/two")[0] == 404
    route = apis.create_route(
        ApiId=api["ApiId"], RouteKey="GET /two", Target=f"integrations/{integration_id}"
    )
    assert call(api["ApiEndpoint"] + "/two")[0] == 200
    apis.delete_route(ApiId=api["ApiId"], RouteId=route["RouteId"])
    assert call(api["ApiEndpoint"] + "/two")[0] == 404
    apis.delete_api(ApiId=api["ApiId"])
    assert call(api["ApiEndpoint"] + "/one")[0] == 404


def test_routes_read_while_they_change_are_not_kept(cloud, function, monkeypatch):
    """A route created while a request reads the API's routes is served by the next request."""
    from workshop.local import http_apis

    name, arn = function()
    api, integration_id = explicit_api(cloud, arn, ["GET /one"])
    apis = cloud.client("apigatewayv2")
    apis.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    allow(cloud, name, api["ApiId"])
    describe = http_apis.MotoApis.describe
    changes = [
        lambda: apis.create_route(
            ApiId=api["ApiId"], RouteKey="GET /two", Target=f"integrations/{integration_id}"
        )
    ]

    def describe_then_change(*args):
        described = describe(*args)  # read before the change lands
        while changes:
            changes.pop()()
        return described

    monkeypatch.setattr(http_apis.MotoApis, "describe", staticmethod(describe_then_change))
    assert call(api["ApiEndpoint"] + "/one")[0] == 200
    assert not changes
    assert call(api["ApiEndpoint"] + "/two")[0] == 200


def test_a_quick_create_refused_halfway_leaves_no_api(cloud, function, server, monkeypatch):
    _name, arn = function()
    served = server.gateway.http_apis
    made = served._moto

    def refuse_stages(method, path, body, region):
        if path.endswith("/stages"):
            return (
                "400 Bad Request",
                [
                    ("Content-Type", "application/json"),
                    ("x-amzn-ErrorType", "BadRequestException"),
                ],
                b'{"message":"Stage refused"}',
            )
        return made(method, path, body, region)

    monkeypatch.setattr(served, "_moto", refuse_stages)
    apis = cloud.client("apigatewayv2")
    with pytest.raises(ClientError, match="Stage refused") as refused:
        apis.create_api(Name=cloud.name("half"), ProtocolType="HTTP", Target=arn, Tags=cloud.tags)
    assert refused.value.response["Error"]["Code"] == "BadRequestException"
    assert cloud.name("half") not in [a["Name"] for a in apis.get_apis()["Items"]]


# --- payload format 1.0 ----------------------------------------------------------------------


def test_event_v1_field_for_field(cloud, function):
    name, arn = function()
    api, _ = explicit_api(cloud, arn, ["POST /items/{id}"], version="1.0")
    cloud.client("apigatewayv2").create_stage(
        ApiId=api["ApiId"], StageName="$default", AutoDeploy=True
    )
    allow(cloud, name, api["ApiId"])
    event = echoed(
        api["ApiEndpoint"] + "/items/42?a=1&a=2&b=x",
        method="POST",
        body=b"plain text",
        headers={"Content-Type": "text/plain", "X-Custom": "yes"},
    )
    APIGatewayProxyEventModel.model_validate(event)
    assert event["version"] == "1.0"
    assert (event["resource"], event["path"], event["httpMethod"]) == (
        "/items/{id}",
        "/items/42",
        "POST",
    )
    assert event["headers"]["x-custom"] == "yes"
    assert event["multiValueHeaders"]["x-custom"] == ["yes"]
    assert event["queryStringParameters"] == {"a": "2", "b": "x"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x"]}
    assert event["pathParameters"] == {"id": "42"} and event["stageVariables"] is None
    assert event["body"] == "plain text" and event["isBase64Encoded"] is False
    assert event["requestContext"]["requestTimeEpoch"] > 1_000_000_000_000
    bare = echoed(api["ApiEndpoint"] + "/items/1", method="POST", body=b"")
    APIGatewayProxyEventModel.model_validate(bare)
    assert bare["body"] is None and bare["queryStringParameters"] is None


def test_v1_needs_a_status_code(cloud, function):
    name, arn = function()
    api, _ = explicit_api(cloud, arn, ["POST /r"], version="1.0")
    cloud.client("apigatewayv2").create_stage(
        ApiId=api["ApiId"], StageName="$default", AutoDeploy=True
    )
    allow(cloud, name, api["ApiId"])
    status, _h, body = call(
        api["ApiEndpoint"] + "/r?mode=return", method="POST", body=b'{"hello": "world"}'
    )
    assert (status, body) == (500, b'{"message":"Internal Server Error"}')
    status, headers, body = call(
        api["ApiEndpoint"] + "/r?mode=return",
        method="POST",
        body=json.dumps(
            {"statusCode": 202, "multiValueHeaders": {"x-m": ["1", "2"]}, "body": "ok"}
        ).encode(),
    )
    assert (status, body) == (202, b"ok") and headers["x-m"] == "1, 2"


# --- permission and timeout ------------------------------------------------------------------


def test_permission_is_checked(cloud, function):
    name, arn = function()
    api, _ = explicit_api(cloud, arn, ["GET /secure"])
    cloud.client("apigatewayv2").create_stage(
        ApiId=api["ApiId"], StageName="$default", AutoDeploy=True
    )
    url = api["ApiEndpoint"] + "/secure"
    assert call(url)[::2] == (500, b'{"message":"Internal Server Error"}')
    allow(cloud, name, api["ApiId"], source="*/POST/secure")  # the wrong method
    assert call(url)[0] == 500
    cloud.client("lambda").add_permission(
        FunctionName=name,
        StatementId="right",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{api['ApiId']}/$default/GET/secure",
    )
    assert call(url)[0] == 200
    cloud.client("lambda").remove_permission(FunctionName=name, StatementId="right")
    assert call(url)[0] == 500


def test_integration_timeout_gives_503(cloud, function):
    name, arn = function(timeout=5)
    api, _ = explicit_api(cloud, arn, ["GET /slow"], TimeoutInMillis=1000)
    cloud.client("apigatewayv2").create_stage(
        ApiId=api["ApiId"], StageName="$default", AutoDeploy=True
    )
    allow(cloud, name, api["ApiId"])
    assert call(api["ApiEndpoint"] + "/slow?mode=sleep&seconds=0")[0] == 200  # warm it
    started = time.monotonic()
    status, _h, body = call(api["ApiEndpoint"] + "/slow?mode=sleep&seconds=2.5")
    took = time.monotonic() - started
    assert (status, body) == (503, b'{"message":"Service Unavailable"}')
    assert 0.9 < took < 2.0


def test_body_over_10_mb_is_refused(cloud, quick_api):
    status, _h, body = call(
        quick_api["ApiEndpoint"] + "/big", method="POST", body=b"x" * (10 * 1024 * 1024 + 1)
    )
    assert (status, body) == (413, b'{"message":"Request Entity Too Large"}')
    status, _h, _b = call(
        quick_api["ApiEndpoint"] + "/big", method="POST", body=b"x" * (10 * 1024 * 1024)
    )
    assert status == 200


# --- SQS-SendMessage -------------------------------------------------------------------------


def sqs_api(cloud, role: str, parameters: dict[str, str], route: str = "POST /orders/{id}"):
    return workshop_apis.queue_api(cloud, parameters.get("QueueUrl", ""), role, route, parameters)


def allow_send(cloud, role: str, resource: str) -> None:
    put_policy(cloud.client("iam"), role, "send", "sqs:SendMessage", resource)


def test_sqs_send_message_with_selection_expressions(cloud, sqs, role):
    queue = cloud.create_queue("orders")
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    allow_send(cloud, role, arn)
    attributes = {
        "customer": {"DataType": "String", "StringValue": "${request.header.x-customer}"},
        "request": {"DataType": "String", "StringValue": "${context.requestId}"},
    }
    api = sqs_api(
        cloud,
        role,
        {
            "QueueUrl": queue,
            "MessageBody": "$request.body.order",
            "MessageAttributes": json.dumps(attributes),
        },
    )
    status, headers, body = call(
        api["ApiEndpoint"] + "/orders/17?channel=web",
        method="POST",
        body=json.dumps({"order": {"id": 17, "item": "tea"}}).encode(),
        headers={"Content-Type": "application/json", "X-Customer": "ada"},
    )
    assert status == 200, body
    result = json.loads(body)["SendMessageResponse"]["SendMessageResult"]
    messages = sqs.receive_message(
        QueueUrl=queue, MessageAttributeNames=["All"], WaitTimeSeconds=1
    )["Messages"]
    assert [m["MessageId"] for m in messages] == [result["MessageId"]]
    assert json.loads(messages[0]["Body"]) == {"id": 17, "item": "tea"}
    assert messages[0]["MD5OfBody"] == result["MD5OfMessageBody"]
    got = {k: v["StringValue"] for k, v in messages[0]["MessageAttributes"].items()}
    assert got == {"customer": "ada", "request": headers["apigw-requestid"]}


def test_sqs_mixed_text_path_and_query(cloud, sqs, role):
    queue = cloud.create_queue("mixed")
    allow_send(cloud, role, "*")
    api = sqs_api(
        cloud,
        role,
        {
            "QueueUrl": queue,
            "MessageBody": "order-${request.path.id} via ${request.querystring.channel}",
            "DelaySeconds": "0",
        },
    )
    assert call(api["ApiEndpoint"] + "/orders/9?channel=app", method="POST", body=b"")[0] == 200
    message = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"][0]
    assert message["Body"] == "order-9 via app"


def test_sqs_errors_as_aws_gives_them(cloud, sqs, role):
    queue = cloud.create_queue("guarded")
    api = sqs_api(cloud, role, {"QueueUrl": queue, "MessageBody": "$request.body"})
    url = api["ApiEndpoint"] + "/orders/1"
    status, _h, body = call(url, method="POST", body=b"hello")
    assert status == 403 and json.loads(body)["Error"]["Code"] == "AccessDenied"
    allow_send(cloud, role, "*")
    assert call(url, method="POST", body=b"hello")[0] == 200
    assert call(url, method="POST", body=b"")[::2] == (400, b'{"message":"Bad Request"}')
    missing = sqs_api(
        cloud, role, {"QueueUrl": queue + "-gone", "MessageBody": "$request.body"}, "POST /x"
    )
    status, _h, body = call(missing["ApiEndpoint"] + "/x", method="POST", body=b"hi")
    assert status == 400 and json.loads(body)["Error"]["Code"].endswith("NonExistentQueue")
    no_role = sqs_api(
        cloud,
        f"arn:aws:iam::{ACCOUNT}:role/{cloud.name('nobody')}",
        {"QueueUrl": queue, "MessageBody": "$request.body"},
        "POST /y",
    )
    status, _h, body = call(no_role["ApiEndpoint"] + "/y", method="POST", body=b"hi")
    assert (status, body) == (500, b'{"message":"Internal Server Error"}')


def test_integration_uri_forms_and_function_timeout(cloud, function):
    name, arn = function(timeout=1)
    path_form = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations"
    for uri in (path_form, name):
        api, _ = explicit_api(cloud, uri, ["GET /f"])
        cloud.client("apigatewayv2").create_stage(
            ApiId=api["ApiId"], StageName="$default", AutoDeploy=True
        )
        allow(cloud, name, api["ApiId"])
        assert echoed(api["ApiEndpoint"] + "/f")["routeKey"] == "GET /f"
    # The function's own timeout (1 s) ends it first: a function error, so 500.
    status, _h, body = call(api["ApiEndpoint"] + "/f?mode=sleep&seconds=3")
    assert (status, body) == (500, b'{"message":"Internal Server Error"}')


def test_a_credentials_role_replaces_the_permission(cloud, function, role):
    _name, arn = function()
    api, _ = explicit_api(cloud, arn, ["GET /as-role"], CredentialsArn=role)
    cloud.client("apigatewayv2").create_stage(
        ApiId=api["ApiId"], StageName="$default", AutoDeploy=True
    )
    url = api["ApiEndpoint"] + "/as-role"
    assert call(url)[0] == 500  # the role may not invoke the function yet
    put_policy(cloud.client("iam"), role, "invoke", "lambda:InvokeFunction", arn)
    assert call(url)[0] == 200


def test_sqs_fifo_group_and_deduplication(cloud, sqs, role):
    queue = sqs.create_queue(
        QueueName=cloud.name("orders.fifo"), Attributes={"FifoQueue": "true"}, tags=cloud.tags
    )["QueueUrl"]
    allow_send(cloud, role, "*")
    api = sqs_api(
        cloud,
        role,
        {
            "QueueUrl": queue,
            "MessageBody": "$request.body",
            "MessageGroupId": "$request.header.x-customer",
            "MessageDeduplicationId": "$request.body.id",
        },
    )
    url = api["ApiEndpoint"] + "/orders/1"
    answers = [
        json.loads(call(url, "POST", json.dumps({"id": i}).encode(), {"X-Customer": "ada"})[2])
        for i in (1, 2, 1)  # the third is a duplicate of the first
    ]
    results = [a["SendMessageResponse"]["SendMessageResult"] for a in answers]
    assert results[0]["SequenceNumber"] and results[2]["MessageId"] == results[0]["MessageId"]
    received = sqs.receive_message(
        QueueUrl=queue, MaxNumberOfMessages=10, MessageSystemAttributeNames=["MessageGroupId"]
    )["Messages"]
    assert [json.loads(m["Body"])["id"] for m in received] == [1, 2]
    assert {m["Attributes"]["MessageGroupId"] for m in received} == {"ada"}
    status, _h, body = call(url, "POST", b'{"id": 3}')  # no group: SQS refuses
    assert status == 400 and json.loads(body)["Error"]["Code"].endswith("MissingParameter")


def test_a_throttled_function_gives_500(cloud, quick_api):
    integration = cloud.client("apigatewayv2").get_integrations(ApiId=quick_api["ApiId"])["Items"]
    function_arn = integration[0]["IntegrationUri"]
    assert call(quick_api["ApiEndpoint"] + "/fine")[0] == 200
    cloud.client("lambda").put_function_concurrency(
        FunctionName=function_arn, ReservedConcurrentExecutions=0
    )
    status, _h, body = call(quick_api["ApiEndpoint"] + "/throttled")
    assert (status, body) == (500, b'{"message":"Internal Server Error"}')
