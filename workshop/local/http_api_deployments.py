"""Deployments of HTTP APIs, which moto does not keep: what each stage serves.

AWS: "A deployment is a snapshot of your API configuration. [...] You must deploy an API for
changes to take effect. If you enable automatic deployments, changes to an API are
automatically released" ("Stages for HTTP APIs in API Gateway",
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-stages.html).

So a stage with ``AutoDeploy`` serves the API as it is now; any other stage serves the routes
and integrations of the deployment it points to (``create_deployment(StageName=...)``, or
``DeploymentId`` in ``create_stage`` / ``update_stage``), and nothing (404) before its first
deployment. This module keeps the snapshots and the stage-to-deployment links.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Deployment:
    """One snapshot of an API's routes and integrations (as moto describes them)."""

    deployment_id: str
    created: str
    description: str | None
    routes: list[dict[str, Any]] = field(repr=False)
    integrations: list[dict[str, Any]] = field(repr=False)
    auto_deployed: bool = False

    def to_json(self) -> dict[str, Any]:
        """The Deployment resource as the API Gateway v2 API returns it."""
        shaped = {
            "autoDeployed": self.auto_deployed,
            "createdDate": self.created,
            "deploymentId": self.deployment_id,
            "deploymentStatus": "DEPLOYED",
        }
        if self.description:
            shaped["description"] = self.description
        return shaped


class Deployments:
    """The deployments of every HTTP API and the deployment each stage points to."""

    def __init__(self) -> None:
        self._by_api: dict[str, dict[str, Deployment]] = {}
        self._stages: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def create(
        self,
        api_id: str,
        described: dict[str, Any],
        description: str | None = None,
        *,
        auto_deployed: bool = False,
    ) -> Deployment:
        """Snapshot ``described`` (:meth:`MotoApis.describe`) as a new deployment."""
        deployment = Deployment(
            deployment_id=uuid.uuid4().hex[:6],
            created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            description=description,
            routes=list(described["routes"]),
            integrations=list(described["integrations"]),
            auto_deployed=auto_deployed,
        )
        with self._lock:
            self._by_api.setdefault(api_id, {})[deployment.deployment_id] = deployment
        return deployment

    def get(self, api_id: str, deployment_id: str) -> Deployment | None:
        with self._lock:
            return self._by_api.get(api_id, {}).get(deployment_id)

    def all(self, api_id: str) -> list[Deployment]:
        with self._lock:
            return list(self._by_api.get(api_id, {}).values())

    def describe(self, api_id: str, deployment_id: str, description: str) -> Deployment | None:
        """UpdateDeployment: only the description can change."""
        with self._lock:
            deployments = self._by_api.get(api_id, {})
            if deployment_id not in deployments:
                return None
            deployments[deployment_id] = replace(
                deployments[deployment_id], description=description
            )
            return deployments[deployment_id]

    def delete(self, api_id: str, deployment_id: str) -> bool:
        with self._lock:
            return self._by_api.get(api_id, {}).pop(deployment_id, None) is not None

    def point(self, api_id: str, stage: str, deployment_id: str | None) -> None:
        """Make ``stage`` serve ``deployment_id`` (None: nothing)."""
        with self._lock:
            if deployment_id is None:
                self._stages.pop((api_id, stage), None)
            else:
                self._stages[(api_id, stage)] = deployment_id

    def of_stage(self, api_id: str, stage: str) -> Deployment | None:
        """The deployment a stage serves, if it points to one that still exists."""
        with self._lock:
            deployment_id = self._stages.get((api_id, stage))
            return self._by_api.get(api_id, {}).get(deployment_id or "")

    def deployment_id_of(self, api_id: str, stage: str) -> str | None:
        with self._lock:
            return self._stages.get((api_id, stage))

    def forget(self, api_id: str) -> None:
        """The API was deleted: its deployments go with it."""
        with self._lock:
            self._by_api.pop(api_id, None)
            for key in [k for k in self._stages if k[0] == api_id]:
                del self._stages[key]
