"""Uploaded archives are hostile: contexts.check_archive refuses escapes, devices and bombs."""

import gzip
import html
import io
import tarfile
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile, UploadedFile
from django.urls import reverse

from images.builds import contexts
from images.models import Job

MiB = 1024 * 1024


@pytest.fixture(autouse=True)
def context_dir(settings, tmp_path):
    settings.DOCKYARD_CONTEXT_DIR = tmp_path / "contexts"
    return settings.DOCKYARD_CONTEXT_DIR


def stored(folder):
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


class Zeros:
    """A file of `size` zero bytes, made as it is read."""

    def __init__(self, size):
        self.left = size

    def read(self, size=-1):
        size = self.left if size < 0 else min(size, self.left)
        self.left -= size
        return bytes(size)


def member(name, data=b"", **attributes):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in attributes.items():
        setattr(info, key, value)
    return info, io.BytesIO(data)


def symlink(name, target):
    return member(name, type=tarfile.SYMTYPE, linkname=target)


def hardlink(name, target):
    return member(name, type=tarfile.LNKTYPE, linkname=target)


def write_tar(path, members, mode="w", **options):
    with tarfile.open(path, mode, **options) as tar:
        for info, data in members:
            tar.addfile(info, data)
    return path


def tar_bytes():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info, data = member("Dockerfile", b"FROM scratch\n" * 100)
        tar.addfile(info, data)
    return buffer.getvalue()


def refused(path, message, folder, name=None):
    """save_upload refuses the archive at `path` with exactly `message`, and keeps nothing."""
    upload = SimpleUploadedFile(name or path.name, path.read_bytes())
    with pytest.raises(contexts.ContextError) as caught:
        contexts.save_upload(upload)
    assert str(caught.value) == message
    assert stored(folder) == []


@pytest.mark.parametrize("name", ["../escape", "a/../../escape", "/etc/x", "C:\\Windows\\x", "..\\..\\x"])
def test_a_member_name_outside_the_root_is_refused(tmp_path, context_dir, name):
    path = write_tar(tmp_path / "c.tar", [member("Dockerfile", b"FROM scratch\n"), member(name, b"x")])
    refused(path, f"The archive member {name!r} points outside the archive.", context_dir)


def test_a_member_written_through_an_earlier_symlink_is_refused(tmp_path, context_dir):
    # `l/../escape` looks like `escape`, but `l` is the root itself once unpacked.
    path = write_tar(tmp_path / "c.tar", [symlink("l", "."), member("l/../escape", b"x")])
    refused(path, "The archive member 'l/../escape' points outside the archive.", context_dir)


@pytest.mark.parametrize("name, target", [
    ("evil", "/etc/passwd"),
    ("sub/evil", "../../etc"),
    ("sub/evil", "C:\\Windows"),
    ("up", "here/.."),  # `here -> .` makes `here/..` the root's parent
])
def test_a_symlink_outside_the_root_is_refused(tmp_path, context_dir, name, target):
    path = write_tar(tmp_path / "c.tar", [member("sub", type=tarfile.DIRTYPE), symlink(name, target),
                                          symlink("here", ".")])
    refused(path, f"The archive member {name!r} is a symlink to {target!r}, "
                  "outside the archive.", context_dir)


@pytest.mark.parametrize("target", ["../outside", "/etc/passwd", "sub/../../outside"])
def test_a_hard_link_outside_the_root_is_refused(tmp_path, context_dir, target):
    path = write_tar(tmp_path / "c.tar", [member("Dockerfile", b"FROM scratch\n"), hardlink("h", target)])
    refused(path, f"The archive member 'h' is a hard link to {target!r}, outside the archive.", context_dir)


@pytest.mark.parametrize("kind, what", [
    (tarfile.CHRTYPE, "a character device"), (tarfile.BLKTYPE, "a block device"), (tarfile.FIFOTYPE, "a FIFO"),
])
def test_device_files_and_fifos_are_refused(tmp_path, context_dir, kind, what):
    path = write_tar(tmp_path / "c.tar.gz", [member("dev/thing", type=kind, devmajor=1, devminor=3)], "w:gz")
    refused(path, f"The archive member 'dev/thing' is {what}, which has no place in an uploaded archive.",
            context_dir)


def test_too_many_members_are_refused(tmp_path, context_dir, settings):
    settings.DOCKYARD_ARCHIVE_MAX_MEMBERS = 3
    path = write_tar(tmp_path / "c.tar", [member(f"f{number}", b"x") for number in range(4)])
    refused(path, "The archive holds more than 3 members; 'f3' is one too many.", context_dir)


