"""The catalogue: every exercise, in teaching order, by id."""

from __future__ import annotations

from typing import Dict, List

from . import find_bug, predict, train, write_op
from .exercise import Exercise

__all__ = ["EXERCISES", "get", "ids"]

EXERCISES: Dict[str, Exercise] = {
    ex.id: ex for ex in [*predict.exercises(), *write_op.exercises(), *find_bug.exercises(), *train.exercises()]
}


def get(id: str) -> Exercise:
    """The exercise with this id ("grad-1"); a KeyError listing the ids if there is none."""
    if not isinstance(id, str):
        raise TypeError(f"an exercise id is a string such as 'op-1', got {type(id).__name__}: {id!r}")
    try:
        return EXERCISES[id]
    except (KeyError, TypeError):
        raise KeyError(f"no exercise {id!r}; the exercises are {', '.join(EXERCISES)}") from None


def ids() -> List[str]:
    """Every exercise's id, in teaching order."""
    return list(EXERCISES)
