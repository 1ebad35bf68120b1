"""A non-TTY container's multiplexed output, as the engine frames it, read from
blocks cut anywhere: each stream's bytes in order, frames that follow each
other on one stream joined, the order between the streams kept."""

import struct

from images.engine.containers import Demultiplexer


def frame(kind, payload):
    return struct.pack(">BxxxL", kind, len(payload)) + payload


def test_frames_cut_anywhere_come_out_whole_and_in_order():
    frames = [frame(1, f"out {n}\n".encode()) for n in range(300)] + [frame(2, b"err\n"), frame(1, b"last\n")]
    stream = b"".join(frames)
    for cut in (1, 7, 8, 9, 64, 1000, len(stream)):
        demultiplexer = Demultiplexer()
        pieces = []
        for start in range(0, len(stream), cut):
            pieces += demultiplexer.feed(stream[start:start + cut])
        joined = []
        for name, data in pieces:  # what a reader sees: runs of one stream, in order
            if joined and joined[-1][0] == name:
                joined[-1] = (name, joined[-1][1] + data)
            else:
                joined.append((name, data))
        assert joined == [("stdout", b"".join(f"out {n}\n".encode() for n in range(300))), ("stderr", b"err\n"),
                          ("stdout", b"last\n")], cut


def test_a_block_of_one_streams_frames_is_one_piece():
    demultiplexer = Demultiplexer()
    assert demultiplexer.feed(b"".join(frame(1, b"x\n") for _ in range(1000))) == [("stdout", b"x\n" * 1000)]
