"""The exercise-checking API itself."""

from __future__ import annotations

import numpy as np

from workshop.exercises.core import (
    CORRECT,
    INCORRECT,
    NOT_ATTEMPTED,
    CheckedExercise,
    Incorrect,
    ValueExercise,
    is_untouched,
)


def starter(queue_url): ...


def documented_starter(queue_url):
    """Return the number of messages."""
    pass


def attempted(queue_url):
    return len(queue_url)


def test_starter_values_are_untouched():
    assert is_untouched(...)
    assert is_untouched(None)
    assert is_untouched(starter)
    assert is_untouched(documented_starter)
    assert not is_untouched(attempted)
    assert not is_untouched(0)
    assert not is_untouched("")


def test_value_exercise_numbers():
    q = ValueExercise("Q", expected=10, hint="h", solution="s")
    assert q.evaluate(...).status == NOT_ATTEMPTED
    assert q.evaluate(10).status == CORRECT
    too_big = q.evaluate(12)
    assert too_big.status == INCORRECT and "hint()" in too_big.message
    assert "large" not in too_big.message and "small" not in too_big.message
    assert "10" not in too_big.message  # the answer is not given away
    assert q.evaluate("10").status == INCORRECT
    assert q.evaluate(True).status == INCORRECT
    assert q.evaluate(np.int64(10)).status == CORRECT  # from a DataFrame
    assert q.evaluate(np.float64(10.0)).status == CORRECT


def test_value_exercise_tolerance_and_strings():
    assert (
        ValueExercise("Q", expected=0.8, tolerance=0.01, hint="", solution="")
        .evaluate(0.805)
        .correct
    )
    word = ValueExercise("Q", expected="long", hint="", solution="")
    assert word.evaluate(" Long ").correct
    assert not word.evaluate("short").correct


def test_checked_exercise_reports_the_judges_feedback():
    def judge(answer):
        if answer != 3:
            raise Incorrect("Count the batches again.")
        return "Three calls."

    q = CheckedExercise("Q", judge, hint="h", solution="s")
    assert q.evaluate(3).message == "Three calls."
    assert q.evaluate(4).message == "Count the batches again."
    assert q.evaluate(starter).status == NOT_ATTEMPTED


def test_check_hint_and_solution_print(capsys):
    q = ValueExercise("Q", expected=1, hint="Think small.", solution="`1`")
    assert q.check(...) is None
    q.hint()
    q.solution()
    printed = capsys.readouterr().out
    assert "Not attempted" in printed and "Think small." in printed and "`1`" in printed
