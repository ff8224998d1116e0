"""Formulas from the one written derivative of each op: run it on symbols, not numbers.

Every derivative in the table of ops (`micrograd.engine`) is written with arithmetic and
the generic functions `exp`, `log`, `sin`, `cos`, `tanh`, `sigmoid` and `where`, so it runs on
anything that has them. A `Symbol` is such a thing: arithmetic on it records a formula (an
`Expr`) instead of computing a number. The formula can then be written out

- as Python source (`python()`), which computes exactly the floats the engine's own
  first-order pass computes (the same operations in the same order), for generated code;
- as math a learner reads (`text()`: `1 - tanh(n)^2`), with the names or with the numbers
  (`text(numbers=True)`: `1 - 0.7616^2`), and as LaTeX (`latex()`) for Jupyter.

    >>> from micrograd.engine import TANH
    >>> n, out = Symbol("n", 1.0), Symbol("tanh(n)", 0.7615941559557649)
    >>> d, = TANH.derivatives([n], out)
    >>> d.text(), d.text(numbers=True)
    ('1 - tanh(n)^2', '1 - 0.7616^2')

Standard library only, like the engine.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Dict, Optional, Tuple, Union

from .engine import sigmoid

__all__ = ["Expr", "Symbol", "Constant", "Formula", "lift", "format_number", "latex_name", "PYTHON_NAMESPACE"]

Formula = Union["Expr", float, int, bool]

# What generated Python source needs besides its variables: the same float functions the
# generic functions call on floats (engine.exp is math.exp on a float; engine.sigmoid takes floats too).
PYTHON_NAMESPACE: Dict[str, Any] = {"math": math, "sigmoid": sigmoid}

# Precedence for printing math without needless parentheses (higher binds tighter).
_WHERE, _COMPARE, _SUM, _PRODUCT, _NEGATION, _POWER, _ATOM = range(7)
_BINARY = {"+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT, "**": _POWER,
           ">": _COMPARE, "<": _COMPARE, ">=": _COMPARE, "<=": _COMPARE}
_FUNCTIONS = {"exp": "math.exp", "log": "math.log", "sin": "math.sin", "cos": "math.cos", "tanh": "math.tanh",
              "sigmoid": "sigmoid"}
_LATEX_FUNCTIONS = {"log": r"\log", "sin": r"\sin", "cos": r"\cos", "tanh": r"\tanh", "sigmoid": r"\sigma"}
_LATEX_BINARY = {"*": r" \cdot ", ">": " > ", "<": " < ", ">=": r" \geq ", "<=": r" \leq ", "+": " + ", "-": " - "}


def lift(x: Any) -> "Expr":
    """A formula for `x`: itself if it is one, else a constant."""
    if isinstance(x, Expr):
        return x
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"a formula can hold Symbols and plain numbers, got {type(x).__name__}: {x!r}")
    return Constant(x)


class Expr:
    """A formula: an operation (`op`) on formulas and numbers (`args`).

    Made by arithmetic on `Symbol`s. `op` is an operator (`+ - * / ** > < >= <=`), `neg`,
    one of the functions `exp log sin cos tanh sigmoid`, `where` (a conditional), or
    `symbol`/`constant` for the leaves.
    """

    __slots__ = ("op", "args")

    def __init__(self, op: str, args: Tuple["Expr", ...]) -> None:
        self.op = op
        self.args = args

    # --- building formulas: the same protocol Values and floats follow ------------------

    def _binary(self, op: str, other: Any, swap: bool = False) -> "Expr":
        a, b = self, lift(other)
        return Expr(op, (b, a) if swap else (a, b))

    def __add__(self, other: Any) -> "Expr":
        return self._binary("+", other)

    def __radd__(self, other: Any) -> "Expr":
        return self._binary("+", other, True)

    def __sub__(self, other: Any) -> "Expr":
        return self._binary("-", other)

    def __rsub__(self, other: Any) -> "Expr":
        return self._binary("-", other, True)

    def __mul__(self, other: Any) -> "Expr":
        return self._binary("*", other)

    def __rmul__(self, other: Any) -> "Expr":
        return self._binary("*", other, True)

    def __truediv__(self, other: Any) -> "Expr":
        return self._binary("/", other)

    def __rtruediv__(self, other: Any) -> "Expr":
        return self._binary("/", other, True)

    def __pow__(self, other: Any) -> "Expr":
        return self._binary("**", other)

    def __rpow__(self, other: Any) -> "Expr":
        return self._binary("**", other, True)

    def __neg__(self) -> "Expr":
        return Expr("neg", (self,))

    def __gt__(self, other: Any) -> "Expr":
        return self._binary(">", other)

    def __lt__(self, other: Any) -> "Expr":
        return self._binary("<", other)

    def __ge__(self, other: Any) -> "Expr":
        return self._binary(">=", other)

    def __le__(self, other: Any) -> "Expr":
        return self._binary("<=", other)

    # Identity equality (as for Values): `y == 0.0` on a symbol is False, so a derivative
    # written `0.0 if y == 0.0 else ...` takes its general formula.
    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        raise TypeError(
            f"a formula has no truth value: {self.python()}. A derivative that branches on its"
            " operands must use micrograd.engine.where(condition, if_true, if_false)"
        )

    def where(self, if_true: Any, if_false: Any) -> "Expr":
        """`if_true if self else if_false` as a formula (what `engine.where` calls)."""
        return Expr("where", (self, lift(if_true), lift(if_false)))

    def exp(self) -> "Expr":
        return Expr("exp", (self,))

    def log(self) -> "Expr":
        return Expr("log", (self,))

    def sin(self) -> "Expr":
        return Expr("sin", (self,))

    def cos(self) -> "Expr":
        return Expr("cos", (self,))

    def tanh(self) -> "Expr":
        return Expr("tanh", (self,))

    def sigmoid(self) -> "Expr":
        return Expr("sigmoid", (self,))

    # --- writing formulas out ------------------------------------------------------------

    def python(self, names: Optional[Callable[["Symbol"], str]] = None) -> str:
        """Python source that computes this formula with the engine's float operations, in
        the same order (every operation parenthesised). `names(symbol)` gives a symbol's
        variable name (default: its `code`). Evaluate it with `PYTHON_NAMESPACE`."""
        return _python(self, names or (lambda s: s.code))

    def text(self, numbers: bool = False, precision: int = 4) -> str:
        """The formula as a learner reads it: `1 - tanh(n)^2`; with `numbers=True` each
        symbol is replaced by its value (`precision` significant digits)."""
        return _text(self, numbers, precision)[0]

    def latex(self, numbers: bool = False, precision: int = 4) -> str:
        """The formula as LaTeX (for Markdown in Jupyter): `1 - \\tanh(n)^{2}`."""
        return _latex(self, numbers, precision)[0]

    def evaluate(self) -> float:
        """The formula's value from its symbols' values, with the engine's float operations."""
        return float(eval(self.python(), dict(PYTHON_NAMESPACE), _values(self)))  # noqa: S307 - our own source

    def __repr__(self) -> str:
        return f"Expr({self.text()!r})"


