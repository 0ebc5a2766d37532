"""The fault suite of issue 17: one test per numbered case of the audit, then injected LLM faults.

Each bad input ends in a clear ``DialinError`` (exit 2 from the CLI, no traceback) naming the
problem and the fix, or in the correct result. docs/RELIABILITY.md tabulates them.
"""

from __future__ import annotations

import codecs
import json
import os
import signal
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from dialin.cli import main
from dialin.config import load_config
from dialin.data import corpus_from_texts, load_corpus
from dialin.errors import ConfigError, DataError, DialinError, EndpointUnreachable, ParseError
from dialin.measure.evaluate import run_metrics
from dialin.llm.router import LLMRouter
from dialin.measure.metrics import clustering_metrics
from dialin.guard.run_status import host
from dialin.runner import checkpoint_path, run_discovery
from dialin.store import Store
from fakes import FakeChat, factory, oracle_responder
from inspect_runs import base_run, view  # noqa: F401  (fixtures)

CHOICES = ["good", "bad"]


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")
    return p


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


def no_traceback(res) -> None:
    assert "Traceback" not in res.output and res.exception is None or isinstance(res.exception, SystemExit), \
        res.output


def judge_config(url: str = "http://fake.invalid/v1", **endpoint):
    return load_config(overrides={
        "endpoints": {"a": {"base_url": url, "backend": "llamacpp", "max_retries": 2, "connect_timeout_s": 1,
                            **endpoint}},
        "roles": {"judge": {"endpoint": "a", "model": "m", "prompt": "judge", "max_tokens": 4, "logprobs": False},
                  "namer": {"endpoint": "a", "model": "m", "prompt": "namer", "logprobs": False}}})


SENTENCES = {"sentences": "- I lost my card\n- my card is gone"}


# -- 1-10, 15: bad input files and flags -----------------------------------------------------------------
def test_case01_unquoted_commas_in_csv_text_are_refused_not_shifted(tmp_path):
    p = write(tmp_path, "d.csv", "text,label\nhello, I lost my card, thanks,lost card\nbalance please,balance\n")
    with pytest.raises(DataError, match=r"line 2 has 4.*must be quoted") as err:
        load_corpus(p, label_col="label")
    assert "TSV or JSONL" in str(err.value)
    res = cli("run", str(p), "--label-col", "label")
    assert res.exit_code == 2 and "must be quoted" in res.output
    quoted = write(tmp_path, "q.csv", 'text,label\n"hello, I lost my card, thanks",lost card\n')
    assert load_corpus(quoted, label_col="label").texts == ["hello, I lost my card, thanks"]


def test_case02_blank_labels_are_not_one_gold_intent(tmp_path):
    gold = ["a", "a", "", "b", "b", ""]
    pred = [0, 0, 1, 1, 1, 0]
    result = {"row_to_unique": list(range(6)), "row_labels": pred}
    m = run_metrics(result, gold)
    keep = [i for i, g in enumerate(gold) if g]
    assert m["nmi"] == clustering_metrics([gold[i] for i in keep], [pred[i] for i in keep])["nmi"]
    assert m["rows_scored"] == 4 and m["rows_unlabelled"] == 2 and m["n_clusters_true"] == 2
    p = write(tmp_path, "d.csv", "text,label\nhello,\nbye,\n")
    with pytest.raises(DataError, match="every 'label' value is blank"):
        load_corpus(p, label_col="label")


def test_case03_unparseable_answer_is_never_cached_and_retried(tmp_path):
    store = Store(tmp_path / "s.db")
    fake = FakeChat().enqueue("goo", "goo", "goo")
    router = LLMRouter(judge_config(), store, client_factory=factory(fake))
    with pytest.raises(ParseError, match="no usable answer in 3 calls.*Nothing was cached") as err:
        router.complete_sync("judge", SENTENCES, choices=CHOICES)
    assert err.value.last_output == "goo" and err.value.attempts == 3
    assert store.execute("SELECT COUNT(*) AS n FROM llm_cache")[0]["n"] == 0
    calls = store.calls()
    assert len(calls) == 3 and all(c["error"].startswith("ParseError") and c["response"] == "goo" for c in calls)
    # a rerun asks again (nothing poisoned), and a good answer is then cached once
    fake.enqueue("good")
    assert router.complete_sync("judge", SENTENCES, choices=CHOICES).parsed == "good"
    assert router.complete_sync("judge", SENTENCES, choices=CHOICES).cached
    assert len(fake.history) == 4


