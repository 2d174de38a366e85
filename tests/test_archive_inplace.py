"""ComicInfo.xml written in place (issue 30): the new tail only, under a journal in a real database;
the copy path for every layout where appending is not safe (GUIDE 2b), with the reason."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest

from bdnex_core.archives import WriteJournal, WriteMethod, WritePolicy, write_comicinfo
from bdnex_core.archives.inplace import JournalEntry, NotAppendable, TakeBack, plan_append, take_back
from bdnex_core.db import BDneXDB
from bdnex_core.errors import ArchiveError
from bdnex_testing.archives import (
    build_cbz,
    jpeg_like,
    raw_members,
    with_cp437_names,
    with_data_descriptors,
    with_prepended_stub,
    with_trailing_data,
    zip64_by_info_zip,
)

NEW_XML = b'<?xml version="1.0" encoding="utf-8"?>\n<ComicInfo><Series>Nains</Series><Number>1</Number></ComicInfo>\n'
OLD_XML = b"<ComicInfo><Series>Stale series name</Series></ComicInfo>"
IN_PLACE = WritePolicy(WriteMethod.IN_PLACE)


@pytest.fixture
def db(tmp_path):
    database = BDneXDB(str(tmp_path / "journal.db"))
    yield database
    database.close()


@pytest.fixture
def journal(db):
    return WriteJournal(db.archive_journal)


def pages_of(path: Path) -> dict:
    return {name: value for name, value in raw_members(path).items() if name.lower() != "comicinfo.xml"}


def readers_accept(path: Path, xml: bytes | None = NEW_XML) -> None:
    """Python's zipfile, 7-Zip and Info-ZIP's unzip read and test the archive (each CRC checked)."""
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        names = [info.filename for info in archive.infolist()]
        assert names.count("ComicInfo.xml") == (xml is not None)
        if xml is not None:
            assert archive.read("ComicInfo.xml") == xml
    for command in (["7zz", "t", str(path)], ["unzip", "-tqq", str(path)]):
        if shutil.which(command[0]) is None:
            pytest.skip(f"{command[0]} is not installed")
        result = subprocess.run(command, capture_output=True, text=True)
        assert result.returncode == 0, f"{command[0]}: {result.stdout[-800:]} {result.stderr[-800:]}"


@pytest.mark.parametrize("comicinfo_at", ["absent", "last"])
@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_only_the_tail_changes_and_every_page_stays(tmp_path, journal, db, comicinfo_at, compression):
    path = build_cbz(
        tmp_path / "book.cbz",
        pages=6,
        compression=compression,
        compressible=True,
        comicinfo=None if comicinfo_at == "absent" else OLD_XML,
    )
    before_bytes = path.read_bytes()
    before = pages_of(path)
    with open(path, "rb") as handle:
        tail_offset = plan_append(handle.fileno(), len(before_bytes), NEW_XML, IN_PLACE).tail_offset
    report = write_comicinfo(path, NEW_XML, policy=IN_PLACE, journal=journal)
    assert report.in_place, report.reason
    after_bytes = path.read_bytes()
    assert after_bytes[:tail_offset] == before_bytes[:tail_offset]  # not one byte before the tail was written
    assert pages_of(path) == before
    assert b"Stale series name" not in after_bytes  # the old ComicInfo was the tail: nothing of it left
    readers_accept(path)
    assert db.archive_journal.pending() == []
    # written again: the ComicInfo is replaced where it is, the file does not grow with each write
    write_comicinfo(path, NEW_XML.replace(b"Nains", b"Naine"), policy=IN_PLACE, journal=journal)
    write_comicinfo(path, NEW_XML, policy=IN_PLACE, journal=journal)
    assert path.read_bytes()[:tail_offset] == before_bytes[:tail_offset]
    assert abs(path.stat().st_size - len(after_bytes)) <= 8
    readers_accept(path)
    # and removed: the file ends where its pages end, plus the directory of the pages
    report = write_comicinfo(path, None, policy=IN_PLACE, journal=journal)
    assert report.in_place
    assert pages_of(path) == before
    readers_accept(path, xml=None)


def test_comicinfo_not_last_goes_through_the_copy_once_then_in_place(tmp_path, journal):
    path = build_cbz(tmp_path / "first.cbz", pages=5, comicinfo=OLD_XML, comicinfo_at=0)
    before = pages_of(path)
    report = write_comicinfo(path, NEW_XML, policy=IN_PLACE, journal=journal)
    assert not report.in_place and report.reason == "ComicInfo.xml is not the last member"
    with zipfile.ZipFile(path) as archive:  # the copy put it last: nothing of the old one, no unused byte
        assert max(archive.infolist(), key=lambda info: info.header_offset).filename == "ComicInfo.xml"
    assert b"Stale series name" not in path.read_bytes()
    assert write_comicinfo(path, NEW_XML + b"<!-- 2 -->", policy=IN_PLACE, journal=journal).in_place
    assert pages_of(path) == before
    readers_accept(path, NEW_XML + b"<!-- 2 -->")


def test_the_compacting_copy_knows_where_data_descriptors_end(tmp_path, journal):
    path = with_data_descriptors(tmp_path / "dd.cbz", pages=4, comicinfo_first=OLD_XML)
    before = pages_of(path)
    report = write_comicinfo(path, NEW_XML, policy=IN_PLACE, journal=journal)
    assert not report.in_place and report.reason == "ComicInfo.xml is not the last member"
    assert pages_of(path) == before
    readers_accept(path)
    with zipfile.ZipFile(path) as archive:  # records follow each other: no byte unused
        infos = sorted(archive.infolist(), key=lambda info: info.header_offset)
        data = path.read_bytes()
        for info, following in itertools.pairwise(infos):
            name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
            data_end = info.header_offset + 30 + name_length + extra_length + info.compress_size
            descriptor = 16 if data[data_end : data_end + 4] == b"PK\x07\x08" else (12 if info.flag_bits & 8 else 0)
            assert following.header_offset == data_end + descriptor
    assert write_comicinfo(path, NEW_XML, policy=IN_PLACE, journal=journal).in_place


def test_auto_writes_in_place_on_ext4_and_copies_where_blocks_are_shared(tmp_path, journal, reflink_folder):
    auto = WritePolicy(WriteMethod.AUTO)
    here = build_cbz(tmp_path / "here.cbz", pages=3)
    there = build_cbz(reflink_folder / "there.cbz", pages=3)
    assert write_comicinfo(here, NEW_XML, policy=auto, journal=journal).in_place
    report = write_comicinfo(there, NEW_XML, policy=auto, journal=journal)
    assert not report.in_place and "shares blocks" in report.reason
    readers_accept(there)


def test_the_copy_setting_and_a_write_without_journal_copy(tmp_path, journal):
    path = build_cbz(tmp_path / "book.cbz", pages=3)
    assert write_comicinfo(path, NEW_XML, policy=WritePolicy(WriteMethod.COPY), journal=journal).reason == (
        "archives.write: copy"
    )
    assert "no journal" in write_comicinfo(path, NEW_XML, policy=IN_PLACE).reason


def _zip64_with_extensible_data(path: Path, tmp_path: Path) -> Path:
    """Info-ZIP's zip64 end record grown by 8 bytes of extensible data (the locator still points at it)."""
    data = zip64_by_info_zip(path, tmp_path / "files").read_bytes()
    at = data.rfind(b"PK\x06\x06")
    record = bytearray(data[at : at + 56])
    struct.pack_into("<Q", record, 4, 44 + 8)
    path.write_bytes(data[:at] + bytes(record) + b"EXTENDED" + data[at + 56 :])
    return path