class Symbol(Expr):
    """A named number in a formula.

    Args:
        name: how the symbol is shown in math (`"n"`, `"tanh(n)"`).
        value: its number, for `text(numbers=True)` and `evaluate()`.
        code: its Python variable name (default: `name`, when that is an identifier).
    """

    __slots__ = ("name", "value", "code")

    def __init__(self, name: str, value: Optional[float] = None, code: Optional[str] = None) -> None:
        super().__init__("symbol", ())
        self.name = name
        self.value = value
        self.code = code if code is not None else (name if name.isidentifier() else "_")


class Constant(Expr):
    """A plain number in a formula."""

    __slots__ = ("value",)

    def __init__(self, value: float) -> None:
        super().__init__("constant", ())
        self.value = value


# --- the three writers -----------------------------------------------------------------

def _python(e: Expr, names: Callable[[Symbol], str]) -> str:
    if isinstance(e, Symbol):
        return names(e)
    if isinstance(e, Constant):
        return repr(e.value)
    args = [_python(a, names) for a in e.args]
    if e.op in _BINARY:
        return f"({args[0]} {e.op} {args[1]})"
    if e.op == "neg":
        return f"(-{args[0]})"
    if e.op == "where":
        return f"({args[1]} if {args[0]} else {args[2]})"
    return f"{_FUNCTIONS[e.op]}({args[0]})"


def format_number(value: Optional[float], precision: int = 4) -> str:
    """A number as a formula shows it: 2.0 as 2, others to `precision` significant digits."""
    if value is None:
        return "?"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))  # 2.0 reads as 2
    shown = f"{value:.{precision}g}"
    if _looks_exact(shown) and math.isfinite(value) and not float(value).is_integer():
        # Rounding must not make a number look like another, exact one: tanh(6) = 0.99998771 shown
        # as 1 turns `1 - tanh(6)^2` into the false `1 - 1^2 = 2.458e-05`. Show the part rounding
        # hid (its distance from the integer) to the same number of significant digits.
        off = abs(value - round(value))
        digits = precision
        while digits < 17 and abs(float(shown) - value) > 0.5 * 10.0 ** (1 - precision) * off:
            digits += 1
            shown = f"{value:.{digits}g}"
    return shown


def _looks_exact(shown: str) -> bool:
    """`2`, `-1`, `1e+05`: a number written without a decimal point reads as exact."""
    return re.fullmatch(r"-?\d+(e[+-]\d+)?", shown) is not None


def _squared(e: Expr) -> Optional[Expr]:
    """`x` when e is `x * x` of one symbol (shown as x^2), else None."""
    if e.op == "*" and isinstance(e.args[0], Symbol) and e.args[0] is e.args[1]:
        return e.args[0]
    return None


