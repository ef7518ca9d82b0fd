"""A test function behind an HTTP API: it echoes the event, or answers as the query asks."""

import base64
import json
import time


def handler(event, context):
    query = event.get("queryStringParameters") or {}
    mode = query.get("mode", "echo")
    if mode == "fail":
        raise ValueError("failed on purpose")
    if mode == "sleep":
        time.sleep(float(query.get("seconds", "1")))
    if mode == "return":  # answer exactly the JSON the request body holds
        body = event.get("body") or "null"
        if event.get("isBase64Encoded"):
            body = base64.b64decode(body).decode()
        return json.loads(body)
    if mode == "binary":
        return {
            "statusCode": 200,
            "headers": {"content-type": "application/octet-stream"},
            "isBase64Encoded": True,
            "body": base64.b64encode(bytes(range(256))).decode(),
        }
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json", "x-handled-by": context.function_name},
        "body": json.dumps({"event": event, "request_id": context.aws_request_id}),
    }
