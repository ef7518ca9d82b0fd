"""Exercises of notebook 00 (welcome and setup)."""

from __future__ import annotations

import math

from botocore.exceptions import ClientError

import workshop
from workshop.costs import Usage, monthly_cost
from workshop.exercises.core import CheckedExercise, Incorrect, is_number


def _judge_queue(queue_url: str) -> str:
    """The learner's queue: the participant's name for "greetings", 10 s visibility, tagged."""
    cloud = workshop.current()
    if not isinstance(queue_url, str) or "/" not in queue_url:
        raise Incorrect("Pass the queue URL, the string create_queue returns under 'QueueUrl'.")
    sqs = cloud.client("sqs")
    try:
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])
    except ClientError as error:
        code = error.response["Error"]["Code"]
        raise Incorrect(f"No such queue on this backend ({code}).") from None
    name = queue_url.rsplit("/", 1)[-1]
    if name != cloud.name("greetings"):
        raise Incorrect(
            f"The queue is called {name!r}; its name should be the participant "
            "prefix followed by 'greetings' (cloud.name can build it)."
        )
    timeout = attributes["Attributes"]["VisibilityTimeout"]
    if timeout != "10":
        raise Incorrect(
            f"Its visibility timeout is {timeout} s, not the one asked for. Change it with "
            "sqs.set_queue_attributes (creating it again with other attributes fails)."
        )
    tags = sqs.list_queue_tags(QueueUrl=queue_url).get("Tags", {})
    if tags.get("workshop-participant") != cloud.participant:
        raise Incorrect(
            "The queue has no participant tag, so clean-up would not find it. "
            "Create it with cloud.create_queue, or pass tags=cloud.tags."
        )
    return f"{name} exists, with a 10 s visibility timeout and your tags."


q1 = CheckedExercise(
    "Exercise 1 (your own queue)",
    _judge_queue,
    hint="`cloud.create_queue(base_name, VisibilityTimeout=...)` prefixes, tags and returns "
    "the URL.",
    solution="```python\nmy_queue_url = cloud.create_queue('greetings', VisibilityTimeout=10)\n```",
)

MONTHLY_SQS_COST = monthly_cost(Usage(sqs_requests=3_000_000))["sqs"]


def _judge_monthly_cost(answer: float) -> None:
    if not is_number(answer):
        raise Incorrect(f"Expected a number of US dollars, got {type(answer).__name__}.")
    if math.isclose(answer, MONTHLY_SQS_COST, rel_tol=0.01):
        return
    if math.isclose(answer, 3 * 0.40, rel_tol=0.01):
        raise Incorrect(
            "That is the price of every request: the first million each month are free."
        )
    if math.isclose(answer * 1e6, MONTHLY_SQS_COST, rel_tol=0.01) or math.isclose(
        answer / 1e6, MONTHLY_SQS_COST, rel_tol=0.01
    ):
        raise Incorrect("Check the units: the price is per million requests.")
    raise Incorrect(f"${answer} is {'too much' if answer > MONTHLY_SQS_COST else 'too little'}.")


q2 = CheckedExercise(
    "Exercise 2 (a month of SQS)",
    _judge_monthly_cost,
    hint="The first million standard requests each month are free; the rest cost $0.40 per "
    "million (us-east-1).",
    solution="```python\nmonthly_sqs_cost = (3_000_000 - 1_000_000) / 1_000_000 * 0.40  # $0.80\n"
    "```\nor `workshop.costs.monthly_cost(Usage(sqs_requests=3_000_000))['sqs']`.",
)
