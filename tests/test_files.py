"""Safe writing: exclusive temp files never follow a planted link, failures leave the target as it was."""

from __future__ import annotations

import os

import pytest

from editsearch.core.errors import UsageError
from editsearch.core.files import atomic_path, exclusive_temp, refuse_inside, write_atomic


def test_write_atomic_never_follows_a_planted_temp_link(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    target = tmp_path / "summary.json"
    for name in (f"{target.name}.tmp", f".{target.name}.tmp", f".{target.name}.{os.getpid()}.tmp"):
        (tmp_path / name).symlink_to(victim)  # every fixed name a writer once used
    write_atomic(target, '{"ok": true}\n')
    assert victim.read_text() == "keep me"
    assert target.read_text() == '{"ok": true}\n'
    assert not target.is_symlink()


def test_exclusive_temp_is_new_each_time(tmp_path):
    target = tmp_path / "out.parquet"
    first, second = exclusive_temp(target), exclusive_temp(target)
    assert first != second and first.parent == tmp_path and first.stat().st_size == 0


def test_written_files_take_the_umask_mode_not_mkstemps_0600(tmp_path):
    old = os.umask(0o022)
    try:
        target = write_atomic(tmp_path / "vectors.json", "{}")
    finally:
        os.umask(old)
    assert target.stat().st_mode & 0o777 == 0o644


def test_atomic_path_leaves_the_old_file_on_error(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_refuse_inside_an_index_folder(tmp_path):
    index = tmp_path / "idx"
    index.mkdir()
    (tmp_path / "link").symlink_to(index)
    for path in (index, index / "catalog.db", index / "new" / "map.png", tmp_path / "link" / "catalog.db"):
        with pytest.raises(UsageError, match="index folder"):
            refuse_inside(path, index, "--png")
    refuse_inside(tmp_path / "map.png", index, "--png")  # beside the index: fine
    refuse_inside(tmp_path, index, "--out")  # the folder holding the index: fine


def test_a_missing_folder_is_reported_by_the_target_name(tmp_path):
    target = tmp_path / "no" / "such" / "out.csv"
    with pytest.raises(FileNotFoundError) as caught:
        write_atomic(target, "x")
    assert caught.value.filename == str(target)