# (build, in place?, the copy path's reason or "")
EDGE_CASES = {
    "zip64 end records (zip -fz)": (lambda path, tmp: zip64_by_info_zip(path, tmp / "files"), True, ""),
    "data descriptors": (lambda path, tmp: with_data_descriptors(path), True, ""),
    "cp437 names": (lambda path, tmp: with_cp437_names(path), True, ""),
    "a comment": (lambda path, tmp: build_cbz(path, 3, comment=b"scanned by someone"), False, "an archive comment"),
    "data after the end record": (lambda path, tmp: with_trailing_data(path), False, "data after the end record"),
    "a prepended stub": (lambda path, tmp: with_prepended_stub(path), False, "prepended stub"),
}


@pytest.mark.parametrize("case", list(EDGE_CASES))
def test_zip_edge_cases_in_place_or_through_the_copy(tmp_path, journal, case):
    build, in_place, reason = EDGE_CASES[case]
    path = build(tmp_path / "edge.cbz", tmp_path)
    before = pages_of(path)
    raw_before = path.read_bytes()
    report = write_comicinfo(path, NEW_XML, policy=IN_PLACE, journal=journal)
    assert report.in_place == in_place and reason in report.reason
    assert pages_of(path) == before  # names (cp437 bytes, flags), extra fields, descriptors: as they were
    if in_place:
        with open(path, "rb") as handle:
            start = min(
                info.header_offset for info in zipfile.ZipFile(handle).infolist() if info.filename == "ComicInfo.xml"
            )
        assert path.read_bytes()[:start] == raw_before[:start]
    else:  # the copy made the layout plain (but a comment stays): the next write is in place
        assert write_comicinfo(path, NEW_XML, policy=IN_PLACE, journal=journal).in_place == (case != "a comment")
    if case == "a comment":
        assert zipfile.ZipFile(path).comment == b"scanned by someone"
    readers_accept(path)


