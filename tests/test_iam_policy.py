"""The identity-policy evaluation behind the local cloud's role checks."""

from __future__ import annotations

import pytest

from workshop.local.iam_policy import allowed

QUEUE = "arn:aws:sqs:us-east-1:123456789012:photos"
OTHER = "arn:aws:sqs:us-east-1:123456789012:other"


def policy(*statements: dict) -> list[dict]:
    return [{"Version": "2012-10-17", "Statement": list(statements)}]


@pytest.mark.parametrize(
    ("documents", "action", "resource", "expected"),
    [
        (
            policy({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": QUEUE}),
            "sqs:SendMessage",
            QUEUE,
            True,
        ),
        (
            policy({"Effect": "Allow", "Action": "SQS:sendmessage", "Resource": QUEUE}),
            "sqs:SendMessage",
            QUEUE,
            True,
        ),  # actions are case-insensitive
        (
            policy({"Effect": "Allow", "Action": "sqs:*", "Resource": "arn:aws:sqs:*:*:pho?os"}),
            "sqs:ReceiveMessage",
            QUEUE,
            True,
        ),
        (
            policy({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": QUEUE}),
            "sqs:SendMessage",
            OTHER,
            False,
        ),
        (
            policy({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": QUEUE}),
            "sqs:DeleteMessage",
            QUEUE,
            False,
        ),
        (
            policy(
                {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "sqs:DeleteMessage", "Resource": QUEUE},
            ),
            "sqs:DeleteMessage",
            QUEUE,
            False,
        ),  # an explicit Deny wins
        # the PowerUserAccess pattern: everything but IAM
        (
            policy({"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"}),
            "sqs:ReceiveMessage",
            QUEUE,
            True,
        ),
        (
            policy({"Effect": "Allow", "NotAction": "sqs:*", "Resource": "*"}),
            "sqs:ReceiveMessage",
            QUEUE,
            False,
        ),
        (
            policy(
                {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"},
                {"Effect": "Deny", "NotAction": "sqs:ReceiveMessage", "Resource": "*"},
            ),
            "sqs:DeleteMessage",
            QUEUE,
            False,
        ),
        (
            policy({"Effect": "Allow", "Action": "sqs:*", "NotResource": OTHER}),
            "sqs:SendMessage",
            QUEUE,
            True,
        ),
        (
            policy({"Effect": "Allow", "Action": "sqs:*", "NotResource": QUEUE}),
            "sqs:SendMessage",
            QUEUE,
            False,
        ),
        ([], "sqs:SendMessage", QUEUE, False),
    ],
)
def test_allowed(documents, action, resource, expected):
    assert allowed(documents, action, resource) is expected
