"""Exercises with feedback: predict a gradient, write an op, find a bug, train a model.

    >>> from micrograd.exercises import get
    >>> ex = get("grad-2")
    >>> print(ex.statement)             # the task; ex.draw() shows the graph in Jupyter
    >>> ex.hint()                       # the first hint; call again for the next
    >>> ex.check(-2)                    # Feedback: prints in a terminal, renders in Jupyter
    >>> ex.solution()                   # only when asked

Four kinds (`KINDS`), each with its own answer:

    predict    a number: d(root)/d(node) for a small graph (`ex.draw()`); wrong numbers get
               the worked calculation, and the usual mistakes (one path of several, a flipped
               sign, the upstream gradient forgotten) by name
    write-op   a function named as the op (`tanh(x)`, `mul(a, b)`, ...) taking Values and
               returning a Value, written the lecture's way (`out._backward = ...`) or with
               `micrograd.primitive`; checked by gradcheck at fixed points and by hypothesis
               over the op's domain, with an upstream gradient other than 1 and an input used
               twice
    find-bug   the number of the wrong line (an int), or the fixed function, named as in the
               listing (`train`, `square`, `bce`), which is run and must behave
    train      `train(X, y, steps)` returning a model; re-run with a fixed seed, the steps
               counted as calls of backward(), the held-out accuracy and the loss curve reported

A code answer is a function (in Jupyter: the definitions of the cell it was written in are
sent), Python source as a string, or the path of a .py file; `python -m micrograd check ID
FILE.py` checks a file, `python -m micrograd grade ID FOLDER --csv out.csv` a folder of them.
It runs in a subprocess with time and memory limits (`sandbox`), already given `math`,
`random`, `Value`, `primitive` and `MLP`; it may not use `micrograd.exercises`, where the
reference solutions live.
"""

from ..lazy import lazy_exports

_EXPORTS = {
    "EXERCISES": "micrograd.exercises.catalogue",
    "get": "micrograd.exercises.catalogue",
    "ids": "micrograd.exercises.catalogue",
    "Exercise": "micrograd.exercises.exercise",
    "CodeExercise": "micrograd.exercises.exercise",
    "Solution": "micrograd.exercises.exercise",
    "KINDS": "micrograd.exercises.exercise",
    "Feedback": "micrograd.exercises.feedback",
    "PredictGradient": "micrograd.exercises.predict",
    "WriteOp": "micrograd.exercises.write_op",
    "FindBug": "micrograd.exercises.find_bug",
    "Train": "micrograd.exercises.train",
    "grade": "micrograd.exercises.grading",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
del lazy_exports
