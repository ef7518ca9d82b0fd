"""Answer in the shape the query string asks for (``?shape=...``), to see how API Gateway
turns what a function returns into an HTTP response.

- ``created``: a full response with status 201 and a ``location`` header;
- ``bare``: a JSON object with no ``statusCode`` at all;
- ``malformed``: a ``statusCode`` that is not a number;
- ``error``: the handler raises;
- anything else: a full response with status 200.
"""

import json


def handler(event, context):
    shape = (event.get("queryStringParameters") or {}).get("shape", "ok")
    if shape == "created":
        return {
            "statusCode": 201,
            "headers": {"content-type": "application/json", "location": "/orders/o-1"},
            "body": json.dumps({"order": "o-1"}),
        }
    if shape == "bare":
        return {"order": "o-1", "note": "no statusCode, no body: just a JSON object"}
    if shape == "malformed":
        return {"statusCode": "two hundred", "body": "fine?"}
    if shape == "error":
        raise RuntimeError("the order service is down")
    return {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": "ok"}
