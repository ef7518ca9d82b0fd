"""A small Lambda runtime client, for platforms where awslambdaric has no wheels.

It speaks the same Runtime API as AWS's client: import the handler (reporting an init error if
that fails), then loop: ``GET /next``, call the handler with the event and a context, and post
the result to ``/response`` or the error, shaped as Lambda shapes it, to ``/error``.

    python path/to/runtime_client.py app.handler   (standard library only, so it starts fast)
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
import urllib.request

BASE = f"http://{os.environ.get('AWS_LAMBDA_RUNTIME_API', '')}/2018-06-01/runtime"


class Context:
    """The ``context`` argument, with the attributes and method handlers use most."""

    def __init__(self, request_id: str, deadline_ms: int, function_arn: str):
        self.aws_request_id = request_id
        self.invoked_function_arn = function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _post(path: str, body: object) -> None:
    data = json.dumps(body).encode()
    request = urllib.request.Request(f"{BASE}{path}", data=data, method="POST")
    request.add_header("Content-Type", "application/json")
    urllib.request.urlopen(request).close()


def _error(exc: BaseException, request_id: str) -> dict:
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:]),
    }


def _init_error(exc: Exception, handler_name: str) -> dict:
    kinds = {
        ImportError: "ImportModuleError",
        SyntaxError: "UserCodeSyntaxError",
        AttributeError: "HandlerNotFound",
    }
    kind = next((name for cls, name in kinds.items() if isinstance(exc, cls)), "Unknown")
    error = _error(exc, "")
    error["stackTrace"] = []  # as AWS's client: the trace would show only the importer
    error["errorType"] = f"Runtime.{kind}"
    error["errorMessage"] = f"Unable to import module '{handler_name.rpartition('.')[0]}': {exc}"
    return error


def _load(handler: str):
    module_name, _, function_name = handler.rpartition(".")
    return getattr(importlib.import_module(module_name), function_name)


def main(handler_name: str) -> None:
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", os.getcwd()))
    try:
        handler = _load(handler_name)
    except Exception as exc:  # an init error: report it and stop, as AWS's client does
        _post("/init/error", _init_error(exc, handler_name))
        sys.exit(1)
    while True:
        with urllib.request.urlopen(f"{BASE}/invocation/next") as response:
            request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
            deadline = int(response.headers.get("Lambda-Runtime-Deadline-Ms", "0"))
            arn = response.headers.get("Lambda-Runtime-Invoked-Function-Arn", "")
            event = json.loads(response.read() or b"null")
        try:
            result = handler(event, Context(request_id, deadline, arn))
        except Exception as exc:
            print(f"[ERROR] {type(exc).__name__}: {exc}", flush=True)
            _post(f"/invocation/{request_id}/error", _error(exc, request_id))
        else:
            _post(f"/invocation/{request_id}/response", result)


if __name__ == "__main__":
    main(sys.argv[1])