def test_case03_answer_cut_short_is_asked_again_with_more_tokens(tmp_path):
    from faultserver import FaultServer

    with FaultServer(lambda body: "good") as server:
        server.faults = [("text", "goo")]
        router = LLMRouter(judge_config(server.url), Store(tmp_path / "s.db"))
        assert router.complete_sync("judge", SENTENCES, choices=CHOICES).parsed == "good"
    first, second = server.requests
    assert first["max_tokens"] == 4 and second["max_tokens"] > first["max_tokens"]


def test_case03_poisoned_cache_entry_from_an_older_version_is_asked_again(tmp_path):
    store = Store(tmp_path / "s.db")
    fake = FakeChat().enqueue("good")
    router = LLMRouter(judge_config(), store, client_factory=factory(fake))
    # what the old layer stored: the answer cached before it was parsed
    from dialin.llm.router import build_request, cache_key

    role = router.role("judge")
    prompt = router.prompt(role)
    request = build_request("llamacpp", role, prompt.render(**SENTENCES), choices=CHOICES)
    store.cache_put(cache_key("a", router.config.endpoints["a"], prompt, request),
                    {"text": "goo", "label_probs": None, "prompt_tokens": 1, "completion_tokens": 2})
    assert router.complete_sync("judge", SENTENCES, choices=CHOICES).parsed == "good"
    assert len(fake.history) == 1


def test_case03_run_with_a_judge_that_never_answers_usably_is_decided_by_the_cascade(tmp_path):
    from test_graph import fake_config, make_corpus

    texts, labels = make_corpus()
    oracle = oracle_responder(dict(zip(texts, labels)))

    def responder(request):
        judge = "grammar" in request.get("extra_body", {}) and '"good"' in request["extra_body"]["grammar"]
        return "goo" if judge else oracle(request)

    config = fake_config(tmp_path)
    config.roles["judge"] = config.roles["judge"].model_copy(update={"logprobs": False})  # no P(good) to fall on
    store = Store(config.store_path())
    result = run_discovery(corpus_from_texts(texts), config, base_urls={}, client_factory=factory(FakeChat(responder)),
                           store=store)
    verdicts = [c["verdict"] for c in result["clusters"] if c["verdict"]["source"] != "merge"]
    assert verdicts and all(v["source"] == "cascade" and "no usable answer ('goo', 3 calls)" in v["note"]
                            for v in verdicts)
    assert result["stats"]["judge"]["unusable"] > 0 and result["stats"]["judge"]["asked"] == 0
    assert store.execute("SELECT COUNT(*) AS n FROM llm_cache WHERE response LIKE '%goo%'")[0]["n"] == 0
    assert store.run(result["run_id"])["status"] == "done"


def test_case04_negative_limit_is_refused(tmp_path):
    p = write(tmp_path, "d.txt", "a\nb\nc\n")
    with pytest.raises(DataError, match=r"--limit -5 is not a row count"):
        load_corpus(p, limit=-5)
    res = cli("run", str(p), "--limit", "-5")
    assert res.exit_code == 2 and "at least 1" in res.output


def test_case05_ragged_rows_are_refused(tmp_path):
    p = write(tmp_path, "d.csv", "text,role,label\nhello,customer,greet\nbye\nthanks,agent,thank,extra\n")
    with pytest.raises(DataError, match=r"2 row\(s\) do not have the header's 3 fields \(line 3 has 1, line 4 has 4"):
        load_corpus(p, role_col="role")
    # trailing empty fields (spreadsheet exports) are not ragged
    ok = write(tmp_path, "ok.csv", "text,label\nhello,greet,,\n")
    assert load_corpus(ok, label_col="label").labels == ["greet"]


