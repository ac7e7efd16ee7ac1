"""Small training sets and fitted models shared by the model, registry and serving tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def frame(n: int = 60, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n),
                      "color": rng.choice(["red", "green", "blue"], size=n)})
    y = pd.Series((X.x1 + (X.color == "red") > 0.3).astype(int), name="label")
    return X, y


def classifier() -> tuple[Any, pd.DataFrame]:
    from sklearn.linear_model import LogisticRegression

    X, y = frame()
    X = X[["x1", "x2"]]
    return LogisticRegression().fit(X, y), X


def regressor() -> tuple[Any, np.ndarray]:
    from sklearn.linear_model import Ridge

    X, _ = frame()
    array = X[["x1", "x2"]].to_numpy()
    return Ridge(alpha=0.5).fit(array, array[:, 0] * 2.0 - array[:, 1]), array


def pipeline() -> tuple[Any, pd.DataFrame]:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X, y = frame()
    prep = ColumnTransformer([("num", StandardScaler(), ["x1", "x2"]),
                              ("cat", OneHotEncoder(handle_unknown="ignore"), ["color"])])
    return Pipeline([("prep", prep), ("clf", LogisticRegression())]).fit(X, y), X


def forest() -> tuple[Any, pd.DataFrame]:
    """A model skops will not vouch for (tree node arrays), so it is pickled."""
    from sklearn.ensemble import RandomForestClassifier

    X, y = frame()
    X = X[["x1", "x2"]]
    return RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y), X