def test_zip64_end_record_with_extensible_data_is_not_appended_to(tmp_path):
    path = _zip64_with_extensible_data(tmp_path / "ext.cbz", tmp_path)
    with open(path, "rb") as handle, pytest.raises(NotAppendable, match="zip64 end record"):
        plan_append(handle.fileno(), path.stat().st_size, NEW_XML, IN_PLACE)


def test_offsets_in_zip64_extra_fields_are_kept_as_they_are(tmp_path, journal):
    from tests.test_archive_rawcopy import _offsets_moved_to_zip64_extras

    path = build_cbz(tmp_path / "extras.cbz", pages=3)
    path.write_bytes(_offsets_moved_to_zip64_extras(path.read_bytes()))
    before = pages_of(path)
    assert write_comicinfo(path, NEW_XML, policy=IN_PLACE, journal=journal).in_place
    assert pages_of(path) == before
    readers_accept(path)


def test_a_file_with_other_names_keeps_them_unchanged(tmp_path, journal):
    path = build_cbz(tmp_path / "linked.cbz", pages=3)
    other = tmp_path / "seeding.cbz"
    os.link(path, other)
    original = other.read_bytes()
    report = write_comicinfo(path, NEW_XML, policy=IN_PLACE, journal=journal)
    assert not report.in_place and "hard links" in report.reason
    assert other.read_bytes() == original
    readers_accept(path)


