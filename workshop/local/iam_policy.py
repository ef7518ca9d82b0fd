"""Identity policies, evaluated as IAM does for the checks the local cloud makes when a service
acts with a role: API Gateway sending to SQS or invoking Lambda, Lambda polling a queue.

An explicit Deny wins, else an Allow whose Action and Resource match (wildcards ``*`` and ``?``;
actions case-insensitive; ``NotAction`` and ``NotResource`` match what they do not list).
Conditions, permission boundaries and resource policies are not evaluated.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any


def allowed(documents: list[dict[str, Any]], action: str, resource: str) -> bool:
    """Whether identity policies allow ``action`` on ``resource``: an Allow that matches and no
    Deny that does (IAM's evaluation, without conditions)."""
    verdict = False
    for document in documents:
        statements = document.get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        for statement in statements:
            if not isinstance(statement, dict):
                continue
            if not (
                _covers(statement, "Action", action, case=False)
                and _covers(statement, "Resource", resource, case=True)
            ):
                continue
            if statement.get("Effect") == "Deny":
                return False
            if statement.get("Effect") == "Allow":
                verdict = True
    return verdict


def _covers(statement: dict[str, Any], element: str, value: str, *, case: bool) -> bool:
    """Whether a statement's ``Action`` (or ``Resource``) matches ``value``; with
    ``NotAction`` (``NotResource``) instead, whether it does not."""
    if element in statement:
        return _any_match(statement[element], value, case=case)
    if f"Not{element}" in statement:
        return not _any_match(statement[f"Not{element}"], value, case=case)
    return False


def _any_match(patterns: Any, value: str, *, case: bool) -> bool:
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, list):
        return False
    match: Callable[[str, str], bool] = fnmatch.fnmatchcase
    if not case:
        value = value.lower()
        return any(match(value, str(p).lower()) for p in patterns)
    return any(match(value, str(p)) for p in patterns)
