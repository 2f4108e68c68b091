"""The evaluation's rules as a city sets them (its pack's `scoring.yaml`): weights, count and grade bands, and what
a rate with nothing due counts for; the `Ratio` every rate is, and the `Evaluation` row a composite gives.

A rate with nothing due (0/0) has no value: it is shown as "—", never as 1.000 (a rework rate of 1.000 reads as
"everything reworked"), and counts in a composite as `empty_rate` says — a share of full marks (1.0 by default:
nothing due, nothing failed) or ``exclude``, its weight shared among the indicators that had something due.
The formulas that count the rates are in civicgrid/domain/scoring.py.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError

from civicgrid.domain.errors import DomainError


class ScoringError(DomainError):
    """Scoring data or a request that cannot be computed."""


EXCLUDE: Literal["exclude"] = "exclude"
EmptyRate = float | Literal["exclude"]
# Rates where less is better: a composite weighs their complement (not_rework_rate = 1 − rework_rate).
LOWER_IS_BETTER = ("missed_rate", "rework_rate")


@dataclass(frozen=True, slots=True)
class Ratio:
    numerator: int
    denominator: int

    @property
    def share(self) -> float | None:
        """numerator / denominator; None when nothing was due (shown as "—")."""
        return self.numerator / self.denominator if self.denominator else None

    def value(self, empty: float = 1.0) -> float:
        return self.numerator / self.denominator if self.denominator else empty

    def complement(self) -> Ratio:
        """The other side of the same count: 1 − rework rate is (disposed − reworked) / disposed."""
        return Ratio(self.denominator - self.numerator, self.denominator)


def counted(ratio: Ratio, empty_rate: EmptyRate) -> float | None:
    """What a rate counts for in a composite: its share; with nothing due, the pack's `empty_rate` — a share
    of full marks, or None for ``exclude`` (the composite leaves it out and scales the other weights up)."""
    share = ratio.share
    if share is not None:
        return share
    return None if empty_rate == EXCLUDE else float(empty_rate)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One subject's row: `indicators` as shown (None: nothing due), `counted` the values that entered the
    composite (the weighted ones; a rate with nothing due at the pack's `empty_rate`), `weights` as applied (the
    level's, scaled up when an indicator was excluded). `score` and `grade` are None when every weighted indicator
    was excluded: there was nothing to score."""

    subject: str
    level: str
    indicators: Mapping[str, float | None]
    score: float | None
    grade: str | None
    ratios: Mapping[str, Ratio] = field(default_factory=dict)
    counted: Mapping[str, float] = field(default_factory=dict)
    weights: Mapping[str, float] = field(default_factory=dict)


def _empty_rate(value: Any) -> EmptyRate:
    """One error in words for a wrong `empty_rate`, rather than one per member of the union."""
    if value == EXCLUDE:
        return EXCLUDE
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1:
        return value
    raise ValueError(f"a rate with nothing due counts as a share from 0 to 1, or as exclude (left out of the "
                     f"composite), not {value!r}")


