"""The tar header reader and a layer's stored entries, against archives written
by Python's tarfile in each format an engine or a hostile tar may use."""

import io
import tarfile

import pytest

from images.files import entries
from images.files.entries import EntryWriter, LayerEntries, display, parse_display
from images.files.headers import ByteStream, DamagedArchive, members


def archive(members_, fmt=tarfile.PAX_FORMAT, end_marker=True):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt, encoding="utf-8", errors="surrogateescape") as tar:
        for info, data in members_:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    raw = buffer.getvalue()
    if not end_marker:
        raw = raw.rstrip(b"\0")
        raw += b"\0" * (-len(raw) % 512)
    return raw


def member(name, data=b"", type_=tarfile.REGTYPE, **attributes):
    info = tarfile.TarInfo(name)
    info.type = type_
    info.size = len(data) if type_ == tarfile.REGTYPE else 0
    for key, value in attributes.items():
        setattr(info, key, value)
    return info, data if type_ == tarfile.REGTYPE else None


def blocks(raw, size=700):
    """The archive in blocks of an awkward size, as a socket hands them over."""
    return [raw[at:at + size] for at in range(0, len(raw), size)]


def read(raw, **options):
    stream = ByteStream(blocks(raw))
    return [(m.name, m.type, m.size, m.mode, m.uid, m.gid, m.mtime, m.linkname, m.oversized)
            for m in members(stream, **options)]


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_it_reads_what_tarfile_writes(fmt):
    long_dir = "d" * 90 + "/" + "e" * 60  # past the 100-byte name field: a prefix, a long name or PAX
    items = [
        member("etc/", type_=tarfile.DIRTYPE, mode=0o755, mtime=1_700_000_000),
        member("etc/hosts", b"127.0.0.1 localhost\n", mode=0o644, uid=12, gid=34, mtime=1_700_000_001),
        member(f"{long_dir}/file", b"x" * 1500),
        member("etc/link", type_=tarfile.SYMTYPE, linkname="hosts"),
        member("etc/hard", type_=tarfile.LNKTYPE, linkname="etc/hosts"),
        member("empty", b""),
    ]
    got = read(archive(items, fmt))
    assert [(name, type_, size) for name, type_, size, *_ in got] == [
        (b"etc/", b"5", 0), (b"etc/hosts", b"0", 20), (f"{long_dir}/file".encode(), b"0", 1500),
        (b"etc/link", b"2", 0), (b"etc/hard", b"1", 0), (b"empty", b"0", 0)]
    assert got[1][3:7] == (0o644, 12, 34, 1_700_000_001)
    assert got[3][7] == b"hosts" and got[4][7] == b"etc/hosts"


def test_it_keeps_names_that_are_not_utf8_as_bytes():
    name = b"caf\xe9/na\xefve \x01".decode("utf-8", "surrogateescape")
    for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        got = read(archive([member(name, b"1")], fmt))
        assert got[0][0] == b"caf\xe9/na\xefve \x01"


def test_it_reads_pax_sizes_owners_and_times_past_the_octal_fields():
    info, data = member("big", b"")
    info.uid = 10_000_000_000  # more than 8 octal digits hold
    info.mtime = 9_999_999_999.5
    got = read(archive([(info, data)], tarfile.PAX_FORMAT))
    assert got[0][4] == 10_000_000_000 and got[0][6] == 9_999_999_999


def test_it_reads_gnu_base256_numbers():
    info, data = member("big", b"")
    info.uid = 10_000_000_000
    assert read(archive([(info, data)], tarfile.GNU_FORMAT))[0][4] == 10_000_000_000


def test_it_stops_at_a_missing_end_marker_and_not_before():
    raw = archive([member("a", b"1"), member("b", b"22")], end_marker=False)
    assert [m[0] for m in read(raw)] == [b"a", b"b"]


def test_a_truncated_archive_is_damaged():
    raw = archive([member("a", b"x" * 5000)])
    with pytest.raises(DamagedArchive):
        read(raw[:2048])


def test_a_damaged_header_is_refused():
    raw = bytearray(archive([member("a", b"1")]))
    raw[10] ^= 0xFF  # a byte of the name: the checksum no longer matches
    with pytest.raises(DamagedArchive, match="damaged"):
        read(bytes(raw))


def test_a_member_may_not_claim_more_than_its_layer_holds():
    raw = archive([member("a", b"x" * 5000)])
    with pytest.raises(DamagedArchive):
        read(raw, end=1024)


def test_an_oversized_pax_header_is_skipped_not_held():
    name = "n" * 5000
    got = read(archive([member(name, b"1"), member("after", b"2")]), max_header=1024)
    assert got[0][8] is True and len(got[0][0]) <= 100  # the plain header's cut name, flagged
    assert got[1][0] == b"after" and got[1][8] is False