def _text(e: Expr, numbers: bool, precision: int) -> Tuple[str, int]:
    """The formula as text, and its precedence (to parenthesise it where needed)."""
    if isinstance(e, Symbol):
        shown = format_number(e.value, precision) if numbers else e.name
        return shown, _SUM if " " in shown or shown.startswith("-") else _ATOM  # "a * b", -3: parenthesise
    if isinstance(e, Constant):
        shown = format_number(e.value, precision)
        return shown, _NEGATION if shown.startswith("-") else _ATOM
    base = _squared(e)
    if base is not None:
        b = _wrap(_text(base, numbers, precision), _POWER + 1)
        return f"{b}^2", _POWER
    if e.op in _BINARY:
        level = _BINARY[e.op]
        if e.op == "**" and isinstance(e.args[1], Constant) and e.args[1].value == 1.0:
            return _text(e.args[0], numbers, precision)  # x ** (2 - 1) reads as x
        # Left-associative: the right operand of - and / needs parentheses at the same level.
        right_level = level + 1 if e.op in ("-", "/", "**") else level
        if e.op == "**":
            left, right = _POWER + 1, _POWER
        else:
            left, right = level, right_level
        a = _wrap(_text(e.args[0], numbers, precision), left)
        b = _wrap(_text(e.args[1], numbers, precision), right)
        op = {"*": "*", "**": "^"}.get(e.op, e.op)
        return (f"{a}^{b}" if op == "^" else f"{a} {op} {b}"), level
    if e.op == "neg":
        return "-" + _wrap(_text(e.args[0], numbers, precision), _NEGATION), _NEGATION
    if e.op == "where":
        c, a, b = (_text(x, numbers, precision)[0] for x in e.args)
        return f"({a} if {c} else {b})", _ATOM
    return f"{e.op}({_text(e.args[0], numbers, precision)[0]})", _ATOM


def _wrap(shown: Tuple[str, int], needs: int) -> str:
    text, level = shown
    return f"({text})" if level < needs else text


def _latex(e: Expr, numbers: bool, precision: int) -> Tuple[str, int]:
    if isinstance(e, Symbol):
        shown = format_number(e.value, precision) if numbers else latex_name(e.name)
        return shown, _SUM if shown.startswith("-") else _ATOM
    if isinstance(e, Constant):
        shown = format_number(e.value, precision)
        return shown, _NEGATION if shown.startswith("-") else _ATOM
    base = _squared(e)
    if base is not None:
        return f"{_latex_wrap(_latex(base, numbers, precision), _POWER + 1)}^{{2}}", _POWER
    if e.op == "/":
        a, b = (_latex(x, numbers, precision)[0] for x in e.args)
        return rf"\frac{{{a}}}{{{b}}}", _ATOM
    if e.op == "**":
        if isinstance(e.args[1], Constant) and e.args[1].value == 1.0:
            return _latex(e.args[0], numbers, precision)
        a = _latex_wrap(_latex(e.args[0], numbers, precision), _POWER + 1)
        return f"{a}^{{{_latex(e.args[1], numbers, precision)[0]}}}", _POWER
    if e.op in _BINARY:
        level = _BINARY[e.op]
        a = _latex_wrap(_latex(e.args[0], numbers, precision), level)
        b = _latex_wrap(_latex(e.args[1], numbers, precision), level + 1 if e.op == "-" else level)
        return f"{a}{_LATEX_BINARY[e.op]}{b}", level
    if e.op == "neg":
        return "-" + _latex_wrap(_latex(e.args[0], numbers, precision), _NEGATION), _NEGATION
    if e.op == "where":
        c, a, b = (_latex(x, numbers, precision)[0] for x in e.args)
        return rf"\left({a} \text{{ if }} {c} \text{{ else }} {b}\right)", _ATOM
    inner = _latex(e.args[0], numbers, precision)[0]
    if e.op == "exp":
        return f"e^{{{inner}}}", _POWER
    return rf"{_LATEX_FUNCTIONS[e.op]}\left({inner}\right)", _ATOM


def _latex_wrap(shown: Tuple[str, int], needs: int) -> str:
    text, level = shown
    return rf"\left({text}\right)" if level < needs else text


def latex_name(name: str) -> str:
    """A name in LaTeX: words upright (`\\mathrm{out}`), a call's function as an operator
    (`\\operatorname{tanh}(n)`), special characters escaped."""
    call = re.fullmatch(r"([A-Za-z_]\w*)\((.*)\)", name)
    if call:
        return rf"\operatorname{{{_escape(call.group(1))}}}\left({latex_name(call.group(2))}\right)"
    if len(name) == 1 or not name.isidentifier():
        return _escape(name)
    return rf"\mathrm{{{_escape(name)}}}"


def _escape(text: str) -> str:
    return "".join("\\" + ch if ch in "#$%&_{}" else ch for ch in text)


def _values(e: Expr) -> Dict[str, Any]:
    found: Dict[str, Any] = {}
    stack = [e]
    while stack:
        x = stack.pop()
        if isinstance(x, Symbol):
            if x.value is None:
                raise ValueError(f"the formula's symbol {x.name!r} has no value to evaluate with")
            found[x.code] = x.value
        stack.extend(x.args)
    return found
