"""A gradient-boosted tree ensemble as a scoring model, evaluated in plain Python.

``monitor train --trees`` fits scikit-learn's ``HistGradientBoostingClassifier`` on the same
labelled examples as the warm start and keeps only its trees (split feature, threshold, where a
missing value goes, leaf values) as lists, so a checkpoint holding it loads and scores without
scikit-learn. It does not learn online: it is refitted by training again.

Contributions are the path attributions of each tree (Saabas): every split on the path from the
root to the leaf adds the change of the node value it caused to its feature, so they sum, with
the baseline, to the score's log-odds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from monitor.core.scoring import sigmoid


class Trees:
    """A fitted tree ensemble over named features (missing features go where training sent
    missing values)."""

    name = "boosted-trees"

    def __init__(
        self,
        names: Sequence[str],
        baseline: float,
        trees: list[tuple[list[int], list[float], list[bool], list[int], list[int], list[float]]],
    ) -> None:
        #: the feature of each column
        self.names = tuple(names)
        self.baseline = baseline
        #: per tree: feature (-1 at a leaf), threshold, missing goes left, left, right, value
        self.trees = trees

    @classmethod
    def from_sklearn(cls, estimator: Any, names: Sequence[str]) -> Trees:
        """The trees of a fitted binary ``HistGradientBoostingClassifier`` (numeric features)."""
        shrinkage = float(estimator.learning_rate)
        trees = []
        # scikit-learn (checked against 1.9.1) has no public reader of a fitted model's trees
        for (predictor,) in estimator._predictors:  # noqa: SLF001
            nodes = predictor.nodes
            values = [float(v) for v in nodes["value"]]
            leaf = [bool(v) for v in nodes["is_leaf"]]
            left = [int(v) for v in nodes["left"]]
            right = [int(v) for v in nodes["right"]]
            counts = [float(v) for v in nodes["count"]]
            # split nodes hold their value before shrinkage, and the root none: put every node
            # on the leaves' scale (for the attributions; the score reads the leaves only)
            for i in range(len(values)):
                if not leaf[i]:
                    values[i] *= shrinkage
            if not leaf[0]:
                a, b = left[0], right[0]
                values[0] = (values[a] * counts[a] + values[b] * counts[b]) / max(counts[0], 1.0)
            trees.append(
                (
                    [-1 if leaf[i] else int(f) for i, f in enumerate(nodes["feature_idx"])],
                    [float(t) for t in nodes["num_threshold"]],
                    [bool(m) for m in nodes["missing_go_to_left"]],
                    left,
                    right,
                    values,
                )
            )
        baseline = estimator._baseline_prediction  # noqa: SLF001
        return cls(names, float(baseline.ravel()[0]), trees)

    def _row(self, x: dict[str, float]) -> list[float]:
        return [x.get(name, math.nan) for name in self.names]

    def logit(self, x: dict[str, float]) -> float:
        row = self._row(x)
        z = self.baseline
        for feature, threshold, missing_left, left, right, value in self.trees:
            i = 0
            while feature[i] >= 0:
                v = row[feature[i]]
                if v != v:  # missing
                    i = left[i] if missing_left[i] else right[i]
                else:
                    i = left[i] if v <= threshold[i] else right[i]
            z += value[i]
        return z

    def predict(self, x: dict[str, float]) -> float:
        return sigmoid(self.logit(x))

    def contributions(self, x: dict[str, float]) -> dict[str, float]:
        row = self._row(x)
        out: dict[str, float] = {}
        for feature, threshold, missing_left, left, right, value in self.trees:
            i = 0
            while feature[i] >= 0:
                v = row[feature[i]]
                if v != v:
                    j = left[i] if missing_left[i] else right[i]
                else:
                    j = left[i] if v <= threshold[i] else right[i]
                name = self.names[feature[i]]
                out[name] = out.get(name, 0.0) + value[j] - value[i]
                i = j
        return out

    def learn(self, x: dict[str, float], y: bool) -> None:
        return None
