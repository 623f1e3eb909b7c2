"""Build the demo's model bundle deterministically from the bundled penguins dataset, through the
same path as `archbench bundle` (pipeline.bundler).

Three variants share the preprocessing and differ in the estimator's weight: `light` (a linear
model), `medium` (gradient boosting: the demo model) and `heavy` (a large random forest). A
`revision` above 0 is a new version of a variant, as a team ships one: the same data, split and
preprocessing (so `features_version` stays the first version's), an estimator with other weights
(another seed and 10% more trees per revision), and version `<1 + revision>.0.0`.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline import bundler, dataset

SEED = 20261126
VARIANTS = ("light", "medium", "heavy")
DEFAULT_VARIANT = "medium"
FIRST_VERSION = "1.0.0"


def estimator(variant: str, revision: int = 0) -> tuple[str, str, Any]:
    """The variant's (model name, description, unfitted estimator); single-threaded, seeded."""
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    if variant == "light":
        # regularisation changes with the revision: a linear model has no seed to change
        c = 1.0 / (1 + revision)
        described = f"LogisticRegression({f'C={c:g}, ' if revision else ''}max_iter=1000)"
        return "penguins-lr", described, LogisticRegression(C=c, max_iter=1000)
    seed = SEED + revision
    if variant == "medium":
        trees = 100 + 10 * revision
        return (
            "penguins-gbc",
            f"GradientBoostingClassifier(n_estimators={trees}, max_depth=3)",
            GradientBoostingClassifier(n_estimators=trees, max_depth=3, random_state=seed),
        )
    if variant == "heavy":
        trees = 300 + 30 * revision
        return (
            "penguins-rf",
            f"RandomForestClassifier(n_estimators={trees})",
            RandomForestClassifier(n_estimators=trees, n_jobs=1, random_state=seed),
        )
    raise ValueError(f"unknown model variant {variant!r}; choose one of: {', '.join(VARIANTS)}")


def train(directory: Path, variant: str = DEFAULT_VARIANT, revision: int = 0) -> dict[str, Any]:
    """Fit preprocessing and estimator, derive the schema, save the bundle; return its metadata
    (`revision`: a new version of the variant, see the module docstring)."""
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
    name, description, fitted = estimator(variant, revision)
    model = Pipeline([("features", preprocess), ("score", fitted)])
    model.fit(x_train, y_train)

    import pandas as pd

    frame = pd.DataFrame([{k: r[k] for k in (*dataset.INPUTS, dataset.TARGET)} for r in rows])
    extra: dict[str, object] = {
        "variant": variant,
        "dataset": dataset.NAME,
        "n_train": len(y_train),
        "n_test": len(y_test),
        "estimator": description,
        "seed": SEED + revision,
        # the preprocessing is fitted on the same split whatever the revision
        "features_version": FIRST_VERSION,
        "scikit_learn": sklearn.__version__,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "metrics": {
            "accuracy": round(float(accuracy_score(y_test, model.predict(x_test))), 4),
            "log_loss": round(float(log_loss(y_test, model.predict_proba(x_test))), 4),
        },
    }
    with tempfile.TemporaryDirectory() as scratch:
        path = bundler.dump_own(model, Path(scratch))
        return bundler.make(
            model,
            frame,
            directory,
            model_file=path,
            name=name,
            version=f"{1 + revision}.0.0",
            target=dataset.TARGET,
            extra=extra,
        )
