"""`mlops labels ingest`: exit 0 and one new file; every bad line printed as file:line:col, exit 1; usage exit 2."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli


def test_ingest_into_the_default_sink_then_again_is_a_no_op(example_repo: Path) -> None:
    labels = example_repo / "labels.csv"
    labels.write_text("request_id,label,timestamp\nr-1,7,2025-01-01T12:00:00Z\nr-2,3,\n")
    first = run_cli("labels", "ingest", str(labels), "--model", "digits-cnn", "--repo", str(example_repo))
    assert first.code == 0, first.err
    assert "ingested 2 labels for digits-cnn into" in first.out
    (written,) = (example_repo / ".mlops" / "labels" / "digits-cnn").glob("labels-digits-cnn-*.jsonl")
    assert written.read_text().count("\n") == 2
    again = run_cli("labels", "ingest", str(labels), "--model", "digits-cnn", "--repo", str(example_repo))
    assert again.code == 0 and again.out.startswith("already ingested: 2 labels")


def test_bad_lines_are_all_reported_and_nothing_is_written(example_repo: Path) -> None:
    labels = example_repo / "labels.jsonl"
    labels.write_text('{"request_id": "a", "label": 1}\n{"request_id": "b"}\n{"request_id": "c", "label": 2, '
                      '"timestamp": "soon"}\n')
    result = run_cli("labels", "ingest", str(labels), "--model", "digits-cnn", "--repo", str(example_repo))
    assert result.code == 1
    assert result.err.splitlines() == [
        f"{labels}:2:1: label is missing; expected the true class or value",
        f"{labels}:3:1: timestamp 'soon' is not ISO 8601 or Unix seconds; expected e.g. 2025-01-01T12:00:00Z"]
    assert not (example_repo / ".mlops" / "labels").exists()


def test_unknown_model_and_usage_errors(example_repo: Path) -> None:
    labels = example_repo / "labels.csv"
    labels.write_text("request_id,label\nr,1\n")
    unknown = run_cli("labels", "ingest", str(labels), "--model", "nope", "--repo", str(example_repo))
    assert unknown.code == 1 and "no model 'nope'; expected one of: cancer-mlp, digits-cnn" in unknown.err
    assert run_cli("labels", "ingest", str(labels), "--repo", str(example_repo)).code == 2  # no --model
    txt = example_repo / "labels.txt"
    txt.write_text("x")
    assert run_cli("labels", "ingest", str(txt), "--model", "digits-cnn", "--repo", str(example_repo)).code == 2
    assert "mlops labels ingest labels.csv --model digits-cnn" in run_cli("labels", "--help").out


def test_env_puts_labels_where_the_environment_says(example_repo: Path) -> None:
    labels = example_repo / "labels.csv"
    labels.write_text("request_id,label\nr-1,7\n")
    default = run_cli("labels", "ingest", str(labels), "--model", "digits-cnn", "--env", "dev", "--repo",
                      str(example_repo))
    assert default.code == 0, default.err  # dev's labels: .mlops/labels/dev/<model>
    assert len(list((example_repo / ".mlops/labels/dev/digits-cnn").glob("labels-digits-cnn-*.jsonl"))) == 1
    prod = example_repo / "environments" / "prod.yaml"
    prod.write_text(prod.read_text().replace("labels: s3://mlops-prod-data/labels", "labels: prod-data/labels"))
    moved = run_cli("labels", "ingest", str(labels), "--model", "digits-cnn", "--env", "prod", "--repo",
                    str(example_repo))
    assert moved.code == 0, moved.err
    assert str(example_repo / "prod-data" / "labels" / "digits-cnn" / "labels-digits-cnn-") in moved.out
    both = run_cli("labels", "ingest", str(labels), "--model", "digits-cnn", "--env", "prod", "--sink", "x",
                   "--repo", str(example_repo))
    assert both.code == 2 and "not allowed with argument" in both.err
    unknown = run_cli("labels", "ingest", str(labels), "--model", "digits-cnn", "--env", "nope", "--repo",
                      str(example_repo))
    assert unknown.code == 1 and "nope" in unknown.err and "Traceback" not in unknown.err
