"""Route selection for HTTP APIs, as API Gateway does it.

API Gateway picks the stage first (a first path segment naming a stage, else ``$default``), then
the route with the best match: an exact method and path first, then a path with variables, then
a greedy ``{proxy+}``, then the ``$default`` route; among equals, a route for the method beats
``ANY``. (AWS: "Create routes for HTTP APIs", section "Routing API requests",
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

_VARIABLE = re.compile(r"^\{([^{}+]+)(\+?)\}$")


@dataclass(frozen=True)
class Route:
    """One route of an API, compiled for matching."""

    route_key: str
    method: str  # "ANY", "GET"... or "" for $default
    path: str  # "/pets/{id}", or "" for $default
    target: str | None  # "integrations/<id>"
    literals: tuple[str | None, ...]  # per segment: the literal, or None for a variable
    names: tuple[str, ...]  # the variable names, in order
    greedy: bool

    @property
    def integration_id(self) -> str | None:
        if self.target and self.target.startswith("integrations/"):
            return self.target.removeprefix("integrations/")
        return None

    def rank(self) -> tuple:
        """Smaller is more specific: literal segments before variables, a greedy variable
        last, more segments first, a named method before ANY."""
        return (
            self.greedy,
            tuple(literal is None for literal in self.literals),
            -len(self.literals),
            self.method == "ANY",
        )


def compile_route(route_key: str, target: str | None) -> Route | None:
    """Parse a route key (``"GET /pets/{id}"``, ``"ANY /{proxy+}"``, ``"$default"``)."""
    if route_key == "$default":
        return Route(route_key, "", "", target, (), (), False)
    method, _, path = route_key.partition(" ")
    if not path.startswith("/"):
        return None
    segments = [s for s in path.split("/")[1:]] if path != "/" else []
    literals: list[str | None] = []
    names: list[str] = []
    greedy = False
    for index, segment in enumerate(segments):
        variable = _VARIABLE.match(segment)
        if variable is None:
            literals.append(segment)
            continue
        if variable.group(2):
            if index != len(segments) - 1:
                return None  # a greedy variable must end the path
            greedy = True
        literals.append(None)
        names.append(variable.group(1))
    return Route(route_key, method.upper(), path, target, tuple(literals), tuple(names), greedy)


@dataclass
class RouteTable:
    """The routes of one API, most specific first."""

    routes: list[Route] = field(default_factory=list)
    default: Route | None = None

    @classmethod
    def build(cls, described: list[dict[str, Any]]) -> RouteTable:
        table = cls()
        for item in described:
            route = compile_route(str(item.get("routeKey", "")), item.get("target"))
            if route is None:
                continue
            if route.route_key == "$default":
                table.default = route
            else:
                table.routes.append(route)
        table.routes.sort(key=Route.rank)
        return table

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route for a request and its path parameters (URL-decoded), or None."""
        segments = path.split("/")[1:] if path not in ("", "/") else []
        for route in self.routes:
            if route.method not in ("ANY", method):
                continue
            parameters = _match_segments(route, segments)
            if parameters is not None:
                return route, parameters
        if self.default is not None:
            return self.default, {}
        return None


def _match_segments(route: Route, segments: list[str]) -> dict[str, str] | None:
    literals = route.literals
    if route.greedy:
        fixed = len(literals) - 1
        if len(segments) <= fixed or not any(segments[fixed:]):
            return None
    elif len(segments) != len(literals):
        return None
    values: list[str] = []
    for index, literal in enumerate(literals):
        if route.greedy and index == len(literals) - 1:
            values.append(unquote("/".join(segments[index:])))
            break
        segment = segments[index]
        if literal is None:
            if not segment:
                return None
            values.append(unquote(segment))
        elif literal != unquote(segment):
            return None
    return dict(zip(route.names, values, strict=True))


def split_stage(path: str, stage_names: set[str]) -> tuple[str, str] | None:
    """``(stage, path within the stage)`` for a request path, or None if no stage serves it.

    A first segment that names a stage selects it; otherwise the ``$default`` stage (if there is
    one) serves the whole path.
    """
    first = path.split("/", 2)[1] if path.startswith("/") else ""
    if first and first != "$default" and first in stage_names:
        rest = path[len(first) + 1 :]
        return first, rest or "/"
    if "$default" in stage_names:
        return "$default", path or "/"
    return None
