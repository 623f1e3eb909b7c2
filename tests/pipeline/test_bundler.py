"""`archbench bundle` on real models and datasets: the schema it derives fits the data, the bundle
predicts what the model does, and every mistake is one line, exit 1, with nothing written."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from pipeline import bundle as bundles
from pipeline.bundler import from_files
from pipeline.records import Batch
from pipeline.stages import features, score, validate
from tests.bundles import SPECS, TEXT_TYPES, Made, save_data, save_model

ARCHBENCH = [sys.executable, "-m", "archbench"]
NAMES = list(SPECS)


def bundle_command(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    """The real `archbench bundle` in a process of its own."""
    return subprocess.run(
        [*ARCHBENCH, "bundle", *map(str, argv)], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("name", NAMES)
def test_the_command_says_what_it_wrote(made_bundles: dict[str, Made], name: str) -> None:
    made = made_bundles[name]
    metadata = json.loads((made.directory / bundles.METADATA_FILE).read_text())
    sha = hashlib.sha256(made.model_file.read_bytes()).hexdigest()
    n = len(made.inputs)
    assert made.printed == (
        f"model bundle written to {made.directory}: {name} 2.1, {made.spec.task}, "
        f"{n} records, model sha256 {sha[:12]}\n"
    )
    assert metadata["task"] == made.spec.task and metadata["model_sha256"] == sha
    assert metadata["target"] == made.spec.target
    expected_file = bundles.PICKLE_FILE if made.model_file.suffix == ".joblib" else "model.skops"
    assert bundles.model_file(made.directory) == expected_file
    assert (made.directory / expected_file).read_bytes() == made.model_file.read_bytes()


@pytest.mark.parametrize("name", NAMES)
def test_the_derived_schema_fits_the_data(made_bundles: dict[str, Made], name: str) -> None:
    made = made_bundles[name]
    schema = bundles.load(made.directory, with_model=False).schema
    x = made.inputs
    # every column, its name exactly as in the data, in the data's order; the target left out
    assert schema.names == tuple(x.columns) and made.spec.target not in schema.names
    assert schema.frame
    assert {f.name: f.kind for f in schema.fields} == made.spec.kinds
    assert {f.name for f in schema.fields if f.nullable} == {c for c in x if x[c].isna().any()}
    for field in schema.fields:
        present = x[field.name].dropna()
        if field.kind in ("numeric", "integer"):
            assert field.min is not None and field.max is not None
            assert field.min <= present.min() and present.max() <= field.max, field.name
        elif field.kind == "categorical":
            assert field.categories == tuple(sorted(set(present))), field.name
        elif field.kind == "text":
            assert field.max_length is not None
            assert field.max_length >= present.str.len().max(), field.name


def test_missing_values_text_and_booleans_are_in_the_schema(made_bundles: dict[str, Made]) -> None:
    fields = {
        f.name: f for f in bundles.load(made_bundles["penguins-missing"].directory).schema.fields
    }
    assert fields["Delta 15 N (o/oo)"].nullable and fields["Sex"].nullable
    assert fields["Sex"].categories == ("FEMALE", "MALE")
    assert fields["Comments"].kind == "text" and fields["Comments"].nullable
    # the longest comment is 68 characters; free text may be twice that
    assert fields["Comments"].max_length == 136
    assert fields["Clutch Completion"].kind == "boolean"
    assert not fields["Clutch Completion"].nullable and not fields["Island"].nullable


@pytest.mark.parametrize("name", NAMES)
def test_records_are_the_inputs_without_the_target(
    made_bundles: dict[str, Made], name: str
) -> None:
    made = made_bundles[name]
    records = bundles.records(made.directory)
    assert 0 < len(records) <= bundles.MAX_RECORDS
    x = made.inputs
    expected = [
        {k: None if pd.isna(v) else v for k, v in row.items()} for row in x.to_dict("records")
    ]
    assert records == expected


@pytest.mark.parametrize("name", NAMES)
def test_the_bundle_predicts_what_the_model_does(made_bundles: dict[str, Made], name: str) -> None:
    made = made_bundles[name]
    bundle = bundles.load(made.directory)
    records = bundles.records(made.directory)
    answered = score(bundle, features(bundle, validate(bundle, Batch(records)))).predictions
    model, x = made.spec.model, made.inputs
    if made.spec.task == "classifier":
        assert [p.label for p in answered] == [str(c) for c in model.predict(x)]
        best = model.predict_proba(x).max(axis=1)
        assert [p.probability for p in answered] == pytest.approx(best.tolist(), rel=1e-9)
        assert all(p.value is None for p in answered)
    else:
        assert [p.value for p in answered] == pytest.approx(model.predict(x).tolist(), rel=1e-9)
        assert all(p.label is None and p.probability is None for p in answered)


def test_a_large_sample_keeps_ten_thousand_records(
    made_bundles: dict[str, Made], tmp_path: Path
) -> None:
    made = made_bundles["diabetes"]
    frame = pd.concat([made.spec.frame] * 23, ignore_index=True)
    data = save_data(frame, tmp_path / "large.csv")
    metadata = from_files(made.model_file, data, tmp_path / "bundle", target="target")
    assert metadata["n_sample_rows"] == len(frame) > bundles.MAX_RECORDS
    records = bundles.records(tmp_path / "bundle")
    assert metadata["n_records"] == len(records) == bundles.MAX_RECORDS
    assert all("target" not in r for r in records)


def test_trusting_the_listed_types_makes_the_bundle(
    made_bundles: dict[str, Made], tmp_path: Path
) -> None:
    made = made_bundles["penguins-missing"]
    out = tmp_path / "bundle"
    trust = ",".join(TEXT_TYPES)
    done = bundle_command(
        made.model_file,
        "--data",
        made.data_file,
        "--target",
        "Species",
        "--out",
        out,
        "--trust",
        trust,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.startswith(
        f"model bundle written to {out}: model 1, classifier, 344 records"
    )
    loaded = bundles.load(out)
    assert loaded.metadata["trusted_types"] == list(TEXT_TYPES)


# Each bad case: given the made bundles and a scratch folder, the command's arguments (before
# --out) and the phrases its one line must hold.
Case = Callable[[dict[str, Made], Path], tuple[list[str | Path], list[str]]]


def _unfitted(made: dict[str, Made], tmp: Path) -> tuple[list[str | Path], list[str]]:
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    path = save_model(Pipeline([("scale", StandardScaler()), ("score", Ridge())]), tmp / "u.skops")
    data = made["diabetes"].data_file
    return [path, "--data", data, "--target", "target"], ["the Pipeline", "is not fitted"]


def _holding(value: object, kind: str) -> Case:
    def case(made: dict[str, Made], tmp: Path) -> tuple[list[str | Path], list[str]]:
        path = save_model(value, tmp / "plain.skops")
        data = made["diabetes"].data_file
        expected = f"holds a {kind}, not a fitted scikit-learn Pipeline or estimator"
        return [path, "--data", data, "--target", "target"], [expected]

    return case


def _columns(made: dict[str, Made], tmp: Path) -> tuple[list[str | Path], list[str]]:
    frame = made["penguins-names"].spec.frame.rename(columns={"Delta 15 N (o/oo)": "Delta 15N"})
    data = save_data(frame.assign(Comments="none"), tmp / "renamed.csv")
    argv: list[str | Path] = [made["penguins-names"].model_file, "--data", data]
    expected = (
        "the data's columns do not match what the model expects "
        "(missing: Delta 15 N (o/oo); extra: Delta 15N, Comments)"
    )
    return [*argv, "--target", "Species"], [expected]


def _target(made: dict[str, Made], tmp: Path) -> tuple[list[str | Path], list[str]]:
    argv: list[str | Path] = [made["diabetes"].model_file, "--data", made["diabetes"].data_file]
    return [*argv, "--target", "progression"], ["target column 'progression' is not in the data"]


def _pickle(made: dict[str, Made], tmp: Path) -> tuple[list[str | Path], list[str]]:
    forest = made["cancer-forest"]
    argv: list[str | Path] = [forest.model_file, "--data", forest.data_file, "--target", "target"]
    return argv, [f"{forest.model_file} is a pickle", "pass --trust-pickle if you trust it"]


def _untrusted(trust: list[str], listed: str) -> Case:
    def case(made: dict[str, Made], tmp: Path) -> tuple[list[str | Path], list[str]]:
        text = made["penguins-missing"]
        argv: list[str | Path] = [text.model_file, "--data", text.data_file, "--target", "Species"]
        expected = f"holds types skops does not trust by default: {listed}; "
        return [*argv, *trust], [expected, f"--trust {listed.replace(', ', ',')}"]

    return case


def _model_suffix(made: dict[str, Made], tmp: Path) -> tuple[list[str | Path], list[str]]:
    path = tmp / "model.onnx"
    path.write_bytes(made["diabetes"].model_file.read_bytes())
    argv: list[str | Path] = [path, "--data", made["diabetes"].data_file, "--target", "target"]
    return argv, ["unknown model file type '.onnx'; use .skops, or .joblib/.pkl"]


def _data_suffix(made: dict[str, Made], tmp: Path) -> tuple[list[str | Path], list[str]]:
    data = tmp / "data.xlsx"
    data.write_bytes(made["diabetes"].data_file.read_bytes())
    argv: list[str | Path] = [made["diabetes"].model_file, "--data", data, "--target", "target"]
    return argv, ["unknown data file type '.xlsx'; use .csv or .parquet"]


def _not_skops(made: dict[str, Made], tmp: Path) -> tuple[list[str | Path], list[str]]:
    path = tmp / "model.skops"
    path.write_text("not a zip file\n")
    argv: list[str | Path] = [path, "--data", made["diabetes"].data_file, "--target", "target"]
    return argv, [f"{path} is not a skops file"]


def _split(made: dict[str, Made], tmp: Path) -> tuple[list[str | Path], list[str]]:
    argv: list[str | Path] = [made["diabetes"].model_file, "--data", made["diabetes"].data_file]
    expected = "unknown step 'nope' for --split; the pipeline's steps: scale, score"
    return [*argv, "--target", "target", "--split", "nope"], [expected]


BAD: dict[str, Case] = {
    "unfitted pipeline": _unfitted,
    "a dict": _holding({"coef": [1.0, 2.0]}, "dict"),
    "a list": _holding([1, 2, 3], "list"),
    "columns do not match": _columns,
    "no such target": _target,
    "pickle without --trust-pickle": _pickle,
    "untrusted types": _untrusted([], "numpy.dtype, numpy.ravel"),
    "one type still untrusted": _untrusted(["--trust", "numpy.ravel"], "numpy.dtype"),
    "unknown model suffix": _model_suffix,
    "unknown data suffix": _data_suffix,
    "not a skops file": _not_skops,
    "unknown split step": _split,
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_mistake_is_one_line_and_writes_nothing(
    made_bundles: dict[str, Made], tmp_path: Path, case: str
) -> None:
    argv, phrases = BAD[case](made_bundles, tmp_path)
    out = tmp_path / "bundle"
    done = bundle_command(*argv, "--out", out)
    assert done.returncode == 1, done.stdout
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("archbench: "), done.stderr
    for phrase in phrases:
        assert phrase in lines[0]
    assert done.stdout == "" and not out.exists()


def test_a_folder_with_other_files_is_left_unchanged(
    made_bundles: dict[str, Made], tmp_path: Path
) -> None:
    made = made_bundles["diabetes"]
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me\n")
    done = bundle_command(
        made.model_file, "--data", made.data_file, "--target", "target", "--out", out
    )
    assert done.returncode == 1
    assert (
        done.stderr
        == f"archbench: {out} is a folder with other files; choose an empty or new one\n"
    )
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert (out / "notes.txt").read_text() == "keep me\n"


def _island_model(frame: pd.DataFrame, target: str) -> object:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    inputs = frame.drop(columns=[target])
    numeric = [c for c in inputs.columns if c != "Island"]
    columns = ColumnTransformer(
        [
            ("island", OneHotEncoder(handle_unknown="ignore"), ["Island"]),
            ("numbers", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ]
    )
    model = Pipeline([("features", columns), ("score", LogisticRegression(max_iter=500))])
    return model.fit(inputs, frame[target])


def test_pandas_missing_values_are_null_in_the_records(tmp_path: Path) -> None:
    # A nullable integer column keeps pandas' NA through Parquet: it must be null on the wire.
    from tests.bundles import penguins_raw

    raw = penguins_raw()
    frame = pd.DataFrame(
        {
            "Island": raw["Island"],
            "Flipper Length (mm)": raw["Flipper Length (mm)"].astype("Int64"),
            "Species": raw["Species"],
        }
    )
    assert frame["Flipper Length (mm)"].isna().sum() == 2
    model = save_model(_island_model(frame, "Species"), tmp_path / "model.skops")
    data = save_data(frame, tmp_path / "data.parquet")
    from_files(model, data, tmp_path / "bundle", target="Species", trust=["numpy.dtype"])
    records = bundles.records(tmp_path / "bundle")
    missing = [r for r in records if r["Flipper Length (mm)"] is None]
    assert len(missing) == 2 and all(isinstance(r["Island"], str) for r in missing)
    field = bundles.load(tmp_path / "bundle", with_model=False).schema.fields[1]
    assert field.kind == "integer" and field.nullable and float(field.min).is_integer()


def test_padded_strings_become_the_categories_the_api_accepts(tmp_path: Path) -> None:
    # The ingest stage trims every string: the sample's categories are trimmed alike, so the
    # bundle's own records pass its own API.
    from pipeline.stages import ingest
    from tests.bundles import penguins_raw

    raw = penguins_raw()
    frame = pd.DataFrame(
        {
            "Island": " " + raw["Island"],
            "Culmen Length (mm)": raw["Culmen Length (mm)"],
            "Species": raw["Species"],
        }
    )
    model = save_model(_island_model(frame, "Species"), tmp_path / "model.skops")
    data = save_data(frame, tmp_path / "data.csv")
    done = bundle_command(
        model, "--data", data, "--target", "Species", "--out", tmp_path / "bundle",
        "--trust", "numpy.dtype",
    )  # fmt: skip
    # the model was fitted on the padded values: trimmed, they are unknown to its encoder
    # (handle_unknown="ignore"), and still every row predicts
    assert done.returncode == 0, done.stderr
    loaded = bundles.load(tmp_path / "bundle")
    assert loaded.schema.fields[0].categories == ("Biscoe", "Dream", "Torgersen")
    for record in bundles.records(tmp_path / "bundle")[:20]:
        body = json.dumps(record).encode()
        validate(loaded, ingest(loaded, body))


def test_a_forgotten_target_is_named(made_bundles: dict[str, Made], tmp_path: Path) -> None:
    made = made_bundles["diabetes"]
    done = bundle_command(made.model_file, "--data", made.data_file, "--out", tmp_path / "out")
    assert done.returncode == 1 and not (tmp_path / "out").exists()
    assert done.stderr == (
        "archbench: the data's columns do not match what the model expects (extra: target); "
        "if target is the target, name it with --target\n"
    )
