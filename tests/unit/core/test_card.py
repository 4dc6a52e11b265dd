"""The model card renderer: what it says with and without the spec's card, slices, gates and approvals."""

from __future__ import annotations

from pathlib import Path

from mlops.core.card import Approval, card_path, render_card
from mlops.core.policy import GateResult
from mlops.core.repo import load_repository
from mlops.core.spec.record import VersionRecord
from tests.helpers.records import record_body


def test_a_card_with_everything(example_repo: Path) -> None:
    spec = load_repository(example_repo, records=False).model("cancer-mlp")
    body = record_body("cancer-mlp", "20250101-aaaaaaaa", slices={
        "small": {"rows": 40, "metrics": {"accuracy": 1.0}, "intervals": {"accuracy": [1.0, 1.0]}},
        "medium": {"rows": 50, "metrics": {"accuracy": 0.9}, "intervals": {"accuracy": [0.8, 0.96]}}})
    record = VersionRecord.model_validate(body)
    gate = GateResult(name="min-accuracy", metric="accuracy", source="model", rule="≥ 0.92", passed=False,
                      reason="accuracy 0.9 < min 0.92 | pipe", value=0.9)
    text = render_card(spec, record, gates={"dev": (gate,), "prod": ()}, gates_when="now",
                       approvals=[Approval("dev", "2026-12-01 10:00 UTC", 3, ("alice",)),
                                  Approval("staging", "2026-12-02 10:00 UTC", None, ())])
    assert text.startswith("# Model card: cancer-mlp @ 20250101-aaaaaaaa\n")
    assert "Not a medical device" in text and "| medium | 50 | 0.9000 [0.800, 0.960] |" in text
    assert "| dev | min-accuracy | ≥ 0.92 | ❌ accuracy 0.9 < min 0.92 \\| pipe |" in text  # cells escaped
    assert "| prod | — | no gates | ✅ |" in text
    assert "- **dev** 2026-12-01 10:00 UTC: pull request #3, approved by alice" in text
    assert "- **staging** 2026-12-02 10:00 UTC: a direct commit, no approving review" in text
    assert card_path("cancer-mlp", "v") == "models/cancer-mlp/versions/v.md"


def test_a_card_without_the_specs_card_says_what_is_missing(example_repo: Path) -> None:
    spec_file = example_repo / "models" / "cancer-mlp" / "model.yaml"
    text = spec_file.read_text()
    spec_file.write_text(text[: text.index("# What the model card")])
    spec = load_repository(example_repo, records=False).model("cancer-mlp")
    record = VersionRecord.model_validate(record_body("cancer-mlp", "20250101-aaaaaaaa"))
    card = render_card(spec, record)
    assert "_Not stated (`card.intended_use` in model.yaml)._" in card and "a card without limitations is " \
        "incomplete" in card
    assert "## Gates" not in card and "## How it got" not in card and "## Metrics per slice" not in card
