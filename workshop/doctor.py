"""``workshop doctor``: check the environment and say plainly what is wrong and how to fix it."""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass

from packaging.requirements import Requirement

DISTRIBUTION = "sqs-lambda-workshop"


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str
    fix: str = ""

    def __str__(self) -> str:
        line = f"[{'ok' if self.ok else 'FAIL'}] {self.what}"
        return line if self.ok else f"{line}\n       fix: {self.fix}"


def check_python() -> list[Finding]:
    version = platform.python_version()
    if sys.version_info >= (3, 11):  # noqa: UP036 (doctor must run on an older Python too)
        return [Finding(True, f"Python {version}")]
    return [Finding(False, f"Python {version} is too old", "install Python 3.11 or newer")]


def check_packages() -> list[Finding]:
    """Every dependency the project declares for this platform is installed, in range."""
    try:
        declared = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        return [
            Finding(
                False,
                "the workshop package is not installed",
                "run `pip install -e .` in the repository (or `python3 bootstrap.py lab`)",
            )
        ]
    findings, checked = [], 0
    for line in declared:
        requirement = Requirement(line)
        if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
            continue  # an extra (tests) or another platform's dependency
        checked += 1
        try:
            installed = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            findings.append(
                Finding(False, f"{requirement.name} is missing", f"pip install '{requirement}'")
            )
            continue
        if requirement.specifier and not requirement.specifier.contains(installed, True):
            findings.append(
                Finding(
                    False,
                    f"{requirement.name} {installed} is outside {requirement.specifier}",
                    f"pip install '{requirement}'",
                )
            )
    if not findings:
        findings.append(Finding(True, f"all {checked} required packages installed"))
    return findings


def check_backend(backend: str | None) -> list[Finding]:
    """Connect as a notebook would; for aws, read-only calls only."""
    from workshop.backends import AwsBackend, AwsOptInRequired, aws_identity
    from workshop.config import ConfigError, read_settings

    try:
        settings = read_settings(backend)
    except ConfigError as error:
        return [Finding(False, "settings", str(error))]
    if settings.backend == "local":
        return _check_local(settings)
    import boto3

    session = boto3.Session(region_name=settings.region)
    if not session.region_name:
        return [Finding(False, "aws region is not set", "export AWS_REGION=us-east-1")]
    findings = [Finding(True, f"aws region {session.region_name}")]
    try:
        account, arn = aws_identity(session)
    except ConfigError as error:
        return [*findings, Finding(False, "aws credentials", str(error))]
    findings.append(Finding(True, f"aws credentials: {arn} (account {account})"))
    try:
        AwsBackend(settings)
    except AwsOptInRequired:
        findings.append(
            Finding(
                False,
                f"account {account} is not confirmed for the workshop",
                f"export WORKSHOP_AWS_ACCOUNT={account}  (resources in it may cost money)",
            )
        )
    else:
        findings.append(Finding(True, f"account {account} confirmed (WORKSHOP_AWS_ACCOUNT)"))
    return findings


def _check_local(settings) -> list[Finding]:
    from workshop.backends import LocalBackend
    from workshop.config import ConfigError

    try:
        cloud = LocalBackend(settings)
        cloud.client("sqs").list_queues()
    except ConfigError as error:
        return [Finding(False, "local backend", str(error))]
    except Exception as error:  # anything else is a bug worth reporting as is
        return [
            Finding(
                False,
                f"local backend failed: {error!r}",
                "run `workshop doctor` again; if it persists, report it with this output",
            )
        ]
    from workshop.local.environment import runtime_client_name

    return [
        Finding(True, f"local cloud answers: {cloud.describe()}"),
        Finding(True, f"Lambda functions run under {runtime_client_name()}"),
    ]


def run_checks(backend: str | None = None, out: Callable[[str], None] = print) -> bool:
    """Run every check, print the findings, return True if all passed."""
    findings = [*check_python(), *check_packages(), *check_backend(backend)]
    for finding in findings:
        out(str(finding))
    failed = sum(not f.ok for f in findings)
    out("All good." if not failed else f"{failed} problem(s) found.")
    return not failed
