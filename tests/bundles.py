"""Real model bundles for the tests, made by `archbench bundle` from datasets shipped inside
installed packages (scikit-learn's, palmerpenguins'): models fitted deterministically, saved with
skops (one with joblib), their data written as CSV (one as Parquet)."""

from __future__ import annotations

import contextlib
import importlib.resources
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

SEED = 20260101
PENGUINS_RAW = "data/penguins-raw.csv"
# penguins_raw's measures, their names kept exactly (spaces, parentheses, a slash)
MEASURES = (
    "Culmen Length (mm)",
    "Culmen Depth (mm)",
    "Flipper Length (mm)",
    "Body Mass (g)",
    "Delta 15 N (o/oo)",
    "Delta 13 C (o/oo)",
)
# what skops does not trust by default in the text pipeline: np.ravel, and the vectorizer's dtype
TEXT_TYPES = ("numpy.dtype", "numpy.ravel")


@dataclass(frozen=True)
class Spec:
    """How one bundle is made: the fitted model and its data (target included), how each is
    saved, the flags `archbench bundle` needs, and the field kinds the schema must come out as."""

    model: Any
    frame: pd.DataFrame
    target: str
    task: str
    kinds: dict[str, str]
    model_suffix: str = ".skops"
    data_suffix: str = ".csv"
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Made:
    """A bundle `archbench bundle` wrote, with what it was made from."""

    name: str
    directory: Path
    model_file: Path
    data_file: Path
    spec: Spec
    printed: str

    @property
    def inputs(self) -> pd.DataFrame:
        """The data as the model takes it: without the target."""
        return self.spec.frame.drop(columns=[self.spec.target])


def penguins_raw() -> pd.DataFrame:
    """palmerpenguins' raw table, as its CSV reads."""
    with importlib.resources.as_file(
        importlib.resources.files("palmerpenguins").joinpath(PENGUINS_RAW)
    ) as path:
        return pd.read_csv(path)


def diabetes() -> Spec:
    """A regressor fitted on a DataFrame: scaling and ridge regression of disease progression."""
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    frame = load_diabetes(as_frame=True).frame
    model = Pipeline([("scale", StandardScaler()), ("score", Ridge(alpha=1.0))])
    model.fit(frame.drop(columns=["target"]), frame["target"])
    kinds = {name: "numeric" for name in frame.columns if name != "target"}
    return Spec(model, frame, "target", "regressor", kinds)


def penguins_names() -> Spec:
    """A classifier whose ColumnTransformer picks penguins_raw's columns by their own names;
    complete rows only, the flipper length as whole numbers."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    columns = ["Island", *MEASURES, "Sex", "Species"]
    frame = penguins_raw()[columns].dropna().reset_index(drop=True)
    frame["Flipper Length (mm)"] = frame["Flipper Length (mm)"].astype("int64")
    features = ColumnTransformer(
        [
            ("numeric", StandardScaler(), list(MEASURES)),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), ["Island", "Sex"]),
        ]
    )
    model = Pipeline([("features", features), ("score", LogisticRegression(max_iter=2000))])
    model.fit(frame.drop(columns=["Species"]), frame["Species"])
    kinds = {name: "numeric" for name in MEASURES}
    kinds.update({"Flipper Length (mm)": "integer", "Island": "categorical", "Sex": "categorical"})
    return Spec(model, frame, "Species", "classifier", kinds)


def penguins_missing() -> Spec:
    """A classifier over every penguins_raw row, missing values and all: measures through a
    median imputer, Sex through the most frequent one and a one-hot encoder, the free-text
    Comments through an imputer to "" and TF-IDF, Clutch Completion as a boolean."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    raw = penguins_raw()
    raw["Clutch Completion"] = raw["Clutch Completion"] == "Yes"
    frame = raw[["Island", *MEASURES, "Sex", "Clutch Completion", "Comments", "Species"]]
    text = make_pipeline(
        SimpleImputer(strategy="constant", fill_value=""),
        # TfidfVectorizer wants one string per row, not a column
        FunctionTransformer(np.ravel),
        TfidfVectorizer(),
    )
    features = ColumnTransformer(
        [
            (
                "numeric",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                MEASURES,
            ),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                ["Island", "Sex"],
            ),
            ("boolean", "passthrough", ["Clutch Completion"]),
            ("text", text, ["Comments"]),
        ]
    )
    model = Pipeline([("features", features), ("score", LogisticRegression(max_iter=2000))])
    model.fit(frame.drop(columns=["Species"]), frame["Species"])
    kinds = {name: "numeric" for name in MEASURES}
    kinds.update(
        {
            "Island": "categorical",
            "Sex": "categorical",
            "Clutch Completion": "boolean",
            "Comments": "text",
        }
    )
    flags = ("--trust", ",".join(TEXT_TYPES))
    return Spec(model, frame, "Species", "classifier", kinds, flags=flags)


def cancer_forest() -> Spec:
    """A heavy model: a 300-tree random forest (one thread, seeded) on the breast cancer table,
    a single estimator rather than a Pipeline; saved with joblib, its data as Parquet."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    frame = load_breast_cancer(as_frame=True).frame
    model = RandomForestClassifier(n_estimators=300, n_jobs=1, random_state=SEED)
    model.fit(frame.drop(columns=["target"]), frame["target"])
    kinds = {name: "numeric" for name in frame.columns if name != "target"}
    return Spec(
        model,
        frame,
        "target",
        "classifier",
        kinds,
        model_suffix=".joblib",
        data_suffix=".parquet",
        flags=("--trust-pickle",),
    )


SPECS: dict[str, Callable[[], Spec]] = {
    "diabetes": diabetes,
    "penguins-names": penguins_names,
    "penguins-missing": penguins_missing,
    "cancer-forest": cancer_forest,
}


def save_model(model: Any, path: Path) -> Path:
    """A fitted model saved as a user would: skops, or joblib for a .joblib path."""
    if path.suffix == ".joblib":
        import joblib

        joblib.dump(model, path)
    else:
        import skops.io

        skops.io.dump(model, path)
    return path


def save_data(frame: pd.DataFrame, path: Path) -> Path:
    """A DataFrame written as CSV or Parquet (by the path's suffix), without its index."""
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


def archbench(argv: list[str]) -> str:
    """Run the real command line in this process; what it printed."""
    from archbench.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(argv)
    return out.getvalue()


def make(name: str, spec: Spec, root: Path) -> Made:
    """Save the spec's model and data under `root`, and bundle them with `archbench bundle`."""
    root.mkdir(parents=True)
    model_file = save_model(spec.model, root / f"model{spec.model_suffix}")
    data_file = save_data(spec.frame, root / f"data{spec.data_suffix}")
    directory = root / "bundle"
    argv = ["bundle", str(model_file), "--data", str(data_file), "--target", spec.target]
    argv += ["--out", str(directory), "--name", name, "--version", "2.1", *spec.flags]
    return Made(name, directory, model_file, data_file, spec, archbench(argv))


_made: dict[int, dict[str, Made]] = {}


def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Made]:
    """Every bundle of SPECS, made once per test session (the pipeline and serving tests share
    them)."""
    key = id(tmp_path_factory)
    if key not in _made:
        root = tmp_path_factory.mktemp("bundles")
        _made[key] = {name: make(name, spec(), root / name) for name, spec in SPECS.items()}
    return _made[key]
