"""The ``workshop`` command: lab, serve, doctor, cleanup (also ``python -m workshop``)."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from workshop.backends import AwsOptInRequired
from workshop.config import DEFAULT_REGION, DEFAULT_SERVE_PORT, ConfigError


def notebooks_dir() -> Path:
    """The repository's notebooks/ (editable install), else ./notebooks."""
    beside_package = Path(__file__).resolve().parent.parent / "notebooks"
    return beside_package if beside_package.is_dir() else Path.cwd() / "notebooks"


def cmd_lab(args: argparse.Namespace) -> int:
    """JupyterLab on the notebooks, local backend; ``--shared`` gives all kernels one cloud."""
    env = {**os.environ, "WORKSHOP_BACKEND": "local"}
    server = None
    if args.shared:
        from workshop.local.server import LocalServer

        server = LocalServer(region=os.environ.get("WORKSHOP_REGION", DEFAULT_REGION)).start()
        env["WORKSHOP_ENDPOINT"] = server.endpoint_url
        print(f"endpoint: {server.endpoint_url} (shared by every notebook)", flush=True)
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        f"--notebook-dir={notebooks_dir()}",
        # The workshop runs offline: no news feed, no update checks, no prompt about them.
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Containers and cloud desktops often run as root; Jupyter refuses without this.
        command.append("--allow-root")
    jupyter = subprocess.Popen([*command, *args.jupyter_args], env=env)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return jupyter.wait()
    except KeyboardInterrupt:
        return _stop_child(jupyter)
    finally:
        if server is not None:
            server.stop()


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _stop_child(child: subprocess.Popen) -> int:
    """Stop Jupyter and its kernels (and so their local clouds) before we exit ourselves.

    A terminal's Ctrl-C reaches Jupyter too; one more SIGINT makes it shut down without asking.
    """
    child.send_signal(signal.SIGINT)
    try:
        child.wait(timeout=20)
    except subprocess.TimeoutExpired:
        child.terminate()
        child.wait(timeout=10)
    return 130


def cmd_serve(args: argparse.Namespace) -> int:
    """The whole local cloud in the foreground until Ctrl-C (or SIGTERM)."""
    from workshop.local.server import LocalServer

    region = os.environ.get("WORKSHOP_REGION", DEFAULT_REGION)
    # Handlers first: a Ctrl-C that arrives right after the endpoint line must still stop cleanly.
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        server = LocalServer(port=args.port, region=region).start()
    except OSError as error:
        print(f"error: cannot listen on 127.0.0.1:{args.port}: {error.strerror}", file=sys.stderr)
        return 1
    print(f"endpoint: {server.endpoint_url}", flush=True)
    print(
        f"Local cloud running (region {region}); any credentials work. Use it with\n"
        f"  export WORKSHOP_ENDPOINT={server.endpoint_url}   # notebooks share this cloud\n"
        f"  aws --endpoint-url {server.endpoint_url} sqs list-queues\n"
        "Press Ctrl-C to stop.",
        flush=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        print("stopped", flush=True)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from workshop.doctor import run_checks

    return 0 if run_checks(backend=args.backend) else 1


def cmd_cleanup(args: argparse.Namespace) -> int:
    """Clean a real account, or the shared local cloud of `workshop serve`.

    A notebook's own local cloud lives and dies with its kernel, taking its resources with it,
    so on the local backend only a shared cloud can hold anything to clean.
    """
    import workshop
    from workshop.config import read_settings
    from workshop.local.server import answers

    settings = read_settings(args.backend, args.participant)
    if settings.backend == "local" and not settings.endpoint:
        default = f"http://127.0.0.1:{DEFAULT_SERVE_PORT}"
        if not answers(default):
            print(
                "No shared local cloud is running (start one with `workshop serve`, or set "
                "WORKSHOP_ENDPOINT). A notebook's own local cloud ends with its kernel, and "
                "everything in it with it: nothing to clean."
            )
            return 0
        os.environ["WORKSHOP_ENDPOINT"] = default
    cloud = workshop.connect(args.backend, args.participant)
    cloud.cleanup()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workshop",
        description="Hands-on SQS, Lambda and API Gateway workshop: local cloud and tools.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    lab = commands.add_parser(
        "lab",
        help="open JupyterLab on the notebooks (local backend)",
        epilog="Other options (--no-browser, --port=N) are passed on to jupyter lab.",
    )
    lab.add_argument(
        "--shared",
        action="store_true",
        help="one local cloud shared by all notebooks (default: one per kernel)",
    )
    lab.set_defaults(run=cmd_lab)

    serve = commands.add_parser("serve", help="run the local cloud in the foreground")
    serve.add_argument(
        "--port",
        type=int,
        default=DEFAULT_SERVE_PORT,
        help=f"port on 127.0.0.1 (default {DEFAULT_SERVE_PORT}; 0 picks a free one)",
    )
    serve.set_defaults(run=cmd_serve)

    doctor = commands.add_parser("doctor", help="check Python, packages and the backend")
    doctor.add_argument(
        "--backend",
        choices=["local", "aws"],
        default=None,
        help="backend to check (default: WORKSHOP_BACKEND or local)",
    )
    doctor.set_defaults(run=cmd_doctor)

    cleanup = commands.add_parser("cleanup", help="delete everything of one participant")
    cleanup.add_argument("--backend", choices=["local", "aws"], default=None)
    cleanup.add_argument(
        "--participant", default=None, help="default: WORKSHOP_PARTICIPANT or your login name"
    )
    cleanup.set_defaults(run=cmd_cleanup)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # Options after `lab` that we do not know (--no-browser, --port=...) go to jupyter lab.
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "lab":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.jupyter_args = extra
    try:
        return args.run(args)
    except (ConfigError, AwsOptInRequired) as error:  # their messages say what to do
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
