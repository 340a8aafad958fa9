"""Just enough PromQL and Prometheus text format to check what deploy/ queries against a scrape.

`metric_names` and `label_names` read an expression the way Prometheus does for the parts that
name series: metric names (identifiers not followed by "(", not keywords) and label names (in
matchers, in by/without/on/ignoring clauses). `Exposition` reads the hub's /metrics text: the
names a query may use (every family, a histogram's _bucket/_sum/_count included) and the label
names of each series that has samples.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

__all__ = ["Exposition", "label_names", "legend_labels", "metric_names"]

_STRING = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`""")
_MATCHERS = re.compile(r"\{([^}]*)\}")
_MATCHER_LABEL = re.compile(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_IDENT = re.compile(r"(?<![\w.:])([A-Za-z_:][\w:]*)(\s*\()?")
_LEGEND = re.compile(r"\{\{\s*([A-Za-z_]\w*)\s*\}\}")
# Binary operators, modifiers and literals that read like identifiers (not metric names).
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
    | {"group_left", "group_right", "inf", "nan", "Inf", "NaN"}
)
_HISTOGRAM_SERIES = ("_bucket", "_sum", "_count", "_created")


def _blank_strings(expr: str) -> str:
    return _STRING.sub('""', expr)


def metric_names(expr: str) -> set[str]:
    """The metric names `expr` selects (e.g. `rate(x_total[5m])` → {"x_total"})."""
    bare = _blank_strings(expr)
    bare = _MATCHERS.sub(" ", bare)
    bare = _RANGE.sub(" ", bare)
    bare = _GROUPING.sub(" ", bare)
    return {
        name
        for name, call in _IDENT.findall(bare)
        if not call and name not in _KEYWORDS and not name.startswith("__")
    }


def label_names(expr: str) -> set[str]:
    """The label names `expr` matches on or groups by (`__name__` and the like left out)."""
    bare = _blank_strings(expr)
    found: set[str] = set()
    for inner in _MATCHERS.findall(bare):
        found |= set(_MATCHER_LABEL.findall(inner))
    for inner in _GROUPING.findall(bare):
        found |= {label.strip() for label in inner.split(",") if label.strip()}
    return {label for label in found if not label.startswith("__")}


def legend_labels(legend: str) -> set[str]:
    """The labels a Grafana legend format shows (`{{queue}}` → {"queue"})."""
    return set(_LEGEND.findall(legend))


def _series_labels(line: str) -> tuple[str, set[str]]:
    head = line.rsplit(" ", 1)[0]
    name, _, inner = head.partition("{")
    labels = set(re.findall(r'([A-Za-z_]\w*)="', _blank_strings("{" + inner)))
    return name, labels


@dataclass(frozen=True)
class Exposition:
    """A /metrics answer: its families' names and the samples' values and label names."""

    text: str

    def types(self) -> dict[str, str]:
        """Each family's name and type, from its `# TYPE` line (with or without samples)."""
        return dict(re.findall(r"^# TYPE (\S+) (\S+)$", self.text, re.MULTILINE))

    def names(self) -> set[str]:
        """Every name a query may select: families, a histogram's series, every sample's name."""
        found: set[str] = set()
        for name, kind in self.types().items():
            found.add(name)
            if kind == "histogram":
                found |= {name + suffix for suffix in _HISTOGRAM_SERIES}
        return found | set(self.labels())

    def labels(self) -> dict[str, set[str]]:
        """For each name that has samples, the label names its samples carry."""
        found: dict[str, set[str]] = defaultdict(set)
        for line in self.text.splitlines():
            if line and not line.startswith("#"):
                name, labels = _series_labels(line)
                found[name] |= labels
        return dict(found)

    def values(self) -> dict[str, float]:
        """Each sample as written (`name{label="v"}`) and its value."""
        return {
            head: float(value)
            for head, value in (
                line.rsplit(" ", 1)
                for line in self.text.splitlines()
                if line and not line.startswith("#")
            )
        }