def test_a_file_another_process_writes_is_copied_not_appended_to(tmp_path, journal):
    path = build_cbz(tmp_path / "busy.cbz", pages=3)
    holder = subprocess.Popen(
        [
            "python3",
            "-c",
            "import sys, time; f = open(sys.argv[1], 'r+b'); print('open', flush=True); time.sleep(60)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        report = write_comicinfo(path, NEW_XML, policy=IN_PLACE, journal=journal)
    finally:
        holder.kill()
        holder.wait()
    assert not report.in_place and "open for writing" in report.reason
    readers_accept(path)


def test_unused_bytes_over_the_share_go_through_the_copy(tmp_path, journal):
    path = build_cbz(tmp_path / "gaps.cbz", pages=4, page_size=5000)
    # the pages' records, then 30 KB nobody uses, then the directory (offsets fixed accordingly)
    data = path.read_bytes()
    (cd_offset,) = struct.unpack_from("<L", data, len(data) - 6)
    gap = bytes(30_000)
    end = bytearray(data[-22:])
    struct.pack_into("<L", end, 16, cd_offset + len(gap))
    path.write_bytes(data[:cd_offset] + gap + data[cd_offset:-22] + bytes(end))
    readers_accept(path, xml=None)
    report = write_comicinfo(path, NEW_XML, policy=WritePolicy(WriteMethod.IN_PLACE, 0.1), journal=journal)
    assert not report.in_place and "unused bytes" in report.reason
    assert path.stat().st_size < len(data) + 2000  # compacted
    readers_accept(path)


def test_mtime_kept_when_asked(tmp_path, journal):
    path = build_cbz(tmp_path / "book.cbz", pages=3)
    os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_123_456_789))
    assert write_comicinfo(path, NEW_XML, preserve_mtime=True, policy=IN_PLACE, journal=journal).in_place
    assert path.stat().st_mtime_ns == 1_600_000_000_123_456_789
    assert write_comicinfo(path, NEW_XML, policy=IN_PLACE, journal=journal).in_place
    assert path.stat().st_mtime_ns > 1_600_000_000_123_456_789


def test_a_file_writable_in_a_read_only_folder_is_written_in_place(tmp_path, journal):
    if os.geteuid() == 0:
        pytest.skip("root writes in a read-only folder anyway")
    folder = tmp_path / "ro"
    folder.mkdir()
    path = build_cbz(folder / "book.cbz", pages=3)
    folder.chmod(0o555)
    try:
        assert write_comicinfo(path, NEW_XML, policy=IN_PLACE, journal=journal).in_place
    finally:
        folder.chmod(0o755)


