"""Chinese names (issues 20, 21): no person's name or honorific gets into an intent name; the report's
"why", the chat's /rename preview and its key-word search work on Chinese text."""

from __future__ import annotations

from dialin.agents.namer import is_valid_name
from dialin.inspect import inspect_edits, queries
from dialin.inspect.report import report_data
from dialin.tools.language import cjk_tokens
from dialin.tools.name_audit import audit_names, explain_clusters
from dialin.tools.name_words import WordFacts
from dialin.tools.naming import grounded_name
from dialin.tools.zh_person import zh_person_names
from fakes import WordEncoder
from inspect_runs import base_run, view  # noqa: F401  (fixtures)

DETAILS = ["我叫胡军，身份证后四位是5887。", "我叫孙悦，预留手机号是15701896060。", "朱琳，生日5月13日。",
           "我叫孙悦，身份证后四位是7370。", "姓名陈静，身份证号码后六位158782。", "我是户主谢涛，证件号尾号2405。"]
AGENT = ["好的朱先生，您的地址已经更新好了。", "好的孙先生，账户已经解锁。", "好的何女士，信用卡已经为您注销了。",
         "您好，红隼银行客服小吴，请问有什么可以帮您？"]
LOST = ["我的信用卡丢了，怎么办？", "信用卡不见了，麻烦帮我挂失。", "信用卡好像被偷了，请帮我挂失。", "我的信用卡丢失了。"]
CORPUS = DETAILS + AGENT + LOST + ["我想查一下余额。", "转账三天了还没到账。"]


def test_names_are_found_where_the_text_says_so() -> None:
    p = zh_person_names(CORPUS)
    assert {"胡军", "孙悦", "朱琳", "陈静", "谢涛", "小吴"} <= p.names and {"朱", "孙", "何"} <= p.surnames
    assert all(p.holds(w) for w in ["孙悦", "叫孙悦", "胡军", "先生", "朱先", "女士", "小吴"])
    assert not any(p.holds(w) for w in ["信用卡", "挂失", "余额", "转账"])
    facts = WordFacts(CORPUS, cjk_tokens, joined=True)
    assert not facts.allowed("孙悦") and facts.allowed("信用卡")


def test_no_person_name_or_honorific_names_a_cluster() -> None:
    enc = WordEncoder(256)
    facts = WordFacts(CORPUS, cjk_tokens, joined=True)
    for members in (DETAILS, AGENT[:3]):
        name = grounded_name(enc, enc.encode(members), members, facts, None)
        assert is_valid_name(name)
        assert not any(n in name for n in ["胡军", "孙悦", "朱琳", "陈静", "谢涛", "先生", "女士"]), name
    lost = grounded_name(enc, enc.encode(LOST), LOST, facts, "customer")
    assert "信用" in lost or "挂失" in lost, lost
    rep = audit_names([("provide-孙悦", DETAILS), (lost, LOST)], CORPUS)
    assert rep["proper_noun"] == ["provide-孙悦"]


def test_why_a_chinese_name_was_chosen() -> None:
    result = {"unique_texts": CORPUS, "clusters": [{"id": 0, "name": "report-信用卡_挂失",
                                                     "members": [CORPUS.index(t) for t in LOST]}]}
    why = explain_clusters(result)[0]
    assert why.startswith("信用卡 100% · 挂失 50% · action report") and why.endswith("(of 4 members)")


def test_report_and_rename_show_why(view, tmp_path):  # noqa: F811
    result = view.result()
    data = report_data(result, None)
    assert all(c["why"] and "% (of" in c["why"] for c in data["clusters"])
    cid = result["clusters"][0]["id"]
    shown = []
    out = inspect_edits.rename_cluster(view, cid, "request-refund_money", confirm=lambda a, p: shown.append(p) or False)
    assert out.startswith("cancelled") and "why 'request-refund_money': refund" in shown[0] and "action request" in shown[0]


class _View:
    def __init__(self, result: dict) -> None:
        self._r = result

    def result(self) -> dict:
        return self._r


def test_keyword_search_finds_chinese_text() -> None:
    result = {"unique_texts": CORPUS, "clusters": [{"id": 3, "name": "report-信用卡_挂失",
                                                     "members": [CORPUS.index(t) for t in LOST]}]}
    out = queries.search(_View(result), "挂失", mode="keyword")
    assert out.startswith("2 utterances contain '挂失'") and "cluster 3 'report-信用卡_挂失'" in out
    both = queries.search(_View(result), "信用卡 挂失", mode="keyword")
    assert both.startswith("2 utterances")
    assert queries.search(_View(result), "贷款", mode="keyword").startswith("no utterance contains")


def test_customers_stating_their_names_give_personal_details() -> None:
    enc = WordEncoder(256)
    facts = WordFacts(CORPUS, cjk_tokens, joined=True)
    assert grounded_name(enc, enc.encode(DETAILS), DETAILS, facts, "customer") == "provide-个人信息"
    assert grounded_name(enc, enc.encode(DETAILS), DETAILS, facts, None) != "provide-个人信息"  # role unknown: words


def test_jieba_gives_whole_words() -> None:
    import pytest

    pytest.importorskip("jieba")
    from dialin.tools.language import tokenizer_for, zh_word_tokens

    assert tokenizer_for("zh") is zh_word_tokens
    words = zh_word_tokens("您也可以在手机银行的“个人信息”里自己修改地址。APP闪退")
    assert {"手机", "银行", "个人信息", "修改", "地址", "app"} <= set(words) and "您也" not in words
