"""A small exercise-checking API in the spirit of Kaggle's learntools.

Every exercise has ``check(...)``, ``hint()`` and ``solution()``. The learner passes their answer
to ``check`` explicitly; nothing reads the notebook's globals. An answer still at its starter
value (``...``, ``None`` or a function whose body is only ``...`` or ``pass``) is reported as
not attempted, never as wrong, so a notebook runs top to bottom before anyone has tried.

Feedback names what is wrong without giving the answer away; ``solution()`` gives it.

>>> q = ValueExercise("the largest batch", expected=10, hint="Look at the batch quota.",
...                   solution="`10`")
>>> q.evaluate(...).status
'not attempted'
>>> q.evaluate(12).status
'incorrect'
"""

from __future__ import annotations

import dis
import inspect
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

CORRECT, INCORRECT, NOT_ATTEMPTED = "correct", "incorrect", "not attempted"


class Incorrect(Exception):
    """Raised inside a checker with feedback for the learner."""


class NotAttempted(Exception):
    """Raised inside a checker when the answer is still the starter value."""


@dataclass(frozen=True)
class Outcome:
    status: str
    message: str

    @property
    def correct(self) -> bool:
        return self.status == CORRECT

    def __str__(self) -> str:
        mark = {CORRECT: "✅ Correct", INCORRECT: "❌ Not yet", NOT_ATTEMPTED: "✏️ Not attempted"}
        return f"{mark[self.status]}: {self.message}" if self.message else mark[self.status]


def is_number(value: Any) -> bool:
    """True for ints, floats and numpy numbers (what a DataFrame hands back), not for bools."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def check_fraction(share: float, expected: float, abs_tol: float) -> None:
    """The two slips of any "what share" answer: a percentage, or a number outside 0..1."""
    if share > 1 and math.isclose(share / 100, expected, abs_tol=abs_tol):
        raise Incorrect("Give the share as a fraction between 0 and 1, not as a percentage.")
    if not 0 <= share <= 1:
        raise Incorrect("A share lies between 0 and 1.")


def is_untouched(value: Any) -> bool:
    """True for a starter value: ``...``, ``None``, or a function with an empty body."""
    if value is ... or value is None:
        return True
    if inspect.isfunction(value):
        return _has_empty_body(value)
    return False


def _has_empty_body(function: Callable) -> bool:
    """A body of only a docstring, ``...`` or ``pass`` compiles to "return None"."""
    steps = [i for i in dis.get_instructions(function) if i.opname not in {"RESUME", "NOP"}]
    names = [i.opname for i in steps]
    if names == ["RETURN_CONST"]:  # Python 3.12 and later
        return steps[0].argval is None
    return names == ["LOAD_CONST", "RETURN_VALUE"] and steps[0].argval is None


class Exercise:
    """Base class: subclasses implement :meth:`_check`, raising :class:`Incorrect`."""

    def __init__(self, title: str, *, hint: str, solution: str):
        self.title = title
        self._hint = hint
        self._solution = solution

    def evaluate(self, *answers: Any) -> Outcome:
        """Judge the answer without printing: the tests use this."""
        if not answers or is_untouched(answers[0]):
            return Outcome(
                NOT_ATTEMPTED,
                f"{self.title}: replace the `...` with your answer, then run check() again.",
            )
        try:
            praise = self._check(*answers)
        except NotAttempted as reason:
            return Outcome(NOT_ATTEMPTED, str(reason))
        except Incorrect as reason:
            return Outcome(INCORRECT, str(reason))
        return Outcome(CORRECT, praise or "")

    def check(self, *answers: Any) -> None:
        """Print feedback on the answer (``evaluate`` returns it instead)."""
        print(self.evaluate(*answers))

    def hint(self) -> None:
        print(f"💡 Hint: {self._hint}")

    def solution(self) -> None:
        print(f"Solution:\n{self._solution}")

    def _check(self, *answers: Any) -> str | None:
        raise NotImplementedError


class ValueExercise(Exercise):
    """The answer is one value: a number (with a relative tolerance), a string or a set."""

    def __init__(
        self, title: str, *, expected: Any, hint: str, solution: str, tolerance: float = 0.0
    ):
        super().__init__(title, hint=hint, solution=solution)
        self.expected = expected
        self.tolerance = tolerance

    def _check(self, answer: Any) -> str | None:
        expected = self.expected
        if is_number(expected):
            if not is_number(answer):
                raise Incorrect(f"Expected a number, got {type(answer).__name__} {answer!r}.")
            answer = float(answer)  # a numpy number from a DataFrame is a number too
            if not math.isclose(answer, expected, rel_tol=self.tolerance, abs_tol=1e-12):
                # No "too large / too small": that turns the exercise into guessing by halves.
                raise Incorrect(f"{answer!r} is not it; hint() gives a nudge.")
            return None
        if isinstance(expected, str):
            if not isinstance(answer, str):
                raise Incorrect(f"Expected a string, got {type(answer).__name__}.")
            if answer.strip().lower() != expected.lower():
                raise Incorrect(f"{answer!r} is not it.")
            return None
        if answer != expected:
            raise Incorrect(f"{answer!r} is not it.")
        return None


class CheckedExercise(Exercise):
    """The answer is judged by a function: ``judge(*answers)`` raises :class:`Incorrect`.

    Use it when the right answer depends on the run (a measurement, a queue's state) or when
    the learner writes a function that must be exercised.
    """

    def __init__(self, title: str, judge: Callable[..., str | None], *, hint: str, solution: str):
        super().__init__(title, hint=hint, solution=solution)
        self._judge = judge

    def _check(self, *answers: Any) -> str | None:
        return self._judge(*answers)