def test_take_back_gives_the_exact_original_from_any_state(tmp_path, journal):
    """What the next command does with an entry left by a crash, here at every byte of the new tail."""
    path = build_cbz(tmp_path / "book.cbz", pages=3, comicinfo=OLD_XML)
    os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    original = path.read_bytes()
    with open(path, "rb") as handle:
        plan = plan_append(handle.fileno(), len(original), NEW_XML + b" " * 300, IN_PLACE)
    from bdnex_core.archives.inplace import journal_entry

    entry = journal_entry(path, path.stat(), plan)
    for cut in sorted(
        {0, 1, 29, 30, len(plan.new_tail) // 2, len(plan.new_tail) - 23, len(plan.new_tail) - 1, len(plan.new_tail)}
    ):
        path.write_bytes(original)
        os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
        with open(path, "r+b") as handle:
            handle.seek(plan.tail_offset)
            handle.write(plan.new_tail[:cut])
        result = take_back(entry)
        assert result in (TakeBack.RESTORED, TakeBack.UNTOUCHED)
        assert path.read_bytes() == original and path.stat().st_mtime_ns == 1_600_000_000_000_000_000
    # a file replaced since (another inode) is left alone
    path.unlink()
    path.write_bytes(b"PK\x05\x06" + bytes(18))
    assert take_back(entry) is TakeBack.REPLACED
    assert path.read_bytes() == b"PK\x05\x06" + bytes(18)
    path.unlink()
    assert take_back(entry) is TakeBack.GONE
    damaged = JournalEntry(**{**entry.__dict__, "original_tail": entry.original_tail + b"x"})
    with pytest.raises(OSError, match="damaged"):
        take_back(damaged)


def test_entries_left_by_a_dead_writer_are_taken_back_when_the_database_opens(tmp_path, db):
    path = build_cbz(tmp_path / "book.cbz", pages=3)
    original = path.read_bytes()
    with open(path, "rb") as handle:
        plan = plan_append(handle.fileno(), len(original), NEW_XML, IN_PLACE)
    from bdnex_core.archives.inplace import journal_entry

    row = {**journal_entry(path, path.stat(), plan).as_row(), "host": os.uname().nodename}
    dead = subprocess.Popen(["true"])
    dead.wait()
    db.archive_journal.begin({**row, "pid": dead.pid})
    with open(path, "r+b") as handle:  # the dead writer's half-written tail
        handle.seek(plan.tail_offset)
        handle.write(plan.new_tail[:40])
    BDneXDB(str(tmp_path / "journal.db")).close()
    assert path.read_bytes() == original
    assert db.archive_journal.pending() == []


def test_a_live_writers_entry_is_left_alone(tmp_path, db):
    path = build_cbz(tmp_path / "book.cbz", pages=3)
    with open(path, "rb") as handle:
        plan = plan_append(handle.fileno(), path.stat().st_size, NEW_XML, IN_PLACE)
    from bdnex_core.archives.inplace import journal_entry

    row = {**journal_entry(path, path.stat(), plan).as_row(), "host": os.uname().nodename, "pid": os.getpid()}
    db.archive_journal.begin(row)
    with pytest.raises(ArchiveError, match="another bdnex-core process is writing this file"):
        write_comicinfo(path, NEW_XML, policy=IN_PLACE, journal=WriteJournal(db.archive_journal))
    BDneXDB(str(tmp_path / "journal.db")).close()
    assert len(db.archive_journal.pending()) == 1


def test_undo_is_byte_exact_after_an_in_place_write(tmp_path, journal):
    from bdnex_core.archives.layout import capture, rebuild

    path = build_cbz(tmp_path / "book.cbz", pages=4, comicinfo=OLD_XML)
    original = path.read_bytes()
    layout = capture(path)
    assert write_comicinfo(path, NEW_XML, policy=IN_PLACE, journal=journal).in_place
    rebuild(path, layout)
    assert path.read_bytes() == original


def test_page_data_is_never_read_or_written(tmp_path, journal, monkeypatch):
    """The plan reads the end of the file and at most two local headers: a 100 MB archive costs what a 1 MB one does."""
    path = build_cbz(tmp_path / "big.cbz", pages=40, page_size=500_000)
    reads = []
    real_pread = os.pread

    def counting_pread(descriptor, length, offset):
        reads.append(length)
        return real_pread(descriptor, length, offset)

    monkeypatch.setattr(os, "pread", counting_pread)
    assert write_comicinfo(path, NEW_XML, policy=IN_PLACE, journal=journal).in_place
    monkeypatch.undo()
    assert sum(reads) < 3 * 70_000, reads  # the 64 KiB end window, the old tail, the new tail read back
    assert jpeg_like(500_000, 1) == zipfile.ZipFile(path).read("page1.jpg")


@pytest.fixture
def full_ext4(tmp_path):
    """A small ext4 mounted from a loop image (root), to be filled up by the test."""
    from bdnex_testing.loopfs import LoopFilesystemUnavailable, loop_filesystem

    try:
        with loop_filesystem("ext4", tmp_path / "loop", size_mb=8) as mount_point:
            yield mount_point
    except LoopFilesystemUnavailable as exc:
        pytest.skip(f"no loop-mounted ext4 here: {exc}")


def block_aligned_cbz(path: Path) -> Path:
    """A CBZ whose size is a whole number of 4 KiB blocks: anything appended needs a new block."""
    build_cbz(path, pages=3, page_size=30_000)
    padding = -path.stat().st_size % 4096
    while True:  # a last member whose size makes the file end on a block boundary
        build_cbz(path, pages=3, page_size=30_000, extra_members={"zz-padding.txt": bytes(padding)})
        if path.stat().st_size % 4096 == 0:
            return path
        padding = (padding + (-path.stat().st_size % 4096)) % 4096


def test_a_full_disk_during_the_append_leaves_the_original_and_one_line(tmp_path, db, full_ext4):
    from bdnex_testing.loopfs import fill_up

    path = block_aligned_cbz(full_ext4 / "book.cbz")
    os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    original = path.read_bytes()
    fill_up(full_ext4)
    big_xml = b"<ComicInfo><Summary>" + jpeg_like(20_000, 5).hex().encode() + b"</Summary></ComicInfo>"
    begun = []

    class WatchedJournal(WriteJournal):
        def begin(self, entry):
            begun.append(entry.tail_offset)
            return super().begin(entry)

    with pytest.raises(ArchiveError) as raised:
        write_comicinfo(path, big_xml, policy=IN_PLACE, journal=WatchedJournal(db.archive_journal))
    assert begun, "the write did not get as far as the append"
    message = str(raised.value)
    assert "no space left on the device" in message and str(path) in message and "\n" not in message
    assert "original is unchanged" in message
    assert path.read_bytes() == original and path.stat().st_mtime_ns == 1_600_000_000_000_000_000
    assert db.archive_journal.pending() == []


@pytest.mark.slow
def test_comictagger_reads_every_layout_written_in_place(tmp_path, journal):
    """ComicTagger 1.6 (its own zip reader) reads the ComicInfo.xml of each kind of archive written here."""
    from tests.test_comicinfo_comictagger import comictagger_executable

    executable = comictagger_executable()
    xml = (
        b'<?xml version="1.0" encoding="utf-8"?>\n<ComicInfo><Series>Nains</Series><Number>1</Number>'
        b"<Title>Redwin de la Forge</Title></ComicInfo>\n"
    )
    written = {}
    for name in ("no ComicInfo", "ComicInfo last", "written twice"):
        path = build_cbz(tmp_path / f"{name}.cbz", 3, comicinfo=OLD_XML if name != "no ComicInfo" else None)
        if name == "written twice":
            write_comicinfo(path, OLD_XML + b" ", policy=IN_PLACE, journal=journal)
        written[name] = path
    for case, (build, _in_place, _reason) in EDGE_CASES.items():
        written[case] = build(tmp_path / f"{case}.cbz", tmp_path / case)
    for path in written.values():
        write_comicinfo(path, xml, policy=IN_PLACE, journal=journal)
        readers_accept(path, xml)
    for case, path in written.items():
        result = subprocess.run(
            [executable, "--config", str(tmp_path / "ct-config"), "-p", "-j", "-t", "CR", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "xdg")},
        )
        assert result.returncode == 0, f"{case}: {result.stderr}"
        metadata = json.loads(result.stdout)["md"]
        assert (metadata["series"], metadata["issue"], metadata["title"]) == ("Nains", "1", "Redwin de la Forge"), case
        with zipfile.ZipFile(path) as archive:
            pages = [info.filename for info in archive.infolist() if info.filename.endswith(".jpg")]
        assert sorted(page["filename"] for page in metadata["pages"]) == sorted(pages), case


@pytest.mark.parametrize(
    "case",
    ["zero-byte", "truncated zip", "no images", "encrypted", "dot-dot name", "duplicate names", "not an archive"],
)
def test_bad_input_gives_the_same_one_line_in_place(tmp_path, journal, case):
    """What the copy path refuses, the in-place write refuses with the same line (it hands those over)."""
    import warnings

    from tests.test_archive_write import CORPUS

    make, reason = CORPUS[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = make(tmp_path / f"{case}.cbz")
    before = path.read_bytes()
    with pytest.raises(ArchiveError) as raised:
        write_comicinfo(path, NEW_XML, policy=IN_PLACE, journal=journal)
    message = str(raised.value)
    assert reason in message and str(path) in message and "\n" not in message
    assert path.read_bytes() == before


def test_a_fifo_with_a_comics_name_is_refused_without_waiting(tmp_path, journal):
    path = tmp_path / "pipe.cbz"
    os.mkfifo(path)
    with pytest.raises(ArchiveError, match="pipe.cbz"):
        write_comicinfo(path, NEW_XML, policy=IN_PLACE, journal=journal)