def test_too_many_unpacked_bytes_are_refused(tmp_path, context_dir, settings):
    settings.DOCKYARD_ARCHIVE_MAX_UNPACKED = 1500
    path = write_tar(tmp_path / "c.tar", [member("a", bytes(1000)), member("b", bytes(1000))])
    refused(path, "The archive unpacks to more than 1,500 bytes once 'b' is counted.", context_dir)


@pytest.mark.parametrize("name, payload, kind", [
    ("c.tar.gz", lambda: tar_bytes(), "tar.gz"),  # a plain tar named .tar.gz
    ("c.tar", lambda: gzip.compress(tar_bytes()), "tar"),
    ("c.tar", lambda: b"not an archive at all\n" * 100, "tar"),
    ("c.tar", lambda: tar_bytes()[:700], "tar"),  # cut short in the middle of a member
    ("c.tar.gz", lambda: gzip.compress(tar_bytes())[:-20], "tar.gz"),
    ("c.zip", lambda: b"PK\x03\x04 but no more", "zip"),
])
def test_a_file_that_is_not_the_archive_it_claims_is_refused(tmp_path, context_dir, name, payload, kind):
    path = tmp_path / name
    path.write_bytes(payload())
    refused(path, f"The uploaded file is not a valid {kind} archive.", context_dir)


def test_a_header_bigger_than_any_real_archive_needs_is_refused(tmp_path, context_dir):
    # tarfile reads a pax header whole into memory before it returns its member.
    info, data = member("Dockerfile", b"FROM scratch\n", pax_headers={"comment": "x" * (2 * MiB)})
    path = write_tar(tmp_path / "c.tar.gz", [member("first"), (info, data)], "w:gz", format=tarfile.PAX_FORMAT)
    refused(path, "The archive has a header over 1,048,576 bytes after 'first', more than any real archive needs.",
            context_dir)


class CountingGzip(gzip.GzipFile):
    unpacked = 0

    def read(self, size=-1):
        data = super().read(size)
        CountingGzip.unpacked += len(data)
        return data


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    """200 MB of zeros as one member and as 200 members of 1 MB, each about 200 KB gzipped."""
    folder = tmp_path_factory.mktemp("bombs")
    one = folder / "one.tar.gz"
    with tarfile.open(one, "w:gz") as tar:
        tar.addfile(member("zeros", size=200 * MiB)[0], Zeros(200 * MiB))
    many = folder / "many.tar.gz"
    with tarfile.open(many, "w:gz") as tar:
        for number in range(200):
            tar.addfile(member(f"zeros-{number}", size=MiB)[0], Zeros(MiB))
    return {"one": one, "many": many}


@pytest.mark.parametrize("bomb, culprit", [("one", "zeros"), ("many", "zeros-10")])
def test_a_gzip_bomb_is_refused_after_no_more_than_the_limit_is_unpacked(bombs, context_dir, settings, monkeypatch,
                                                                           bomb, culprit):
    settings.DOCKYARD_ARCHIVE_MAX_UNPACKED = 10 * MiB
    monkeypatch.setattr(contexts.gzip, "GzipFile", CountingGzip)
    CountingGzip.unpacked = 0
    path = bombs[bomb]
    assert path.stat().st_size < 2 * MiB
    with path.open("rb") as file, pytest.raises(contexts.ContextError) as caught:
        contexts.save_upload(UploadedFile(file, name="bomb.tar.gz", size=path.stat().st_size))
    assert str(caught.value) == f"The archive unpacks to more than 10,485,760 bytes once {culprit!r} is counted."
    # The work done, not the time it took on this machine: little more than the limit was unpacked.
    assert CountingGzip.unpacked < 12 * MiB
    assert stored(context_dir) == []


def test_a_zip_bomb_is_refused(tmp_path, context_dir):
    path = tmp_path / "c.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Dockerfile", "FROM scratch\n")
        with archive.open("zeros", "w") as out:
            for _ in range(50):
                out.write(bytes(MiB))
    ratio = 50 * MiB // zipfile.ZipFile(path).getinfo("zeros").compress_size
    refused(path, f"The archive member 'zeros' expands {ratio:,}-fold, like a zip bomb.", context_dir)


def test_a_zip_is_held_to_the_limits_by_its_declared_sizes(tmp_path, context_dir, settings):
    settings.DOCKYARD_ARCHIVE_MAX_UNPACKED = 1500
    path = tmp_path / "c.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("a", bytes(1000))
        archive.writestr("b", bytes(1000))
    refused(path, "The archive unpacks to more than 1,500 bytes once 'b' is counted.", context_dir)


