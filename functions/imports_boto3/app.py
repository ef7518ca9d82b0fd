"""Init imports boto3, as most real handlers do: compare its Init Duration with hello's."""

import boto3  # noqa: F401  (the import is the point: it happens during Init)


def handler(event, context):
    return {"imported": "boto3"}
