"""Sends one SQS message per event: the visible effect of an asynchronous invocation.

The client is made once, during Init, and reused by every warm invocation. Locally it reaches
the same local cloud as the notebook through AWS_ENDPOINT_URL, which the local backend sets in
every execution environment; on AWS it reaches SQS with the function's role.
"""

import json

import boto3

SQS = boto3.client("sqs")


def handler(event, context):
    body = {
        "upload_id": event.get("upload_id"),
        "request_id": context.aws_request_id,
        "function": context.function_name,
    }
    SQS.send_message(QueueUrl=event["queue_url"], MessageBody=json.dumps(body))
    print(f"notified about {body['upload_id']}")
    return body