@pytest.mark.parametrize("value,kind", [({"a": 1}, "an object"), (42, "a int"), (True, "a boolean"),
                                        (["x"], "a list")])
def test_case06_jsonl_text_that_is_not_a_string_is_refused(tmp_path, value, kind):
    p = write(tmp_path, "d.jsonl", json.dumps({"text": "hello"}) + "\n" + json.dumps({"text": value}) + "\n")
    with pytest.raises(DataError, match=f"record 2: 'text' is {kind}.*not a string"):
        load_corpus(p)


def test_case06_jsonl_numeric_labels_are_fine(tmp_path):
    p = write(tmp_path, "d.jsonl", json.dumps({"text": "hi", "label": 3}) + "\n")
    assert load_corpus(p, label_col="label").labels == ["3"]


def test_case07_binary_file_is_refused_whatever_the_encoding(tmp_path):
    p = write(tmp_path, "d.csv", b"text\n\x00\x01\x02\xff\xfe binary\x00\n")
    for enc in ("latin-1", "utf-8"):
        res = cli("run", str(p), "--encoding", enc)
        assert res.exit_code == 2, res.output
        no_traceback(res)
    with pytest.raises(DataError, match="NUL bytes.*binary file"):
        load_corpus(p, encoding="latin-1")


def test_case08_utf16_with_bom_is_read_as_utf16(tmp_path):
    p = write(tmp_path, "d.csv", codecs.BOM_UTF16_LE + "text\ncaf\u00e9 ouvert?\n".encode("utf-16-le"))
    assert load_corpus(p).texts == ["caf\u00e9 ouvert?"]
    bare = write(tmp_path, "bare.csv", "text\nhello\n".encode("utf-16-le"))
    with pytest.raises(DataError, match="--encoding utf-16") as err:
        load_corpus(bare)
    assert "latin1" not in str(err.value)


def test_case09_a_150kb_field_is_read(tmp_path):
    long = "lost card " * 15_000
    p = write(tmp_path, "d.csv", f'text\n"{long}"\nshort one\n')
    assert [len(t) for t in load_corpus(p).texts] == [len(long.strip()), 9]


def test_case10_unknown_roles_are_named(tmp_path):
    p = write(tmp_path, "d.csv", "text,role\na,system\nb,42\nc,\nd,customer\ne,bot\n")
    with pytest.raises(DataError, match=r"neither customer nor agent: system \(1 rows\), 42 \(1 rows\), "
                                        r"\(blank\) \(1 rows\)"):
        load_corpus(p, role_col="role")
    ok = write(tmp_path, "ok.csv", "text,role\nd,customer\ne,bot\nf,User\n")
    assert load_corpus(ok, role_col="role").roles == ["customer", "agent", "customer"]
    with pytest.raises(DataError, match="neither customer nor agent"):
        corpus_from_texts(["a", "b"], roles=["customer", "system"])


@pytest.mark.parametrize("method,key", [({"cascade_high": 5}, "method.cascade_high"),
                                        ({"leftover_similarity": -2}, "method.leftover_similarity"),
                                        ({"merge_theta": -1}, "method.merge_theta"),
                                        ({"cascade_low": 0.9, "cascade_high": 0.5}, "cascade_low 0.9 is above"),
                                        ({"merge_tau": 1.5}, "method.merge_tau"),
                                        ({"review_band": [0.8, 0.2]}, "review_band")])
