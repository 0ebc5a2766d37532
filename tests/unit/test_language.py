"""Language detection, the tokenizer each language gets, and what `dialin run` picks by itself (issue 20)."""

from __future__ import annotations

import pytest

from dialin.agents.namer import is_valid_name, normalise_name
from dialin.config import load_config
from dialin.errors import ConfigError
from dialin.tools.keywords import KeywordIndex, tokens
from dialin.tools.language import cjk_tokens, detect_language, resolve_language, tokenizer_for, unicode_tokens
from dialin.tools.name_audit import audit_names
from dialin.tools.name_words import WordFacts, action_support, candidate_actions

ZH = ["我的银行卡丢了，怎么办？", "银行卡丢了，麻烦帮我挂失一下。", "卡被偷了，钱包整个都不见了。", "我想查一下我的账户余额。",
      "请问我卡里还有多少钱？", "余额多少？"]
ES = ["Hola, he perdido mi tarjeta de débito.", "¿Me puede decir mi saldo, por favor?", "Quiero cambiar la contraseña."]
EN = ["I lost my card", "what is my balance please", "how do I reset my password?"]


def test_detects_the_language() -> None:
    assert detect_language(ZH) == "zh"
    assert detect_language(ES) == "es"
    assert detect_language(EN) == "en"
    assert detect_language(ES + EN) == "mixed"
    assert detect_language(["12345", "..."]) == "en"  # nothing to tell: the English default


def test_english_keeps_its_tokenizer_exactly() -> None:
    assert tokenizer_for("en") is tokens
    assert KeywordIndex(EN).tokenize is tokens


def test_chinese_ngrams_hold_the_words_members_share() -> None:
    grams = cjk_tokens("我的银行卡丢了，APP也打不开")
    assert {"银行", "银行卡", "行卡", "app"} <= set(grams)
    assert not {"我的", "卡丢了", "丢了"} & set(grams)  # no n-gram starts or ends with a particle
    facts = WordFacts(ZH, cjk_tokens, joined=True)
    words = [w for w, _ in facts.objective_words(ZH[:2])]
    assert sum(w in ("银行卡", "银行", "行卡") for w in words) == 1  # one of the overlapping n-grams, not three
    assert not any(a != b and (a in b or a[1:] == b[:-1]) for a in words for b in words)


def test_unicode_words_keep_accents_and_drop_spanish_stop_words() -> None:
    assert unicode_tokens("¿Me puede decir mi saldo, por favor? contraseña") == ["puede", "decir", "saldo", "contraseña"]


def test_chinese_names_and_actions() -> None:
    assert normalise_name("report-银行卡_丢失") == "report-银行卡_丢失" and is_valid_name("report-银行卡_丢失")
    assert normalise_name("Report Lost Card") == "report-lost_card"  # English as before
    assert action_support(ZH[:3], ["report", "thank"]) == {"report": 1.0, "thank": 0.0}
    assert candidate_actions(["谢谢你。", "太感谢了！", "多谢！"], "customer") == (["thank"], "thank")


def test_run_picks_the_multilingual_embedder_and_says_so(tmp_path) -> None:  # noqa: ANN001
    config = load_config(overrides={"store": str(tmp_path / "s.db")})
    same, note = resolve_language(EN, config)
    assert same is config and note is None  # English: the config exactly as it was
    zh, note = resolve_language(ZH, config)
    assert zh.method.language == "zh" and zh.embedder.kind == "use"
    assert "Chinese (detected" in note and ("jieba words" in note or "character bigrams" in note) and "use" in note
    told, note = resolve_language(EN, config, "es")
    assert told.method.language == "es" and "as told" in note
    mine = load_config(overrides={"store": str(tmp_path / "s.db"), "embedder": {"kind": "toy"}})
    kept, note = resolve_language(ZH, mine)
    assert kept.embedder.kind == "toy" and "as configured" in note
    with pytest.raises(ConfigError, match="not a language code"):
        resolve_language(ZH, config, "chinese!")


def test_the_audit_reads_chinese_words_in_the_members_text() -> None:
    lost, balance = ZH[:3], ZH[3:]
    rep = audit_names([("report-银行卡", lost), ("inquire-余额", balance), ("inquire-密码", balance)], ZH)
    assert [r["name"] for r in rep["rare_word"]] == ["inquire-密码"]  # 密码 is in no member: 0% of them
    assert rep["rare_share"] == round(1 / 3, 4)
    held = audit_names([("report-银行卡", lost)], ZH, floor=0.7)  # 银行卡 is in 2 of the 3 members
    assert [r["words"] for r in held["rare_word"]] == [["银行卡 67%"]]