@pytest.mark.parametrize("name", ["../escape", "/etc/x", "C:\\x"])
def test_a_zip_member_outside_the_root_is_refused(tmp_path, context_dir, name):
    path = tmp_path / "c.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo(name), "x")
    refused(path, f"The archive member {name!r} points outside the archive.", context_dir)


def test_the_zip_conversion_stops_at_the_unpacked_limit(tmp_path, settings):
    # A zip saved under a higher limit, or whose header lies, is still bounded in the worker.
    path = tmp_path / "c.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a", bytes(1000))
        archive.writestr("b", bytes(1000))
    settings.DOCKYARD_ARCHIVE_MAX_UNPACKED = 1500
    with (tmp_path / "out.tar").open("wb") as out, pytest.raises(contexts.ContextError) as caught:
        contexts._zip_to_tar(path, out)
    assert str(caught.value) == "The archive unpacks to more than 1,500 bytes once 'b' is counted."


def good_context(path, mode="w"):
    return write_tar(path, [
        member("Dockerfile", b"FROM scratch\nCOPY . /\n"),
        member("sub", type=tarfile.DIRTYPE, mode=0o755),
        member("sub/b", b"hello\n"),
        symlink("a", "sub/b"),
        symlink("sub/back", "../a"),
        symlink("sub/self", "."),
        symlink("sub/self/again", "../sub/b"),  # written through sub/self, inside sub
        hardlink("c", "sub/b"),
        hardlink("sub/d", "./sub/../sub/b"),
    ], mode)


@pytest.mark.parametrize("name, mode", [("c.tar", "w"), ("c.tar.gz", "w:gz")])
def test_a_context_with_internal_links_is_accepted(tmp_path, context_dir, name, mode):
    path = good_context(tmp_path / name, mode)
    saved = contexts.save_upload(SimpleUploadedFile(name, path.read_bytes()))
    assert stored(context_dir) == [saved]
    assert (context_dir / saved).read_bytes() == path.read_bytes()


def test_a_zip_context_is_accepted_and_converted(tmp_path, context_dir):
    path = tmp_path / "c.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Dockerfile", "FROM scratch\n")
        archive.writestr("sub/", "")
        archive.writestr("sub/b", "hello\n" * 1000)
    saved = contexts.save_upload(SimpleUploadedFile("c.zip", path.read_bytes()))
    with (tmp_path / "out.tar").open("w+b") as out:
        contexts._zip_to_tar(context_dir / saved, out)
        out.seek(0)
        with tarfile.open(fileobj=out) as tar:
            assert tar.getnames() == ["Dockerfile", "sub", "sub/b"]


@pytest.mark.parametrize("name", ["c.tar", "c.zip"])
def test_check_upload_refuses_before_anything_is_saved(tmp_path, context_dir, name):
    path = tmp_path / name
    if name.endswith(".zip"):
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("../escape", "x")
    else:
        write_tar(path, [member("../escape", b"x")])
    with pytest.raises(contexts.ContextError) as caught:
        contexts.check_upload(SimpleUploadedFile(name, path.read_bytes()))
    assert str(caught.value) == "The archive member '../escape' points outside the archive."
    assert stored(context_dir) == []


@pytest.mark.parametrize("in_memory", [True, False])
def test_check_upload_leaves_a_good_upload_ready_to_save(tmp_path, context_dir, in_memory):
    data = good_context(tmp_path / "c.tar.gz", "w:gz").read_bytes()
    if in_memory:
        upload = SimpleUploadedFile("c.tar.gz", data)
    else:
        upload = TemporaryUploadedFile("c.tar.gz", "application/gzip", len(data), None)
        upload.write(data)
    assert contexts.check_upload(upload) == "tar.gz"
    saved = contexts.save_upload(upload)
    assert (context_dir / saved).read_bytes() == data


def test_the_build_form_shows_the_refusal_and_starts_nothing(owner_client, tmp_path, context_dir):
    path = write_tar(tmp_path / "c.tar", [member("Dockerfile", b"FROM scratch\n"), member("../escape", b"x")])
    response = owner_client.post(reverse("jobs-build"), {
        "source": "upload", "dockerfile": "Dockerfile", "context": SimpleUploadedFile("c.tar", path.read_bytes()),
    })
    assert response.status_code == 200
    assert "The archive member '../escape' points outside the archive." in html.unescape(response.content.decode())
    assert not Job.objects.exists()
    assert stored(context_dir) == []
