"""Build a model bundle deterministically from the bundled penguins dataset.

Three variants share the preprocessing and differ in the estimator's weight: `light` (a linear
model), `medium` (gradient boosting: the demo model) and `heavy` (a large random forest).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline import bundle, dataset, schema

SEED = 20261126
VARIANTS = ("light", "medium", "heavy")
DEFAULT_VARIANT = "medium"


def estimator(variant: str) -> tuple[str, str, Any]:
    """The variant's (model name, description, unfitted estimator); single-threaded, seeded."""
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    if variant == "light":
        return "penguins-lr", "LogisticRegression(max_iter=1000)", LogisticRegression(max_iter=1000)
    if variant == "medium":
        return (
            "penguins-gbc",
            "GradientBoostingClassifier(n_estimators=100, max_depth=3)",
            GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=SEED),
        )
    if variant == "heavy":
        return (
            "penguins-rf",
            "RandomForestClassifier(n_estimators=300)",
            RandomForestClassifier(n_estimators=300, n_jobs=1, random_state=SEED),
        )
    raise ValueError(f"unknown model variant {variant!r}; choose one of: {', '.join(VARIANTS)}")


def train(directory: Path, variant: str = DEFAULT_VARIANT) -> dict[str, object]:
    """Fit preprocessing and estimator, derive the schema, save the bundle; return its metadata."""
    import numpy as np
    import sklearn
    from sklearn.compose import ColumnTransformer
    from sklearn.metrics import accuracy_score, log_loss
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rows = dataset.records()
    x = np.array([[r[name] for name in dataset.INPUTS] for r in rows], dtype=object)
    y = np.array([r[dataset.TARGET] for r in rows])
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=SEED, stratify=y
    )
    categorical = [dataset.INPUTS.index(n) for n in dataset.CATEGORICAL]
    numeric = [dataset.INPUTS.index(n) for n in dataset.NUMERIC]
    preprocess = ColumnTransformer(
        [
            (
                "categorical",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                categorical,
            ),
            ("numeric", StandardScaler(), numeric),
        ]
    )
    name, description, fitted = estimator(variant)
    model = Pipeline([("features", preprocess), ("score", fitted)])
    model.fit(x_train, y_train)

    columns = {name: [r[name] for r in rows] for name in dataset.INPUTS}
    input_schema = schema.derive(columns, dataset.CATEGORICAL)
    metadata: dict[str, object] = {
        "name": name,
        "variant": variant,
        "version": "1.0.0",
        "dataset": dataset.NAME,
        "n_train": len(y_train),
        "n_test": len(y_test),
        "target": dataset.TARGET,
        "classes": sorted(set(y.tolist())),
        # What a degraded answer predicts when the model cannot run (the gateway's fallback).
        "class_prior": {
            str(c): round(float(n) / len(y_train), 4)
            for c, n in zip(*np.unique(y_train, return_counts=True), strict=True)
        },
        "estimator": description,
        "seed": SEED,
        "scikit_learn": sklearn.__version__,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "metrics": {
            "accuracy": round(float(accuracy_score(y_test, model.predict(x_test))), 4),
            "log_loss": round(float(log_loss(y_test, model.predict_proba(x_test))), 4),
        },
    }
    bundle.save(directory, model, input_schema, metadata)
    return metadata
