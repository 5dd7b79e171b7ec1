"""Problems found in scenario files, and the one exception that carries them.

Every problem has the same shape whatever found it (the YAML parser, the
schema, a reference check): file, line, path in the file, rule, value and a
message.  `str(problem)` is the fixed one-line form users see::

    scenarios/partner.yaml:42  assets.ev_chargers[3].p_kw must be > 0 (got -11)  [greater_than]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Sentinel for "no value to show" (a missing key, a syntax error).
NO_VALUE = object()


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario file.

    Parameters
    ----------
    file : str
        The file the offending text is in (for an `extends` chain, the file
        that contributed the value).
    line : int | None
        1-based line number, or None when the problem has no single place.
    path : str
        Where in the scenario, e.g. ``wijken[3].adoption.ev_frac``; empty for
        the whole file.
    rule : str
        Short machine-readable name of the rule broken, e.g. ``greater_than``,
        ``unknown_key``, ``unknown_reference``, ``yaml_syntax``.
    message : str
        What is wrong and, where known, what to do, without the location.
    value : Any
        The offending value, or `NO_VALUE`.
    """

    file: str
    line: int | None
    path: str
    rule: str
    message: str
    value: Any = NO_VALUE

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        subject = f"{self.path} " if self.path else ""
        got = "" if self.value is NO_VALUE else f" (got {_show(self.value)})"
        return f"{where}  {subject}{self.message}{got}  [{self.rule}]"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly form, for ``--json`` output."""
        return {
            "file": self.file,
            "line": self.line,
            "path": self.path,
            "rule": self.rule,
            "message": self.message,
            "value": None if self.value is NO_VALUE else _show(self.value),
        }


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


class ScenarioError(ValueError):
    """A scenario could not be loaded; `problems` lists every reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        count = len(self.problems)
        lines = "\n".join(str(p) for p in self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in scenario:\n{lines}")
