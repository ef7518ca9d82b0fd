"""The two backends, local and aws: the one place where they differ.

Notebooks call :func:`workshop.connect` once and then plain boto3 on the clients it hands out,
so the same cells run against the local cloud and against a real account.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from functools import cached_property
from typing import TYPE_CHECKING, Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError

from workshop.config import WORKSHOP_TAG, ConfigError, Settings
from workshop.local.server import answers, shared_server

if TYPE_CHECKING:
    import pandas as pd

LOCAL_ACCOUNT_ID = "123456789012"  # moto's account


class AwsOptInRequired(RuntimeError):
    """The aws backend was chosen but the learner has not confirmed the account to use."""


class Backend:
    """A participant's view of one cloud: clients, resource names, tags and clean-up."""

    kind: str

    def __init__(self, settings: Settings, session: boto3.Session, endpoint_url: str | None):
        self.settings = settings
        self.session = session
        self.endpoint_url = endpoint_url
        self._clients: dict[str, BaseClient] = {}
        self._requests: Counter[tuple[str, str]] = Counter()
        self._requests_lock = threading.Lock()

    # --- clients ------------------------------------------------------------------------

    def client(self, service: str, *, retries: bool = True) -> BaseClient:
        """A boto3 client for ``service`` on this backend (one per service, reused).

        ``retries=False`` gives a client that makes every call once: to see a throttle (429)
        instead of boto3 quietly trying again.
        """
        key = service if retries else f"{service} (no retries)"
        if key not in self._clients:
            config = self._client_config()
            if not retries:
                config = config.merge(Config(retries={"total_max_attempts": 1}))
            client = self.session.client(service, endpoint_url=self.endpoint_url, config=config)
            client.meta.events.register("before-call", self._count_request)
            self._clients[key] = client
        return self._clients[key]

    def _count_request(self, model, **_: Any) -> None:
        with self._requests_lock:
            self._requests[(model.service_model.service_name, model.name)] += 1

    def request_counts(self) -> pd.DataFrame:
        """API requests made through this backend's clients, by service and operation.

        AWS bills SQS, Lambda and API Gateway per request, so this is what a run would cost.
        """
        import pandas as pd  # not at module level: `import workshop` stays fast

        with self._requests_lock:
            rows = [
                {"service": service, "operation": operation, "requests": count}
                for (service, operation), count in sorted(self._requests.items())
            ]
        return pd.DataFrame(rows, columns=["service", "operation", "requests"])

    def _client_config(self) -> Config:
        return Config(retries={"mode": "standard", "max_attempts": 3})

    @property
    def region(self) -> str:
        return self.session.region_name

    @cached_property
    def account_id(self) -> str:
        return self.client("sts").get_caller_identity()["Account"]

    # --- naming and tagging -------------------------------------------------------------

    @property
    def participant(self) -> str:
        return self.settings.participant

    @property
    def prefix(self) -> str:
        return self.settings.prefix

    def name(self, base: str) -> str:
        """The participant's name for a resource: ``name("photos")`` is ``ws-ana-photos``."""
        if not base:
            raise ValueError("A resource needs a name, for example name('photos').")
        if base.startswith(self.prefix):
            return base
        return f"{self.prefix}{base}"

    @property
    def tags(self) -> dict[str, str]:
        """Tags for everything this participant creates; clean-up relies on them."""
        return {"workshop": WORKSHOP_TAG, "workshop-participant": self.participant}

    def tag_list(self) -> list[dict[str, str]]:
        """The same tags in the ``[{"Key": ..., "Value": ...}]`` form some services want."""
        return [{"Key": key, "Value": value} for key, value in self.tags.items()]

    def owns(self, name: str, tags: dict[str, str]) -> bool:
        """True for a resource of this participant: the prefix *and* the participant tag."""
        return name.startswith(self.prefix) and tags.get("workshop-participant") == self.participant

    # --- conveniences -------------------------------------------------------------------

    def create_queue(self, base: str, *, fifo: bool = False, **attributes: Any) -> str:
        """Create a queue with the participant's prefix and tags and return its URL.

        ``cloud.create_queue("photos", VisibilityTimeout=5)`` is SQS's ``create_queue`` with
        the participant's name and tags; attribute values may be numbers. As on AWS, asking
        again with the same attributes returns the existing queue, and with different ones
        fails with ``QueueAlreadyExists`` (change a queue with ``set_queue_attributes``).

        Two AWS rules it deals with, so that re-running a notebook just works: a deleted
        queue's name is free again only after 60 s (it waits, saying so, at most 65 s), and a
        new queue may take a moment to be usable (it waits until it answers, at most 10 s).
        """
        name = self.name(base)
        attrs = {
            key: str(value).lower() if isinstance(value, bool) else str(value)
            for key, value in attributes.items()
        }
        if fifo:
            name = name if name.endswith(".fifo") else f"{name}.fifo"
            attrs["FifoQueue"] = "true"
        sqs = self.client("sqs")
        deadline = time.monotonic() + 65
        while True:
            try:
                url = sqs.create_queue(QueueName=name, Attributes=attrs, tags=self.tags)["QueueUrl"]
                break
            except ClientError as error:
                recently = error.response["Error"]["Code"].endswith("QueueDeletedRecently")
                if not recently or time.monotonic() > deadline:
                    raise
                if deadline - time.monotonic() > 64:  # say it once
                    print(
                        f"{name} was deleted less than 60 s ago; AWS lets its name be used "
                        "again only after 60 s, so waiting ...",
                        flush=True,
                    )
                time.sleep(1)
        self._wait_until_usable(url)
        return url

    def _wait_until_usable(self, queue_url: str) -> None:
        """Wait for a new queue to answer (eventual consistency on AWS; at once locally)."""
        sqs, deadline = self.client("sqs"), time.monotonic() + 10
        while True:
            try:
                sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
                return
            except ClientError as error:
                if "NonExistentQueue" not in error.response["Error"]["Code"]:
                    raise
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def set_sqs_realism(
        self,
        queue_url: str,
        *,
        duplicate: float = 0.0,
        reorder: float = 0.0,
        seed: int | None = None,
    ) -> None:
        """Make a standard queue duplicate and reorder messages as AWS may (local backend).

        Each received message is delivered a second time with probability ``duplicate``; each
        sent message overtakes the one sent before it with probability ``reorder``. Zero for
        both turns it off. FIFO queues are never affected. On AWS this happens on its own, at
        rates nobody sets, so the aws backend only says so.
        """
        self._realism(
            {
                "QueueUrl": queue_url,
                "Duplicate": duplicate,
                "Reorder": reorder,
                "Seed": seed,
                "Region": self.region,
            }
        )

    def _realism(self, request: dict[str, Any]) -> None:
        if request["Duplicate"] or request["Reorder"]:
            print("On AWS, standard queues duplicate and reorder on their own; nothing to set.")

    def cleanup(self, *, quiet: bool = False) -> list[str]:
        """Delete everything this participant created on this backend; safe to run twice."""
        from workshop.cleanup import cleanup

        return cleanup(self, quiet=quiet)

    def describe(self) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


