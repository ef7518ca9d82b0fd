"""The identity-policy evaluation behind the local cloud's role checks."""

from __future__ import annotations

import pytest

from workshop.local.iam_policy import allowed

Q = "arn:aws:sqs:us-east-1:123456789012:photos"
OTHER = "arn:aws:sqs:us-east-1:123456789012:other"


def allow(**elements: object) -> dict:
    """``allow(Action="sqs:*", Resource="*")``; NotAction= and NotResource= too."""
    return {"Effect": "Allow", **elements}


def deny(**elements: object) -> dict:
    return {"Effect": "Deny", **elements}


CASES = [  # (statements, action asked, on resource, allowed?)
    ([allow(Action="sqs:SendMessage", Resource=Q)], "sqs:SendMessage", Q, True),
    ([allow(Action="SQS:sendmessage", Resource=Q)], "sqs:SendMessage", Q, True),  # any case
    ([allow(Action="sqs:*", Resource="arn:aws:sqs:*:*:pho?os")], "sqs:ReceiveMessage", Q, True),
    ([allow(Action="sqs:SendMessage", Resource=Q)], "sqs:SendMessage", OTHER, False),
    ([allow(Action="sqs:SendMessage", Resource=Q)], "sqs:DeleteMessage", Q, False),
    # an explicit Deny wins
    ([allow(Action="sqs:*", Resource="*"), deny(Action="sqs:Delete*", Resource=Q)],
     "sqs:DeleteMessage", Q, False),
    # the PowerUserAccess pattern: everything but IAM
    ([allow(NotAction=["iam:*", "organizations:*"], Resource="*")], "sqs:ReceiveMessage", Q, True),
    ([allow(NotAction="sqs:*", Resource="*")], "sqs:ReceiveMessage", Q, False),
    ([allow(Action="sqs:*", Resource="*"), deny(NotAction="sqs:ReceiveMessage", Resource="*")],
     "sqs:DeleteMessage", Q, False),
    ([allow(Action="sqs:*", NotResource=OTHER)], "sqs:SendMessage", Q, True),
    ([allow(Action="sqs:*", NotResource=Q)], "sqs:SendMessage", Q, False),
    ([], "sqs:SendMessage", Q, False),
]  # fmt: skip


@pytest.mark.parametrize(("statements", "action", "resource", "expected"), CASES)
def test_allowed(statements, action, resource, expected):
    documents = [{"Version": "2012-10-17", "Statement": statements}] if statements else []
    assert allowed(documents, action, resource) is expected