def test_case11_out_of_range_config_values_are_refused(method, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(overrides={"method": method})


def test_case11_judge_max_tokens_must_fit_the_longest_answer(tmp_path):
    with pytest.raises(ConfigError, match=r"roles\.judge\.max_tokens 2 can cut the answer 'good' short.*at least 4"):
        load_config(overrides={"roles": {"judge": {"max_tokens": 2}}})
    crowd = {"roles": {"j2": {"endpoint": "local", "model": "m", "prompt": "judge_tuned", "max_tokens": 1,
                               "logprobs": False}}}
    with pytest.raises(ConfigError, match=r"roles\.j2\.max_tokens"):
        load_config(overrides=crowd)
    root = Path(__file__).resolve().parents[2]
    for shipped in sorted((root / "configs").glob("*.yaml")):
        if "vllm" not in shipped.name:  # vllm.yaml needs $API keys only at call time; it must load too
            load_config(shipped)
    assert load_config().roles["judge"].max_tokens == 4
    assert load_config(root / "configs" / "vllm.yaml").roles["judge"].max_tokens == 4


# -- 12: run status -----------------------------------------------------------------------------------------
def test_case12_failed_and_killed_runs_get_a_status_reason_and_resume_command(tmp_path, monkeypatch, request):
    from test_graph import fake_config, make_corpus

    texts, _ = make_corpus()
    data = write(tmp_path, "d.txt", "\n".join(texts) + "\n")
    config = fake_config(tmp_path)
    store = Store(config.store_path())
    down = FakeChat().enqueue(*[EndpointUnreachable("endpoint 'local' did not answer")] * 50)
    with pytest.raises(EndpointUnreachable) as err:
        run_discovery(load_corpus(data, limit=80), config, base_urls={}, client_factory=factory(down), store=store,
                      config_path="cfg.yaml")
    note = "\n".join(err.value.__notes__)
    row = store.runs()[0]
    assert row["status"] == "failed" and "did not answer" in row["reason"]
    assert row["resume"].endswith(f"--limit 80 --config cfg.yaml --resume {row['run_id']}")
    assert row["resume"] in note and str(data.resolve()) in row["resume"]
    # a process killed outright leaves 'running' with its pid: shown as interrupted
    store.execute("UPDATE runs SET status = 'running', pid = 999999999, host = ? WHERE run_id = ?",
                  (host(), row["run_id"]))
    shown = store.runs()[0]
    assert shown["status"] == "interrupted" and "pid 999999999" in shown["reason"]
    cfg = write(tmp_path, "c.yaml", f"store: {config.store_path()}\n")
    listed = json.loads(cli("runs", "--json", "--config", str(cfg)).output)
    assert listed[0]["status"] == "interrupted" and listed[0]["resume"] == row["resume"]
    text = cli("runs", "--config", str(cfg)).output
    assert "interrupted" in text and "resume: dialin run" in text
    # Ctrl-C (a real SIGINT to this process while the judge is asked): interrupted, with the same hint
    def ctrl_c(request):
        os.kill(os.getpid(), signal.SIGINT)
        return "good"

    stop = FakeChat(ctrl_c)
    # Python's own Ctrl-C handler, as in a user's shell: an earlier test in the same process (ray.init) may have
    # installed another one
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, previous))
    with pytest.raises(KeyboardInterrupt):
        run_discovery(load_corpus(data, limit=80), config, base_urls={}, client_factory=factory(stop), store=store,
                      run_id=row["run_id"], resume=True)
    assert store.run(row["run_id"])["status"] == "interrupted"
    # and the resume finishes it
    good = FakeChat(oracle_responder({}))
    run_discovery(load_corpus(data, limit=80), config, base_urls={}, client_factory=factory(good), store=store,
                  run_id=row["run_id"], resume=True)
    done = store.runs()[0]
    assert done["status"] == "done" and done["reason"] is None and done["resume"] is None


# -- 13: a corrupt store -------------------------------------------------------------------------------------
def _store_with_runs(path: Path) -> None:
    s = Store(path)
    for i in range(200):
        s.new_run(f"data-{i}.csv", {"x": "y" * 500}, {"i": i})
    s.close()
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


