"""A small Lambda runtime client, for platforms where awslambdaric has no wheels.

It speaks the same Runtime API as AWS's client: import the handler (reporting an init error if
that fails), then loop: ``GET /next``, call the handler with the event and a context, and post
the result to ``/response`` or the error, shaped as Lambda shapes it, to ``/error``.

    python path/to/runtime_client.py app.handler   (standard library only, so it starts fast)

With ``--template FD`` it runs Init once and then waits: each line on its standard input asks
for a new execution environment, which it forks from its initialised self (the snapshot-start
idea, see :mod:`workshop.local.snapshot`) and answers with the child's pid on file FD.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
import urllib.request


def _base() -> str:
    """Read at each call: a forked environment gets its own Runtime API after the fork."""
    return f"http://{os.environ.get('AWS_LAMBDA_RUNTIME_API', '')}/2018-06-01/runtime"


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
    request = urllib.request.Request(f"{_base()}{path}", data=data, method="POST")
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


def _serve(handler) -> None:
    """The invocation loop: next event, handler, response or error; forever."""
    while True:
        with urllib.request.urlopen(f"{_base()}/invocation/next") as response:
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


def main(handler_name: str) -> None:
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", os.getcwd()))
    try:
        handler = _load(handler_name)
    except Exception as exc:  # an init error: report it and stop, as AWS's client does
        _post("/init/error", _init_error(exc, handler_name))
        sys.exit(1)
    _serve(handler)


def template(handler_name: str, answer_fd: int) -> None:
    """Init once, then fork a ready environment for every request on standard input."""
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", os.getcwd()))
    handler = _load(handler_name)  # an init error ends the template; its output says why
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the environments
    answers = os.fdopen(answer_fd, "w")
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the restored environment
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.setsid()
            os.environ.update(request["env"])
            output = os.open(request["output"], os.O_WRONLY)
            os.dup2(output, 1)
            os.dup2(output, 2)
            os.close(output)
            os.close(0)
            answers.close()
            try:
                _serve(handler)
            finally:
                os._exit(1)
        answers.write(f"{pid}\n")
        answers.flush()


if __name__ == "__main__":
    if sys.argv[1] == "--template":
        template(sys.argv[3], int(sys.argv[2]))
    else:
        main(sys.argv[1])
