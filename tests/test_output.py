from images.engine.output import decode_chunks, engine_messages, LineSplitter


def test_a_character_split_across_chunks_arrives_whole():
    data = '{"stream":"漢字 ⚓"}\r\n'.encode()
    chunks = [data[:11], data[11:12], data[12:]]  # splits inside 漢
    assert "".join(decode_chunks(chunks)) == data.decode()
    assert list(engine_messages(chunks)) == [{"stream": "漢字 ⚓"}]


def test_invalid_bytes_become_replacement_characters():
    assert "".join(decode_chunks([b'{"stream":"a\xff', b'b"}'])) == '{"stream":"a\ufffdb"}'


def test_messages_split_and_joined_across_chunks():
    chunks = [b'{"stream":"one\\n"}\r\n{"str', b'eam":"two\\n"}\r\n']
    assert list(engine_messages(chunks)) == [{"stream": "one\n"}, {"stream": "two\n"}]


def test_lines_are_joined_across_fragments():
    splitter = LineSplitter()
    assert splitter.feed("Step 1/2 : FROM x") == []
    assert splitter.feed("\n") == ["Step 1/2 : FROM x"]
    assert splitter.feed("a\nb\r\nc") == ["a", "b"]
    assert splitter.close() == ["c"]
    assert splitter.close() == []


def test_an_endless_line_is_cut():
    splitter = LineSplitter(max_chars=10)
    assert splitter.feed("x" * 25) == ["x" * 10, "x" * 10]
    assert splitter.close() == ["x" * 5]


def test_a_long_whole_line_is_cut_too():
    # A run's output arrives in blocks of many lines: a line ended inside one is cut as an endless one is.
    splitter = LineSplitter(max_chars=10)
    assert splitter.feed("a\n" + "y" * 25 + "\nb") == ["a", "y" * 10, "y" * 10, "y" * 5]
    assert splitter.close() == ["b"]


def test_many_lines_in_one_fragment():
    splitter = LineSplitter()
    assert splitter.feed("par") == []
    assert splitter.feed("tial\n" + "".join(f"line {n}\r\n" for n in range(1000)) + "tail") == (
        ["partial"] + [f"line {n}" for n in range(1000)])
    assert splitter.close() == ["tail"]


def test_a_crlf_split_across_fragments_ends_its_line_without_the_cr():
    splitter = LineSplitter()
    assert splitter.feed("Windows line\r") == []
    assert splitter.feed("\nnext") == ["Windows line"]
    assert splitter.feed("\n") == ["next"]
    # Held over more than one fragment, and a progress frame's "\r" inside a line stays.
    assert splitter.feed("50%\r100%") == []
    assert splitter.feed(" done\r") == []
    assert splitter.feed("\n") == ["50%\r100% done"]
