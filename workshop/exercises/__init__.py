"""Exercises for the notebooks.

``from workshop.exercises import nb01``, then ``nb01.q1.check(answer)``.
"""

from workshop.exercises.core import (
    CheckedExercise,
    Exercise,
    Incorrect,
    NotAttempted,
    Outcome,
    ValueExercise,
    is_untouched,
)

__all__ = [
    "CheckedExercise",
    "Exercise",
    "Incorrect",
    "NotAttempted",
    "Outcome",
    "ValueExercise",
    "is_untouched",
]
