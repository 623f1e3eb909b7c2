"""The four stages in-process: shapes accepted, every validation problem named, real predictions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline import dataset
from pipeline.bundle import ModelBundle
from pipeline.errors import InvalidRecords, MalformedBody
from pipeline.records import Batch, Problem
from pipeline.stages import STAGE_NAMES, STAGES, features, ingest, score, stage, through, validate

GOOD = {
    "island": "Biscoe",
    "bill_length_mm": 45.1,
    "bill_depth_mm": 14.5,
    "flipper_length_mm": 215,
    "body_mass_g": 5000,
    "sex": "female",
}


def problems_of(model: ModelBundle, body: object) -> list[Problem]:
    with pytest.raises(InvalidRecords) as caught:
        validate(model, ingest(model, json.dumps(body).encode()))
    return caught.value.problems


def test_stage_order_is_defined_once() -> None:
    assert STAGE_NAMES == ("ingest", "validate", "features", "score")
    assert [s.name for s in through("validate")] == ["ingest", "validate"]
    # each stage's output type is the next stage's input type: the wire contract lines up
    for before, after in zip(STAGES, STAGES[1:], strict=False):
        assert before.output_type is after.input_type
    with pytest.raises(KeyError, match="choose one of: ingest, validate, features, score"):
        stage("scoring")


def test_ingest_accepts_one_record_or_a_batch(model: ModelBundle) -> None:
    assert ingest(model, json.dumps(GOOD).encode()).records == [GOOD]
    batch = ingest(model, json.dumps({"records": [GOOD, GOOD]}).encode())
    assert batch.records == [GOOD, GOOD]
    padded = ingest(model, json.dumps({**GOOD, "island": "  Dream "}).encode())
    assert padded.records[0]["island"] == "Dream"


@pytest.mark.parametrize("body", [b"{bad", b"", b"[", b'{"a": }', b"nul", b'{"a": NaN}'])
def test_ingest_rejects_malformed_json(model: ModelBundle, body: bytes) -> None:
    with pytest.raises(MalformedBody, match="not valid JSON"):
        ingest(model, body)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([GOOD], "body"),
        ("text", "body"),
        (3, "body"),
        (None, "body"),
        ({"records": GOOD}, "records"),
        ({"records": [GOOD], "extra": 1}, "extra"),
    ],
)
def test_ingest_names_the_wrong_shape(model: ModelBundle, body: object, field: str) -> None:
    with pytest.raises(InvalidRecords) as caught:
        ingest(model, json.dumps(body).encode())
    assert [p.field for p in caught.value.problems] == [field]


def test_validate_reports_every_problem_with_its_field(model: ModelBundle) -> None:
    record = {
        "island": "Atlantis",
        "bill_length_mm": "45",
        "bill_depth_mm": True,
        "flipper_length_mm": 9999,
        "sex": 1,
        "colour": "blue",
    }
    problems = {p.field: p.problem for p in problems_of(model, record)}
    assert problems == {
        "island": "must be one of: Biscoe, Dream, Torgersen",
        "bill_length_mm": "must be a number",
        "bill_depth_mm": "must be a number",
        "flipper_length_mm": "must be between 142.5 and 260.5",
        "body_mass_g": "is required",
        "sex": "must be a string, one of: female, male",
        "colour": "is not a model input",
    }


def test_validate_names_records_in_a_batch(model: ModelBundle) -> None:
    bad = {**GOOD, "body_mass_g": -5}
    problems = problems_of(model, {"records": [GOOD, bad, "x"]})
    assert [p.field for p in problems] == ["records[1].body_mass_g", "records[2]"]


def test_validate_bounds_batch_size(model: ModelBundle) -> None:
    assert [p.field for p in problems_of(model, {"records": []})] == ["records"]
    too_many = {"records": [GOOD] * (model.limits.max_records + 1)}
    assert problems_of(model, too_many) == [
        Problem("records", f"must hold at most {model.limits.max_records} records")
    ]


def test_validate_normalises_categories_and_numbers(model: ModelBundle) -> None:
    rows = validate(model, Batch([{**GOOD, "island": "biscoe", "sex": "FEMALE"}])).rows
    assert rows == [["Biscoe", 45.1, 14.5, 215.0, 5000.0, "female"]]


def test_pipeline_predicts_the_dataset(model: ModelBundle) -> None:
    rows = dataset.records()
    inputs = [{k: r[k] for k in dataset.INPUTS} for r in rows]
    value: object = json.dumps({"records": inputs[:200]}).encode()
    for s in STAGES:
        value = s.run(model, value)
    labels = [p.label for p in value.predictions]  # type: ignore[attr-defined]
    truth = [r[dataset.TARGET] for r in rows[:200]]
    assert np.mean(np.array(labels) == np.array(truth)) > 0.95
    assert all(0.0 < p.probability <= 1.0 for p in value.predictions)  # type: ignore[attr-defined]
    assert value.model_version == model.version  # type: ignore[attr-defined]


def test_features_and_score_agree_with_the_fitted_pipeline(model: ModelBundle) -> None:
    valid = validate(model, Batch([GOOD]))
    matrix = features(model, valid).matrix
    assert len(matrix) == 1 and len(matrix[0]) == 9  # 3 islands + 2 sexes + 4 numbers
    prediction = score(model, features(model, valid)).predictions[0]
    x = np.array([[GOOD[name] for name in dataset.INPUTS]], dtype=object)
    expected = model.model.predict_proba(x)[0]
    assert prediction.label == model.model.classes_[expected.argmax()]
    assert prediction.probability == pytest.approx(expected.max(), abs=1e-12)
