"""The map of the workshop: one list that notebook 00, the README and the tests share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"


@dataclass(frozen=True)
class Notebook:
    number: int
    slug: str
    title: str
    about: str

    @property
    def filename(self) -> str:
        return f"{self.number:02d}_{self.slug}.ipynb"

    @property
    def available(self) -> bool:
        return (NOTEBOOK_DIR / self.filename).exists()


NOTEBOOKS = [
    Notebook(
        0,
        "welcome",
        "Welcome and setup",
        "the map, your environment, the two backends, a first boto3 call, costs",
    ),
    Notebook(
        1,
        "sqs_fundamentals",
        "SQS fundamentals",
        "why a queue; send, receive, delete; attributes and batches; short and long polling",
    ),
    Notebook(
        2,
        "visibility_timeout",
        "Visibility timeout and redelivery",
        "crashed workers, redelivery measured, heartbeats with ChangeMessageVisibility",
    ),
    Notebook(
        3,
        "standard_and_fifo",
        "Standard and FIFO queues",
        "at-least-once and best-effort order against FIFO order and deduplication",
    ),
    Notebook(
        4,
        "dead_letter_queues",
        "Dead-letter queues",
        "maxReceiveCount, poison messages, redrive back with a message move task",
    ),
    Notebook(
        5,
        "lambda_functions",
        "Lambda functions",
        "handlers, invocations, errors and logs, run by the real runtime interface client",
    ),
    Notebook(
        6,
        "cold_starts",
        "Cold starts and microVMs",
        "execution environments, cold and warm starts measured, keep-alive",
    ),
    Notebook(
        7,
        "api_gateway_lambda",
        "API Gateway to Lambda",
        "an HTTP API with a Lambda proxy integration; payload formats 1.0 and 2.0",
    ),
    Notebook(
        8,
        "http_api_sqs_lambda",
        "HTTP API to SQS to Lambda",
        "a queue between the API and the function; batches, partial failures, DLQ",
    ),
    Notebook(
        9,
        "capstone_photo_pipeline",
        "Capstone: the photo pipeline",
        "the whole photo-processing service, built and load-tested",
    ),
    Notebook(
        10,
        "costs_and_cleanup",
        "Costs and clean-up",
        "what the workshop would cost on AWS, and leaving nothing behind",
    ),
]


def contents() -> pd.DataFrame:
    """The map as a table, with which notebooks are in this copy of the workshop."""
    return pd.DataFrame(
        [
            {
                "notebook": n.filename,
                "title": n.title,
                "what you do": n.about,
                "in this copy": "yes" if n.available else "not yet",
            }
            for n in NOTEBOOKS
        ]
    ).set_index("notebook")


def contents_markdown() -> str:
    """The map as a Markdown table, linking the notebooks this copy has."""
    lines = ["| # | notebook | what you do |", "|---|---|---|"]
    for n in NOTEBOOKS:
        title = f"[{n.title}]({n.filename})" if n.available else f"{n.title} *(coming)*"
        lines.append(f"| {n.number:02d} | {title} | {n.about} |")
    return "\n".join(lines)