class CountBand(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max: int | None = Field(ge=0)  # None: every count above the bands before
    score: float = Field(ge=0, le=100)


class GradeBand(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grade: str = Field(min_length=1)
    min: float = Field(ge=0, le=100)


class ScoringFile(BaseModel):
    """A scoring file (the boundary: the rule pack reports its errors by row, civicgrid/cases/pack_check.py)."""

    model_config = ConfigDict(extra="forbid")
    composites: dict[str, dict[str, Annotated[float, Field(ge=0, le=1)]]]
    case_count_bands: list[CountBand]
    grades: list[GradeBand]
    # A rate with nothing due counts as this share of full marks, or is left out of the composite ("exclude").
    empty_rate: Annotated[EmptyRate, PlainValidator(_empty_rate)] = 1.0


@dataclass(frozen=True, slots=True)
class Scoring:
    """Weights per composite, case-count bands, grade bands (from `scoring.yaml`)."""

    composites: Mapping[str, Mapping[str, float]]
    case_count_bands: tuple[tuple[int | None, float], ...]
    grades: tuple[tuple[str, float], ...]
    empty_rate: EmptyRate = 1.0

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Scoring:
        try:
            parsed = ScoringFile.model_validate(data)
        except ValidationError as exc:
            raise ScoringError(f"scoring data: {exc}") from exc
        return cls(
            composites={k: dict(v) for k, v in parsed.composites.items()},
            case_count_bands=tuple((b.max, b.score) for b in parsed.case_count_bands),
            grades=tuple((g.grade, g.min) for g in parsed.grades),
            empty_rate=parsed.empty_rate,
        )

    def merged(self, city: Mapping[str, Any]) -> Scoring:
        """A city's keys replace the defaults; a composite given replaces that composite's weights."""
        base: dict[str, Any] = {
            "composites": dict(self.composites),
            "case_count_bands": [{"max": m, "score": s} for m, s in self.case_count_bands],
            "grades": [{"grade": g, "min": m} for g, m in self.grades],
            "empty_rate": self.empty_rate,
        }
        for key, value in city.items():
            base[key] = {**base["composites"], **value} if key == "composites" else value
        return Scoring.from_mapping(base)

    def case_count_score(self, count: int) -> float:
        """Fewer is better: ≤50 → 100, ≤100 → 90, ≤200 → 75, ≤500 → 60, ≤1000 → 40, else 0."""
        for limit, score in self.case_count_bands:
            if limit is None or count <= limit:
                return score
        return 0.0

    def grade(self, score: float) -> str:
        """A ≥ 90, B ≥ 75, C ≥ 60, D ≥ 40, else E (by default)."""
        for name, minimum in self.grades:
            if score >= minimum:
                return name
        return self.grades[-1][0]

    def weights_for(self, level: str, indicators: Mapping[str, float | None]) -> dict[str, float]:
        """The weights a composite applies: the level's, without those of excluded (None) indicators, the rest
        scaled up to add to 1 again; empty when nothing is left to weigh."""
        try:
            weights = self.composites[level]
        except KeyError:
            raise ScoringError(f"no weights for {level!r}") from None
        missing = set(weights) - set(indicators)
        if missing:
            raise ScoringError(f"{level}: indicators {sorted(missing)} were not computed")
        kept = {k: w for k, w in weights.items() if indicators[k] is not None}
        if len(kept) == len(weights):
            return dict(weights)
        total = sum(kept.values())
        return {k: w / total for k, w in kept.items()} if total > 0 else {}

    def composite(self, level: str, indicators: Mapping[str, float | None]) -> float | None:
        """score = 100 × Σ weight_i × indicator_i (indicators as fractions 0..1; None: excluded, see
        `weights_for`); None when nothing is left to weigh."""
        weights = self.weights_for(level, indicators)
        if not weights:
            return None
        return round(100.0 * sum(w * (indicators[k] or 0.0) for k, w in weights.items()), 6)

    def evaluation(self, subject: str, level: str, ratios: Mapping[str, Ratio],
                   extra: Mapping[str, float] | None = None) -> Evaluation:
        """A subject's row from its rates (and scores that are no rates, such as the count score)."""
        every = dict(ratios)
        for k in LOWER_IS_BETTER:
            if k in ratios:
                every[f"not_{k}"] = ratios[k].complement()
        shown: dict[str, float | None] = {k: r.share for k, r in every.items()}
        counts: dict[str, float | None] = {k: counted(r, self.empty_rate) for k, r in every.items()}
        shown.update(extra or {})
        counts.update(extra or {})
        weights = self.weights_for(level, counts)
        score = self.composite(level, counts)
        return Evaluation(subject, level, shown, score, None if score is None else self.grade(score), every,
                          {k: v for k, v in counts.items() if k in weights and v is not None}, weights)


def rank(evaluations: Iterable[Evaluation]) -> list[tuple[int, Evaluation]]:
    """Ranked table, best first; equal scores share a rank (1, 2, 2, 4), ties by subject; a subject with nothing
    to score (score None) ranks last."""
    ordered = sorted(evaluations, key=lambda e: (e.score is None, -(e.score or 0.0), e.subject))
    out: list[tuple[int, Evaluation]] = []
    for i, e in enumerate(ordered):
        r = out[-1][0] if out and out[-1][1].score == e.score else i + 1
        out.append((r, e))
    return out


@functools.cache
def default_scoring() -> Scoring:
    """Weights shipped with civicgrid (`scoring.yaml`), read once."""
    text = resources.files("civicgrid.domain").joinpath("scoring.yaml").read_text(encoding="utf-8")
    return Scoring.from_mapping(yaml.safe_load(text))
