"""Worker threads that stop by a deadline and whose errors reach the caller.

A thread's exception is normally printed to stderr and forgotten, and a thread that never
returns keeps a kernel busy. :class:`Workers` re-raises the first error in the thread that
waits, tells every worker to stop as soon as one fails or the learner interrupts the kernel,
and refuses to return while a worker is still running.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from tqdm.auto import tqdm

GRACE_SECONDS = 10.0
"""How long past its deadline a worker may take to notice it: one slow HTTP call at most."""


class Workers:
    """A group of daemon threads sharing one ``stop`` event.

    >>> workers = Workers()
    >>> workers.start("nap", lambda: workers.stop.wait(0.01))
    >>> workers.wait(deadline=time.perf_counter() + 1)
    """

    def __init__(self) -> None:
        self.stop = threading.Event()
        """Set when a worker failed or the wait was interrupted: workers should return."""
        self._threads: list[threading.Thread] = []
        self._errors: list[BaseException] = []

    def start(self, name: str, target: Callable[..., Any], *args: Any) -> None:
        """Run ``target(*args)`` in a new thread; an exception stops the whole group."""

        def run() -> None:
            try:
                target(*args)
            except BaseException as error:  # reported by wait(), in the caller's thread
                self._errors.append(error)
                self.stop.set()

        thread = threading.Thread(target=run, name=f"workshop-{name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def alive(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def wait(
        self,
        deadline: float,
        *,
        progress: Callable[[], int] | None = None,
        total: int | None = None,
        description: str = "",
        unit: str = "msg",
    ) -> None:
        """Wait for every worker; show a progress bar if ``progress`` counts work done
        (in ``unit``s: messages unless said otherwise).

        ``deadline`` is a :func:`time.perf_counter` value the workers also respect. Raises
        the first worker error, or :class:`TimeoutError` if a worker outlives the grace period.
        """
        bar = tqdm(total=total, desc=description, unit=unit) if progress else None
        try:
            while time.perf_counter() < deadline + GRACE_SECONDS:
                running = [thread for thread in self._threads if thread.is_alive()]
                if not running:
                    break
                if bar is not None and progress is not None:
                    bar.update(progress() - bar.n)
                running[0].join(timeout=0.1)
        except BaseException:
            self.stop.set()  # an interrupted kernel: let the workers go before re-raising
            self._join(GRACE_SECONDS)
            raise
        finally:
            if bar is not None and progress is not None:
                bar.update(progress() - bar.n)
                bar.close()
                print_final_state(bar)
        if self.alive():
            self.stop.set()
            self._join(GRACE_SECONDS)
        if self._errors:
            raise self._errors[0]
        if self.alive():
            names = [thread.name for thread in self._threads if thread.is_alive()]
            raise TimeoutError(f"Worker threads still running after their deadline: {names}")

    def _join(self, seconds: float) -> None:
        end = time.perf_counter() + seconds
        for thread in self._threads:
            thread.join(timeout=max(0.0, end - time.perf_counter()))


def print_final_state(bar: tqdm) -> None:
    """One line with the final count under a widget bar (a Jupyter notebook).

    A saved or exported notebook keeps only the widget's text fallback, drawn when the bar was
    created ("0%"), so without this line a static view would show no progress at all. A text
    bar (a terminal) already ends on its final state.
    """
    if any(cls.__module__ == "tqdm.notebook" for cls in type(bar).__mro__):
        total = f"/{bar.total}" if bar.total else ""
        print(f"{bar.desc}: {bar.n}{total} in {bar.format_dict['elapsed']:.1f} s", flush=True)
