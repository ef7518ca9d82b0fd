"""Settings read from the environment, in one place.

Every knob the workshop has is an environment variable, so the same notebook runs unchanged
under JupyterLab, papermill (``-p BACKEND aws``), nbval and a terminal.
"""

from __future__ import annotations

import getpass
import os
import re
from dataclasses import dataclass

BACKENDS = ("local", "aws")
DEFAULT_REGION = "us-east-1"
DEFAULT_SERVE_PORT = 4750
"""Port of `workshop serve` unless --port says otherwise."""
WORKSHOP_TAG = "sqs-lambda-workshop"
"""Value of the ``workshop`` tag on everything the workshop creates."""


class ConfigError(ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


def default_participant() -> str:
    """The login name, made safe for AWS resource names (``Ana.Lopez`` becomes ``ana-lopez``)."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name in some containers
        user = "learner"
    return normalise_participant(user) or "learner"


def normalise_participant(name: str) -> str:
    """Lower-case letters, digits and single hyphens, at most 20 characters."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:20].strip("-")


@dataclass(frozen=True)
class Settings:
    backend: str
    participant: str
    region: str | None
    endpoint: str | None
    """URL of a running local cloud (``workshop serve``) to share instead of starting one."""
    aws_confirm: str | None
    """Account id the learner confirmed for the aws backend; nothing is created without it."""

    @property
    def prefix(self) -> str:
        """What every resource name of this participant starts with."""
        return f"ws-{self.participant}-"


def read_settings(backend: str | None = None, participant: str | None = None) -> Settings:
    """Settings from the environment, with explicit arguments taking precedence."""
    backend = (backend or os.environ.get("WORKSHOP_BACKEND") or "local").strip().lower()
    if backend not in BACKENDS:
        raise ConfigError(
            f"WORKSHOP_BACKEND is {backend!r}; it must be one of {', '.join(BACKENDS)}."
        )
    raw = participant or os.environ.get("WORKSHOP_PARTICIPANT") or default_participant()
    name = normalise_participant(raw)
    if not name:
        raise ConfigError(
            f"Participant name {raw!r} has no letters or digits; set WORKSHOP_PARTICIPANT "
            "to something like 'ana' or 'team-3'."
        )
    # AWS_REGION is what Lambda sets and most SDKs read; boto3 itself reads only
    # AWS_DEFAULT_REGION and ~/.aws/config, which it does on its own when this is None.
    region = os.environ.get("WORKSHOP_REGION") or os.environ.get("AWS_REGION")
    if backend == "local":
        region = region or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    return Settings(
        backend=backend,
        participant=name,
        region=region,
        endpoint=os.environ.get("WORKSHOP_ENDPOINT") or None,
        aws_confirm=os.environ.get("WORKSHOP_AWS_ACCOUNT") or None,
    )
