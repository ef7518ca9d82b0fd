"""What a workload would cost on AWS, from the published us-east-1 prices.

The prices are the ones in ``shared/aws-facts.md`` (SQS, Lambda and API Gateway pricing pages);
check the live pages before quoting a total. Free-tier allowances are monthly.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

SQS_STANDARD_PER_MILLION = 0.40
SQS_FIFO_PER_MILLION = 0.50
SQS_FREE_REQUESTS = 1_000_000
LAMBDA_PER_MILLION = 0.20
LAMBDA_PER_GB_SECOND = {"x86_64": 0.0000166667, "arm64": 0.0000133334}
LAMBDA_FREE_REQUESTS = 1_000_000
LAMBDA_FREE_GB_SECONDS = 400_000
HTTP_API_PER_MILLION = 1.00  # first 300 million a month


@dataclass(frozen=True)
class Usage:
    """One month of use."""

    sqs_requests: int = 0
    sqs_fifo: bool = False
    lambda_requests: int = 0
    lambda_gb_seconds: float = 0.0
    lambda_architecture: str = "x86_64"
    http_api_requests: int = 0


def monthly_cost(usage: Usage, *, free_tier: bool = True) -> dict[str, float]:
    """Cost in USD per service and in total. ``free_tier`` subtracts the always-free allowances.

    >>> monthly_cost(Usage(sqs_requests=3_000_000))["sqs"]
    0.8
    """

    def billable(used: float, free: float) -> float:
        return max(0.0, used - free) if free_tier else used

    sqs_price = SQS_FIFO_PER_MILLION if usage.sqs_fifo else SQS_STANDARD_PER_MILLION
    costs = {
        "sqs": billable(usage.sqs_requests, SQS_FREE_REQUESTS) / 1e6 * sqs_price,
        "lambda": billable(usage.lambda_requests, LAMBDA_FREE_REQUESTS) / 1e6 * LAMBDA_PER_MILLION
        + billable(usage.lambda_gb_seconds, LAMBDA_FREE_GB_SECONDS)
        * LAMBDA_PER_GB_SECOND[usage.lambda_architecture],
        "http_api": usage.http_api_requests / 1e6 * HTTP_API_PER_MILLION,
    }
    costs = {service: round(cost, 6) for service, cost in costs.items()}
    costs["total"] = round(sum(costs.values()), 6)
    return costs


PER_MILLION_REQUESTS = {
    "sqs": SQS_STANDARD_PER_MILLION,
    "lambda": LAMBDA_PER_MILLION,
    "apigatewayv2": HTTP_API_PER_MILLION,
}
"""Request prices of the services billed per request; other calls (IAM, STS, Logs) are free."""


def cost_of_requests(counts: pd.DataFrame) -> pd.DataFrame:
    """Price a run's requests (``cloud.request_counts()``) at AWS's list prices, before any
    free tier. Lambda's compute (GB-seconds) and control-plane calls are not in it."""
    per_service = counts.groupby("service", as_index=False)["requests"].sum()
    per_service["USD per million"] = per_service["service"].map(PER_MILLION_REQUESTS)
    per_service["USD"] = per_service["requests"] / 1e6 * per_service["USD per million"]
    return per_service
