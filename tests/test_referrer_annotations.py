"""The memo of referrer annotations (registry_model/referrer_annotations.py)."""
import json

from registry_model import referrer_annotations
from registry_model.referrer_annotations import MEMO, MEMO_MAX, annotations_of


def _bytes(annotations) -> bytes:
    return json.dumps({"schemaVersion": 2, "annotations": annotations}).encode()


def test_the_bytes_decide_and_the_memo_keeps_what_it_parsed():
    digest = "sha256:" + "ef" * 32
    first = annotations_of(digest, _bytes({"a": "1"}))
    assert first == {"a": "1"}
    assert annotations_of(digest, _bytes({"a": "1"})) is first  # parsed once
    assert annotations_of(digest, _bytes({"b": "2"})) == {"b": "2"}  # other bytes: read again
    assert annotations_of("sha256:" + "01" * 32, _bytes(None)) == {}


def test_the_memo_is_bounded(monkeypatch):
    monkeypatch.setattr(referrer_annotations, "MEMO_MAX", 3)
    MEMO.clear()
    for index in range(7):
        annotations_of("sha256:%064x" % index, _bytes({"i": str(index)}))
        assert len(MEMO) <= 3
    assert MEMO_MAX == 2048