def test_a_caller_may_read_a_content_or_leave_it():
    raw = archive([member("a", b"first"), member("b", b"second")])
    stream = ByteStream(blocks(raw, 3))
    seen = []
    for item in members(stream):
        seen.append((item.name, stream.read(2) if item.name == b"a" else b""))
    assert seen == [(b"a", b"fi"), (b"b", b"")]


def test_read_and_unread_cross_blocks():
    stream = ByteStream([b"ab", b"", b"cdef", b"g"])
    assert stream.read(3) == b"abc"
    stream.unread(b"abc")
    assert stream.read(5) == b"abcde"
    stream.skip(1)
    assert stream.read(1) == b"g" and stream.at_end() and stream.position == 7


# Entries ----------------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    (b"usr/bin/env", b"usr/bin/env"), (b"usr/bin/", b"usr/bin"), (b"./usr//bin/./env", b"usr/bin/env"),
    (b"/etc/passwd", b"etc/passwd"), (b"./", None), (b"../etc/passwd", None), (b"a/../../b", None),
    (b"...", b"..."), (b".hidden/.wh.x", b".hidden/.wh.x"),
])
def test_names_are_normalised(name, expected):
    assert entries.normalise(name) == expected


def test_whiteouts_and_opaque_directories():
    assert entries.split_whiteout(b"etc/.wh.hosts") == (entries.WHITEOUT, b"etc/hosts")
    assert entries.split_whiteout(b".wh.top") == (entries.WHITEOUT, b"top")
    assert entries.split_whiteout(b"var/cache/.wh..wh..opq") == (entries.OPAQUE, b"var/cache")
    assert entries.split_whiteout(b".wh..wh..opq") == (entries.OPAQUE, b"")
    assert entries.split_whiteout(b"x/.wh..wh.plnk") == (None, None)  # AUFS's own bookkeeping
    assert entries.split_whiteout(b"etc/hosts") == (None, b"etc/hosts")


@pytest.mark.parametrize("raw, shown", [
    (b"plain/name.txt", "plain/name.txt"), (b"caf\xe9", "caf\\xe9"), (b"back\\slash", "back\\\\slash"),
    (b"new\nline", "new\\x0aline"), ("n\u00e4me".encode(), "n\u00e4me"), (b"<img src=x>", "<img src=x>"),
    (b"\xff\xfe", "\\xff\\xfe"), (b"a\\x41", "a\\\\x41"), ("\u200b".encode(), "\\xe2\\x80\\x8b"),
])
def test_display_shows_every_byte_and_parse_display_undoes_it(raw, shown):
    assert display(raw) == shown
    assert parse_display(shown) == raw


def test_entries_survive_storage():
    writer = EntryWriter(100, 255)
    for info, data in [member("a/", type_=tarfile.DIRTYPE, mode=0o40755), member("a/b", b"xyz", uid=7, gid=8),
                       member("a/.wh.c"), member("a/.wh..wh..opq"), member("a/l", type_=tarfile.SYMTYPE, linkname="b")]:
        writer.add(next(members(ByteStream([archive([(info, data)])]))))
    blob = writer.entries().encode()
    stored = LayerEntries.decode(blob)
    assert stored.paths == [b"a", b"a/b", b"a/c", b"a", b"a/l"]
    assert stored.kinds == b"dfwol"
    assert list(stored.sizes) == [0, 3, 0, 0, 0] and list(stored.uids)[1] == 7 and list(stored.modes)[0] == 0o755
    assert stored.links[4] == b"b"


def test_the_writer_stops_at_the_caps_and_says_so():
    writer = EntryWriter(3, 100)
    raw = archive([member("x" * 150, b"1")] + [member(f"f{n}", b"1") for n in range(5)])
    results = [writer.add(item) for item in members(ByteStream([raw]))]
    assert results == [True, True, True, True, False, False]
    assert len(writer.entries()) == 3 and writer.long_paths == 1 and writer.truncated
    assert any("more than 3 entries" in note and "DOCKYARD_INDEX_MAX_FILES" in note for note in writer.notes())
    assert any("over 100 bytes" in note and "DOCKYARD_INDEX_MAX_PATH" in note for note in writer.notes())


def test_a_name_climbing_out_of_the_root_is_left_out_and_counted():
    writer = EntryWriter(10, 100)
    for item in members(ByteStream([archive([member("../../etc/passwd", b"1"), member("./", type_=tarfile.DIRTYPE)])])):
        writer.add(item)
    assert len(writer.entries()) == 0 and writer.unsafe == 1
