"""Answer with the event API Gateway sent, to see what a Lambda proxy integration passes on."""

import json


def handler(event, context):
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"event": event, "request_id": context.aws_request_id}),
    }
