import json

import pytest

from dialin.data import corpus_from_texts, load_corpus
from dialin.errors import DataError


def write(tmp_path, name, content, mode="w"):
    p = tmp_path / name
    if mode == "wb":
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")
    return p


def test_csv_tsv_jsonl_txt(tmp_path):
    csv_p = write(tmp_path, "a.csv", "utterance,intent\nI lost my card,lost\nbalance?,bal\n")
    c = load_corpus(csv_p, text_col="utterance", label_col="intent")
    assert c.texts == ["I lost my card", "balance?"] and c.labels == ["lost", "bal"]
    tsv_p = write(tmp_path, "a.tsv", "text\trole\nhi there\tUser\nhello\tAgent\n")
    t = load_corpus(tsv_p, role_col="role")
    assert t.roles == ["customer", "agent"]
    jl = write(tmp_path, "a.jsonl", "\n".join(json.dumps({"text": s, "split": sp}) for s, sp in
                                              [("a", "train"), ("b", "test"), ("c", "test")]))
    assert load_corpus(jl, split="test").texts == ["b", "c"]
    assert load_corpus(write(tmp_path, "a.txt", "one\ntwo\n"), ).texts == ["one", "two"]


def test_duplicates_clustered_once_every_row_mapped(tmp_path):
    c = corpus_from_texts(["a", "b", "a", "c", "b"])
    assert c.unique_texts == ["a", "b", "c"]
    assert c.row_to_unique == [0, 1, 0, 2, 1]


def test_same_words_from_two_roles_stay_apart():
    c = corpus_from_texts(["thanks", "thanks"], roles=["customer", "agent"])
    assert len(c.unique_texts) == 2 and c.unique_roles == ["customer", "agent"]


@pytest.mark.parametrize("name, content, needle", [
    ("empty.csv", "", "is empty"),
    ("hdr.csv", "text\n", "no rows"),
    ("cols.csv", "utt\nhello\n", "no column 'text' (columns: utt): pass --text-col"),
    ("bad.jsonl", '{"text": "ok"}\n{oops\n', "line 2 is not valid JSON"),
    ("arr.jsonl", '["text"]\n', "not an object"),
    ("blank.csv", "text\nhello\n\"\"\n  \n", "blank value(s) in 'text' (rows 2, 3)"),
    ("x.xlsx", "whatever", "cannot tell the format"),
])
def test_bad_input_names_problem_and_fix(tmp_path, name, content, needle):
    with pytest.raises(DataError) as err:
        load_corpus(write(tmp_path, name, content))
    assert needle in str(err.value)


def test_missing_file_and_undecodable_bytes(tmp_path):
    with pytest.raises(DataError, match="input file not found"):
        load_corpus(tmp_path / "nope.csv")
    p = write(tmp_path, "latin.csv", b"text\ncaf\xe9 card\n", mode="wb")
    with pytest.raises(DataError) as err:
        load_corpus(p)
    assert "0xe9 at line 2" in str(err.value) and "--encoding" in str(err.value)
    assert load_corpus(p, encoding="latin-1").texts == ["café card"]


def test_skip_blank_keeps_rows_unassigned(tmp_path):
    c = load_corpus(write(tmp_path, "b.csv", "text\nhello\n\"\"\nbye\n"), skip_blank=True)
    assert c.row_to_unique == [0, -1, 1] and c.blank_rows == [1]


def test_bad_role_count():
    with pytest.raises(DataError, match="one role per text"):
        corpus_from_texts(["a", "b"], roles=["customer"])
