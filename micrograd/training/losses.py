"""Loss functions and accuracy: model outputs (Values) in, one Value (the mean) out.

Every loss is built from ordinary `Value` ops, so its graph can be drawn and its gradient is
the engine's own. Labels are plain numbers. Each loss returns the mean over the samples, as
PyTorch does by default (`reduction="mean"`).

Two label conventions are used, as in the demo and in PyTorch:

* binary scores (one Value per sample) with labels -1/+1 (`hinge_loss`, karpathy's demo) or
  0/1 (`binary_cross_entropy_with_logits`); `binary_accuracy` accepts either;
* class logits (a list of Values per sample) with labels 0..k-1 (`cross_entropy`, `accuracy`).
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, Iterable, List, Sequence, Union, cast

from ..engine import Value, affine

__all__ = [
    "mse_loss",
    "hinge_loss",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "logsumexp",
    "log_softmax",
    "softmax",
    "l2_penalty",
    "binary_accuracy",
    "accuracy",
]

Scalar = Union[Value, float]


def _value(x: Scalar) -> Value:
    return x if isinstance(x, Value) else Value(x)


def _mean(terms: List[Value]) -> Value:
    # Written as karpathy's demo writes it (sum, then times 1/n), so hinge_loss gives its numbers.
    return cast(Value, sum(terms)) * (1.0 / len(terms))


def _pairs(op: str, outputs: Sequence[Any], labels: Sequence[Any]) -> None:
    """Check that there is one label per output and at least one of each."""
    if isinstance(outputs, (Value, Real)):
        raise TypeError(f"{op} needs a list of outputs, one per sample, got a single {type(outputs).__name__}")
    if len(outputs) != len(labels):
        raise ValueError(f"{op} needs one label per output, got {len(outputs)} outputs and {len(labels)} labels")
    if len(outputs) == 0:
        raise ValueError(f"{op} needs at least one sample, got none")


def _label(op: str, y: object, allowed: Sequence[float]) -> float:
    if isinstance(y, bool) or not isinstance(y, Real) or float(y) not in allowed:
        raise ValueError(f"{op} labels must be one of {sorted(allowed)}, got {y!r}")
    return float(y)


def mse_loss(
    outputs: Sequence[Union[Scalar, Sequence[Scalar]]], targets: Sequence[Union[float, Sequence[float]]]
) -> Value:
    """Mean squared error, mean((output - target) ** 2).

    Outputs may also be lists (several outputs per sample): the mean is then over every
    output of every sample, as in PyTorch.
    """
    _pairs("mse_loss", outputs, targets)
    terms: List[Value] = []
    for out, target in zip(outputs, targets):
        # A lone number is one output (cast: mypy cannot narrow by numbers.Real).
        outs: List[Any] = [out] if isinstance(out, (Value, Real)) else list(cast(Sequence[Scalar], out))
        tgts: List[Any] = [target] if isinstance(target, Real) else list(cast(Sequence[float], target))
        if len(outs) != len(tgts):
            raise ValueError(f"mse_loss needs as many targets as outputs per sample, got {len(tgts)} for {len(outs)}")
        terms.extend((_value(o) - t) ** 2 for o, t in zip(outs, tgts))
    return _mean(terms)


def hinge_loss(scores: Sequence[Value], labels: Sequence[int]) -> Value:
    """The max-margin loss of karpathy's demo, mean(relu(1 - y * score)), labels -1/+1.

    Built exactly as the demo builds it, so it gives the demo's numbers.
    """
    _pairs("hinge_loss", scores, labels)
    return _mean([(1 + -_label("hinge_loss", y, (-1, 1)) * s).relu() for y, s in zip(labels, scores)])


def binary_cross_entropy_with_logits(logits: Sequence[Scalar], labels: Sequence[float]) -> Value:
    """Binary cross-entropy on raw scores, labels 0/1 (or probabilities in [0, 1]).

    -[y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))] is written as softplus(z) - y*z, which
    is the same number but never takes the log of 0: it is exact for logits of +-1000.
    Its gradient is sigmoid(z) - y.
    """
    _pairs("binary_cross_entropy_with_logits", logits, labels)
    terms: List[Value] = []
    for logit, y in zip(logits, labels):
        if isinstance(y, bool) or not isinstance(y, Real) or not 0.0 <= float(y) <= 1.0:
            raise ValueError(f"binary_cross_entropy_with_logits labels must be in [0, 1], got {y!r}")
        z = _value(logit)
        terms.append(z.softplus() - z * float(y) if y else z.softplus())
    return _mean(terms)


def logsumexp(values: Sequence[Scalar]) -> Value:
    """log(sum(exp(v))), stable: the largest value is taken out first, so no exp overflows."""
    if len(values) == 0:
        raise ValueError("logsumexp needs at least one value, got none")
    vs = [_value(v) for v in values]
    m = max(v.data for v in vs)  # a constant: the result does not depend on it
    return cast(Value, sum((v - m).exp() for v in vs)).log() + m


def log_softmax(logits: Sequence[Scalar]) -> List[Value]:
    """log(softmax(logits)), each entry logit - logsumexp(logits)."""
    lse = logsumexp(logits)
    return [z - lse for z in logits]


def softmax(logits: Sequence[Scalar]) -> List[Value]:
    """exp(z) / sum(exp(z)), computed from the largest logit down, so it never overflows."""
    zs = [_value(z) for z in logits]
    m = max(z.data for z in zs)
    es = [(z - m).exp() for z in zs]
    total = cast(Value, sum(es))
    return [e / total for e in es]


def cross_entropy(logits: Sequence[Sequence[Value]], labels: Sequence[int]) -> Value:
    """Softmax + cross-entropy: mean(logsumexp(z) - z[label]) over samples, labels 0..k-1.

    `logits` holds one list of k class scores per sample (what `MLP(nin, [..., k])` returns).
    """
    _pairs("cross_entropy", logits, labels)
    terms: List[Value] = []
    for z, y in zip(logits, labels):
        if isinstance(z, (Value, Real)) or len(z) < 2:
            raise ValueError(f"cross_entropy needs a list of at least 2 class scores per sample, got {z!r}")
        k = len(z)
        if isinstance(y, bool) or not isinstance(y, Integral) or not 0 <= y < k:  # Integral: NumPy ints too
            raise ValueError(f"cross_entropy labels must be ints in 0..{k - 1}, got {y!r}")
        terms.append(logsumexp(z) - z[int(y)])
    return _mean(terms)


def l2_penalty(parameters: Iterable[Value], alpha: float) -> Value:
    """alpha * sum(p * p): the demo's regularization term (`alpha = 1e-4` there).

    The sum is one `affine` node (0 + p0*p0 + p1*p1 + ..., the demo's order, so the same
    numbers), not a chain of 2 nodes per parameter."""
    ps = list(parameters)
    return alpha * affine(ps, ps, Value(0.0))


def _number(x: Scalar) -> float:
    return x.data if isinstance(x, Value) else float(x)


def binary_accuracy(scores: Sequence[Scalar], labels: Sequence[float]) -> float:
    """Fraction of samples whose score has the label's side of 0 (score > 0 predicts the
    positive class). Works for labels -1/+1 and 0/1 alike: a label > 0 is positive."""
    _pairs("binary_accuracy", scores, labels)
    return sum((y > 0) == (_number(s) > 0) for y, s in zip(labels, scores)) / len(labels)


def accuracy(logits: Sequence[Sequence[Scalar]], labels: Sequence[int]) -> float:
    """Fraction of samples whose largest logit is at the label's index (labels 0..k-1).
    Ties go to the first of the largest, as in `argmax`."""
    _pairs("accuracy", logits, labels)
    hits = 0
    for z, y in zip(logits, labels):
        data = [_number(v) for v in z]
        hits += data.index(max(data)) == y
    return hits / len(labels)

