"""The hand-back block: files through a pod's log, found among other lines, damage detected."""

from __future__ import annotations

import pytest

from mlops.train import handback
from mlops.train.handback import BEGIN, END, Collector, decode, encode

FILES = {"models/m/versions/v.yaml": "model: m\nnote: ünïcode ✓\n" * 40, "models/m/versions/v.dvc": "outs: []\n"}


def test_encode_decode_round_trip() -> None:
    lines = encode(FILES)
    assert lines[0] == BEGIN and lines[-1].startswith(f"{END} sha256:")
    assert all(len(line) <= handback.WIDTH for line in lines[1:-1])
    assert decode(lines[1:-1], lines[-1]) == FILES
    assert encode(dict(reversed(FILES.items()))) == lines  # stable


@pytest.mark.parametrize(("damage", "message"), [
    (lambda b: b[:1] + b[2:], "checksum does not match"),
    (lambda b: [b[0][:-1] + ("A" if b[0][-1] != "A" else "B"), *b[1:]], "checksum does not match"),
    (lambda b: ["not base64 at all!", *b], "not base64"),
])
def test_damage_is_detected(damage: object, message: str) -> None:
    lines = encode(FILES)
    body = damage(lines[1:-1])  # type: ignore[operator]
    with pytest.raises(ValueError, match=message):
        decode(body, lines[-1])


def test_collector_hides_blocks_and_keeps_the_last_one_per_pod() -> None:
    collector = Collector()
    first, second = encode({"a.yaml": "1"}), encode({"a.yaml": "2"})
    shown = []
    feed = [("index 0", "epoch 1"), *(("index 0", x) for x in first), ("index 1", "rank 1 done"),
            *(("index 0", x) for x in second), ("index 0", "bye")]
    for label, line in feed:
        if collector.feed(label, line):
            shown.append(f"{label}: {line}")
    assert shown == ["index 0: epoch 1", "index 1: rank 1 done", "index 0: bye"]
    assert collector.last("index 0") == {"a.yaml": "2"} and collector.last("index 1") is None
    assert collector.errors == []


def test_collector_notes_damaged_unfinished_and_oversized_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    collector = Collector()
    lines = encode(FILES)
    for line in [*lines[:2], *lines[3:]]:
        collector.feed("index 0", line)
    assert collector.last("index 0") is None
    assert collector.errors == ["index 0: the block's checksum does not match (a log line was lost or altered)"]
    for line in lines[:-1]:  # no end: a stream that stopped inside the block
        collector.feed("index 1", line)
    assert collector.last("index 1") is None
    monkeypatch.setattr(handback, "MAX_BYTES", 100)
    big = Collector()
    assert [big.feed("index 0", line) for line in lines[:4]] == [False, False, True, True]
    assert big.errors == ["index 0: a block larger than 100 bytes was refused"]
