"""read_jsonl: one (line number, object or reason) per non-blank line; a bad line never stops the next."""

from __future__ import annotations

from editsearch.core.jsonl import read_jsonl


def test_each_line_is_an_object_or_its_reason(tmp_path):
    path = tmp_path / "rows.jsonl"
    lines = [b'\xef\xbb\xbf{"a": 1}', b"", b"{not json", b"[1, 2]", b'{"b": "\xff"}', b"   ", b'{"c": 3}']
    path.write_bytes(b"\n".join(lines) + b"\n")
    rows = list(read_jsonl(path))
    assert [n for n, _ in rows] == [1, 3, 4, 5, 7]
    assert rows[0] == (1, {"a": 1})  # a UTF-8 byte-order mark on the first line is not part of the JSON
    assert rows[1][1].startswith("invalid JSON:") and "(column 2)" in rows[1][1]
    assert rows[2][1] == "expected a JSON object, got list"
    assert rows[3][1] == "line is not valid UTF-8"
    assert rows[4] == (7, {"c": 3})