class LocalBackend(Backend):
    """moto plus the workshop's data plane on 127.0.0.1, with throw-away credentials."""

    kind = "local"

    def __init__(self, settings: Settings):
        if settings.endpoint:
            endpoint = settings.endpoint.rstrip("/")
            _require_reachable(endpoint)
        else:
            endpoint = shared_server(settings.region or "us-east-1").endpoint_url
        # Credentials that exist only in this process: the local cloud accepts any.
        session = boto3.Session(
            aws_access_key_id="workshop-local",
            aws_secret_access_key=secrets.token_hex(16),
            region_name=settings.region,
        )
        super().__init__(settings, session, endpoint)

    def _wait_until_usable(self, queue_url: str) -> None:
        """A local queue is usable the moment it is created."""

    def _client_config(self) -> Config:
        # Loopback is fast and never flaky: fail quickly instead of retrying for seconds.
        return Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5)

    @property
    def account_id(self) -> str:
        return LOCAL_ACCOUNT_ID

    def _realism(self, request: dict[str, Any]) -> None:
        call = urllib.request.Request(
            f"{self.endpoint_url}/_workshop/sqs/realism",
            data=json.dumps(request).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            urllib.request.urlopen(call, timeout=10).close()
        except urllib.error.HTTPError as error:
            raise ValueError(json.loads(error.read() or b"{}").get("message", str(error))) from None

    def describe(self) -> str:
        return (
            f"backend local ({self.endpoint_url}), region {self.region}, "
            f"participant {self.participant}"
        )


class AwsBackend(Backend):
    """A real AWS account, through the standard credential chain.

    Creating it shows the account and region and refuses to go on unless the learner has
    confirmed that account in ``WORKSHOP_AWS_ACCOUNT``: no client, so nothing created.
    """

    kind = "aws"

    def __init__(self, settings: Settings):
        session = boto3.Session(region_name=settings.region)
        if not session.region_name:
            raise ConfigError(
                "No AWS region is set. Set AWS_REGION (for example `export AWS_REGION=us-east-1`)"
                " or WORKSHOP_REGION, then restart the kernel."
            )
        account, arn = aws_identity(session)
        if settings.aws_confirm != account:
            raise AwsOptInRequired(
                f"The aws backend would create resources in account {account} "
                f"({arn}), region {session.region_name}, and they may cost money.\n"
                f"To confirm, set WORKSHOP_AWS_ACCOUNT={account} and restart the kernel. "
                "Nothing has been created."
            )
        super().__init__(settings, session, None)
        self.__dict__["account_id"] = account

    def describe(self) -> str:
        return (
            f"backend aws (account {self.account_id}), region {self.region}, "
            f"participant {self.participant}"
        )


def aws_identity(session: boto3.Session) -> tuple[str, str]:
    """Account id and caller ARN of the credentials boto3 finds; a read-only call."""
    from botocore.exceptions import BotoCoreError, ClientError

    # Bounded: without a network the default settings would retry for minutes.
    sts = session.client(
        "sts",
        config=Config(
            connect_timeout=5, read_timeout=10, retries={"mode": "standard", "max_attempts": 2}
        ),
    )
    try:
        identity = sts.get_caller_identity()
    except (BotoCoreError, ClientError) as error:
        raise ConfigError(
            f"No usable AWS credentials ({error}). Configure them with `aws configure` or "
            "`aws sso login`, or use the local backend (WORKSHOP_BACKEND=local)."
        ) from error
    return identity["Account"], identity["Arn"]


def _require_reachable(endpoint: str) -> None:
    if not answers(endpoint, timeout=3):
        raise ConfigError(
            f"WORKSHOP_ENDPOINT is {endpoint}, but no local cloud answers there. Start one "
            "with `workshop serve` in a terminal, or unset WORKSHOP_ENDPOINT to use a private "
            "local cloud."
        )


def make_backend(settings: Settings) -> Backend:
    return LocalBackend(settings) if settings.backend == "local" else AwsBackend(settings)
