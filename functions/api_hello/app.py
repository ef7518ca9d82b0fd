"""Greet the name in the path (``GET /hello/{name}``) or the query string (``?name=``).

Written for an HTTP API's Lambda proxy integration: it reads the request from the event and
returns a full HTTP response (status, headers, a string body), which payload formats 1.0 and
2.0 both accept.
"""

import json


def handler(event, context):
    name = (event.get("pathParameters") or {}).get("name") or (
        event.get("queryStringParameters") or {}
    ).get("name", "world")
    if not name.isalpha():
        return _answer(400, {"error": f"a name has letters only, not {name!r}"})
    print(f"greeting {name}")
    return _answer(200, {"message": f"hello, {name}", "request_id": context.aws_request_id})


def _answer(status, document):
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(document),
    }