@pytest.mark.parametrize("where", ["header", "later pages"])
def test_case13_corrupt_store_gives_a_clear_message(tmp_path, where):
    db = tmp_path / "store.db"
    _store_with_runs(db)
    raw = bytearray(db.read_bytes())
    if where == "header":
        raw[0:100] = b"garbage!" * 12 + b"gar!"
    else:
        for page in range(2, len(raw) // 4096):
            raw[page * 4096:page * 4096 + 64] = b"\xde\xad\xbe\xef" * 16
    db.write_bytes(bytes(raw))
    cfg = write(tmp_path, "c.yaml", f"store: {db}\n")
    data = write(tmp_path, "d.txt", "hello\nbye\n")
    for args in (["runs", "--config", str(cfg)], ["run", str(data), "--config", str(cfg)]):
        res = cli(*args)
        assert res.exit_code == 2, (args, res.output)
        assert "is damaged or not a dialin database" in res.output and "mv " in res.output, res.output
        assert "writable place" not in res.output
        no_traceback(res)


# -- 14: chat commands ----------------------------------------------------------------------------------------
def test_case14_compare_a_cluster_with_itself_and_move_an_unknown_number(view):  # noqa: F811
    from dialin.inspect.inspect_edits import move_utterance
    from dialin.inspect.queries import compare

    cid = view.result()["clusters"][0]["id"]
    with pytest.raises(DialinError, match=f"two different clusters, got {cid} twice"):
        compare(view, cid, cid)
    n = len(view.result()["unique_texts"])
    with pytest.raises(DialinError, match=f"no utterance #999: the run has {n} unique") as err:
        move_utterance(view, "#999", cid, confirm=lambda *a: True)
    assert "search_utterances" not in str(err.value) and "/search" in str(err.value)
    with pytest.raises(DialinError) as err:
        move_utterance(view, "words nobody said", cid, confirm=lambda *a: True)
    assert "search_utterances" not in str(err.value)


# -- 15: --limit 0, --encoding nonsense --------------------------------------------------------------------------
def test_case15_limit_zero_and_unknown_encoding(tmp_path):
    p = write(tmp_path, "d.csv", "text\na\nb\n")
    res = cli("run", str(p), "--limit", "0")
    assert res.exit_code == 2 and "--limit 0 is not a row count" in res.output and "header" not in res.output
    res = cli("run", str(p), "--encoding", "nonsense")
    assert res.exit_code == 2 and "unknown encoding 'nonsense'" in res.output
    no_traceback(res)


# -- 16: message details -------------------------------------------------------------------------------------------
def test_case16_unreachable_message_names_the_endpoint_and_env_override_is_named(tmp_path, monkeypatch):
    router = LLMRouter(judge_config("http://127.0.0.1:9/v1", max_retries=0), Store(":memory:"))
    with pytest.raises(EndpointUnreachable) as err:
        router.complete_sync("judge", SENTENCES, choices=CHOICES)
    assert "{endpoint}" not in str(err.value) and "endpoints.a.base_url" in str(err.value)
    cfg = write(tmp_path, "c.yaml", "method: {max_iterations: 2}\n")
    monkeypatch.setenv("DIALIN__METHOD__CASCADE_HIGH", "5")
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    msg = str(err.value)
    assert "DIALIN__ environment overrides" in msg
    assert "set by the environment variable DIALIN__METHOD__CASCADE_HIGH" in msg


# -- injected LLM faults (a local OpenAI-compatible server) ---------------------------------------------------------
@pytest.fixture
def server():
    from faultserver import FaultServer

    with FaultServer(lambda body: "good") as s:
        yield s


def fault_router(server, tmp_path, **endpoint):
    return LLMRouter(judge_config(server.url, **endpoint), Store(tmp_path / "s.db"))


@pytest.mark.parametrize("faults", [["500", "500"], ["badjson"], ["shape", "shape"], ["close"]],
                         ids=["intermittent-500", "malformed-json", "wrong-shape", "closed-mid-answer"])
def test_fault_transient_answers_are_retried(server, tmp_path, faults):
    server.faults = list(faults)
    router = fault_router(server, tmp_path)
    assert router.complete_sync("judge", SENTENCES, choices=CHOICES).parsed == "good"
    assert len(server.requests) == len(faults) + 1


@pytest.mark.parametrize("fault,message", [("500", "failed 3 times"), ("badjson", "not valid JSON"),
                                           ("shape", "not a chat completion"), ("close", "did not answer")])
def test_fault_persistent_faults_fail_with_a_clear_message(server, tmp_path, fault, message):
    server.faults = [fault] * 3
    router = fault_router(server, tmp_path)
    with pytest.raises(DialinError, match=message):
        router.complete_sync("judge", SENTENCES, choices=CHOICES)
    assert len(server.requests) == 3


def test_fault_429_waits_for_retry_after(server, tmp_path):
    import time

    server.faults = [("429", "1")]
    router = fault_router(server, tmp_path)
    t0 = time.perf_counter()
    assert router.complete_sync("judge", SENTENCES, choices=CHOICES).parsed == "good"
    assert time.perf_counter() - t0 >= 0.95 and len(server.requests) == 2


def test_fault_hang_past_the_timeout_is_retried_then_named(server, tmp_path):
    server.faults = [("hang", 3)]
    router = fault_router(server, tmp_path, timeout_s=0.5)
    assert router.complete_sync("judge", SENTENCES, choices=CHOICES).parsed == "good"
    server.faults = [("hang", 3)] * 3
    with pytest.raises(EndpointUnreachable, match=r"did not answer after 3 attempts \(APITimeoutError\).*--resume"):
        fault_router(server, tmp_path, timeout_s=0.5).complete_sync("judge", {"sentences": "- other"},
                                                                      choices=CHOICES)


def wire_oracle(gold):
    oracle = oracle_responder(gold)
    return lambda body: oracle({**body, "extra_body": {"grammar": body.get("grammar", "")}})


def test_fault_server_dies_mid_run_and_the_resume_pays_no_answer_twice(tmp_path):
    """A real run path: the openai client over HTTP, a real SQLite store and checkpoints, the toy embedder."""
    from faultserver import FaultServer
    from test_graph import fake_config, make_corpus

    texts, labels = make_corpus()
    corpus = corpus_from_texts(texts)
    with FaultServer(wire_oracle(dict(zip(texts, labels)))) as server:
        def config_in(folder: Path):
            return load_config(overrides={**json.loads(fake_config(folder).model_dump_json()),
                                          "endpoints": {"local": {"base_url": server.url, "backend": "llamacpp",
                                                                  "max_retries": 2, "timeout_s": 5,
                                                                  "connect_timeout_s": 1,
                                                                  "server_args": {"logits_all": True}}}})

        clean_cfg = config_in(tmp_path / "clean")
        clean_store = Store(clean_cfg.store_path())
        clean = run_discovery(corpus, clean_cfg, store=clean_store, base_urls={})
        paid_clean = sum(1 for c in clean_store.calls() if not c["cached"] and not c["error"])
        assert paid_clean > 6

        server.requests.clear()
        server.die_after = paid_clean // 2  # it dies half way through, mid iteration
        cfg = config_in(tmp_path / "faulty")
        store = Store(cfg.store_path())
        with pytest.raises(EndpointUnreachable, match="--resume"):
            run_discovery(corpus, cfg, store=store, base_urls={})
        row = store.runs()[0]
        assert row["status"] == "failed" and "did not answer" in row["reason"] and row["resume"]
        # the failed run left no checkpoint transaction open: a retry in this process can write
        # (before the fix, ~1 run in 4 here found "database is locked")
        probe = sqlite3.connect(checkpoint_path(cfg), timeout=0)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.rollback()
        finally:
            probe.close()
        server.restart()
        resumed = run_discovery(corpus, cfg, store=store, base_urls={}, run_id=row["run_id"], resume=True)

    def shape(result):
        return sorted((c["name"], tuple(c["members"])) for c in result["clusters"])

    assert shape(resumed) == shape(clean) and resumed["row_labels"] == clean["row_labels"]
    paid = [c["cache_key"] for c in store.calls() if not c["cached"] and not c["error"]]
    assert len(paid) == len(set(paid)), "an answer was paid twice"
    assert len(paid) == paid_clean
    assert store.run(row["run_id"])["status"] == "done"
