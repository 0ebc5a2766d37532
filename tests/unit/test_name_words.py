"""Grounded names (issue 21): words most members share, no proper nouns, dates or filler; actions the
members do, within the speaker role's verbs; a namer's answer checked against the same rules."""

from __future__ import annotations

import asyncio
import re

from dialin.agents.namer import is_valid_name
from dialin.tools.name_audit import audit_names, explain_name
from dialin.tools.name_words import WordFacts, action_support, candidate_actions, proper_nouns, role_actions
from dialin.tools.naming import answer_ok, grounded_name, name_cluster
from fakes import FakeChat, WordEncoder, naming_router


LOST = ["I lost my card yesterday, it's Anil Bennett speaking",
        "my card is lost, I think it was stolen in Cardiff",
        "lost card, yep, please help",
        "I've lost my debit card somewhere in town",
        "Sorry, my card has been stolen, it's Margaret Orchard",
        "card gone, lost it at the station"]
OTHER = ["what is my balance", "how much is in my account", "Anil Bennett here, balance please",
         "I'd like to talk to Margaret please", "we met in Cardiff in October", "send money to Dave Brooks"]
CORPUS = LOST + OTHER


def test_capitalised_words_inside_sentences_are_proper_nouns() -> None:
    found = proper_nouns(CORPUS + ["Her name is Anil, and PIN codes are not names", "Sorry about that"])
    assert {"anil", "bennett", "cardiff", "margaret", "orchard", "october", "dave", "brooks"} <= found
    assert not {"pin", "sorry", "i", "card", "lost"} & found  # acronyms, sentence starts and lower-case words


def test_objective_words_are_shared_by_most_members_and_never_names_or_filler() -> None:
    facts = WordFacts(CORPUS)
    words = dict(facts.objective_words(LOST))
    assert set(words) == {"card", "lost", "stolen"}  # anil, bennett, cardiff, yep, sorry never; debit: 1 of 6
    assert words["card"] == 1.0 and words["lost"] == 5 / 6
    assert all(c >= 0.25 for c in words.values())
    assert facts.key("dogs") == "dogs" and facts.key("glass") == "glass" and WordFacts(["card", "cards"]).key("cards") == "card"


def test_actions_come_from_what_members_do_within_the_role() -> None:
    assert action_support(LOST, ["report", "thank"]) == {"report": 1.0, "thank": 0.0}
    assert "inquire" not in role_actions("agent") and "explain" not in role_actions("customer")
    assert "explain" in role_actions("assistant") and "inquire" in role_actions(None)
    acts, outright = candidate_actions(["thanks so much", "cheers, that's great", "thank you!"], "customer")
    assert (acts, outright) == (["thank"], "thank")
    acts, outright = candidate_actions(LOST, "customer")
    assert outright is None and "report" in acts and "explain" not in acts and "thank" not in acts


def test_the_grounded_name_is_made_of_shared_words() -> None:
    enc = WordEncoder(256)
    facts = WordFacts(CORPUS)
    name = grounded_name(enc, enc.encode(LOST), LOST, facts, role="customer")
    assert is_valid_name(name) and name.startswith("report-") and "card" in name
    assert not re.search("anil|bennett|cardiff|margaret|yep|sorry|debit", name)
    thanks = ["thanks so much", "cheers, that's great", "thank you, bye"]
    assert grounded_name(enc, enc.encode(thanks), thanks, WordFacts(thanks + CORPUS), "customer") == "thank-agent"
    hello = ["Good morning, you're speaking with Priya", "Hello, Kestrel Bank, how can I help?", "Hi there"]
    assert grounded_name(enc, enc.encode(hello), hello, WordFacts(hello + CORPUS), "agent") == "greet-customer"


def test_a_namers_answer_is_checked_against_the_same_rules() -> None:
    facts = WordFacts(CORPUS)
    assert answer_ok("report-lost_card", LOST, facts, "customer")
    assert answer_ok("report-missing_card", LOST, facts, "customer")  # 'missing': no corpus word, an abstraction
    assert not answer_ok("report-anil_bennett", LOST, facts, "customer")  # a person's name
    assert not answer_ok("report-debit_card", LOST, facts, "customer")  # debit: 1 member of 6
    assert not answer_ok("report-card_yep", LOST, facts, "customer")  # filler
    assert not answer_ok("explain-lost_card", LOST, facts, "customer")  # an agent's verb for customers
    assert not answer_ok("other-unspecified", LOST, facts, None)


def test_a_namer_that_breaks_the_rules_gives_way_to_the_grounded_name(tmp_path) -> None:  # noqa: ANN001
    enc = WordEncoder(256)
    facts = WordFacts(CORPUS)
    grounded = grounded_name(enc, enc.encode(LOST), LOST, facts, role="customer")
    for k, (answer, mode, expected) in enumerate([("report-anil_bennett", "llm", grounded),  # fails: the grounded name
                                   ("report-lost_card", "llm", "report-lost_card"),  # keeps the rules: as it is
                                   ("report-anil_bennett", "select", grounded)]):  # cannot compete
        fake = FakeChat(lambda request, a=answer: a)
        (tmp_path / str(k)).mkdir()  # a store each: the LLM cache would answer the second ask
        name = asyncio.run(name_cluster(naming_router(tmp_path / str(k), fake, mode), enc, LOST, ["card"], enc.encode(LOST),
                                        mode=mode, grounded=False, texts=LOST, facts=facts, role="customer"))
        assert name == expected and len(fake.history) == 1


def test_explain_and_audit_show_coverage() -> None:
    facts = WordFacts(CORPUS)
    why = explain_name("report-lost_card", LOST, facts)
    assert why.startswith("lost 83% · card 100% · action report 100%") and why.endswith("(of 6 members)")
    assert "(filler/proper noun/date)" in explain_name("report-card_anil", LOST, facts)
    rep = audit_names([("report-lost_card", LOST), ("report-card_bennett", LOST), ("report-debit_card", LOST)],
                      CORPUS)
    assert rep["proper_noun"] == ["report-card_bennett"]
    assert [r["name"] for r in rep["rare_word"]] == ["report-card_bennett", "report-debit_card"]
    assert rep["rare_share"] == round(2 / 3, 4)


def test_members_giving_their_details_are_named_so_not_by_their_names() -> None:
    details = ["It's Anil Bennett, 12 March 1984", "Margaret Orchard, born 3 June 1979", "Rhys Doherty, CF10 4AB"]
    corpus = details + CORPUS
    enc = WordEncoder(256)
    name = grounded_name(enc, enc.encode(details), details, WordFacts(corpus), "customer")
    assert name == "provide-personal_details"
    rep = audit_names([("thank-agent", ["thanks"]), (name, details)], corpus)
    assert rep["set_objective"] == ["thank-agent", name] and rep["rare_word"] == [] and rep["proper_noun"] == []


def test_a_farewell_cluster_is_close_conversation_not_closing_an_account() -> None:
    enc = WordEncoder(256)
    bye = ["No problem at all, have a great weekend!", "Take care, bye now", "You're welcome, have a lovely day"]
    facts = WordFacts(bye + CORPUS)
    assert grounded_name(enc, enc.encode(bye), bye, facts, "agent") == "close-conversation"
    closing = ["I want to close my account", "please close my savings account", "how do I close my account"]
    acts, outright = candidate_actions(closing, "customer")
    assert outright is None and "close" in acts  # closing an account is no farewell


def test_with_no_role_a_common_act_competes_with_the_shared_words() -> None:
    enc = WordEncoder(256)
    praise = ["thanks, that was really helpful", "thank you, helpful as ever", "cheers, very helpful"]
    facts = WordFacts(praise + CORPUS)
    assert grounded_name(enc, enc.encode(praise), praise, facts, None) in ("thank-you", "thank-helpful")
    assert grounded_name(enc, enc.encode(praise), praise, facts, "customer") == "thank-agent"  # role known: set


def test_having_lost_something_is_no_confirmation_and_time_is_a_word() -> None:
    assert action_support(["I've lost my card", "I have lost my wallet"], ["confirm", "report"]) == \
        {"confirm": 0.0, "report": 1.0}
    assert WordFacts(["what time is it"]).allowed("time")


def test_a_brand_most_members_hold_is_a_topic_a_name_a_few_hold_is_not() -> None:
    cards = ["Can I get a Visa card?", "Do you offer Visa or Mastercard?", "I want a Visa debit card",
             "Is my card a Visa?"]
    facts = WordFacts(cards + CORPUS)
    assert "visa" in facts.proper and "visa" in dict(facts.objective_words(cards))
    assert "bennett" not in dict(facts.objective_words(LOST))  # 2 of 6 hold it: a person, never a topic


def test_an_ies_plural_counts_for_its_singular_in_coverage_and_the_audit() -> None:
    fiat = ["which currencies do you support", "can I hold several currencies", "what currency can I hold",
            "do you support my currency", "can I exchange money"]
    facts = WordFacts(fiat + CORPUS)
    assert facts.key("currencies") == "currency" and facts.key("series") == "series"
    assert dict(facts.objective_words(fiat))["currency"] == 0.8  # 4 of 5, not 2 + 2 under two spellings
    assert audit_names([("inquire-currency_support", fiat)], fiat + CORPUS)["rare_word"] == []


def test_an_ordinal_is_a_word_a_number_read_out_is_not() -> None:
    spare = ["can I get a second card", "I need a second card for my partner", "how much is a second card",
             "order four five six"]
    facts = WordFacts(spare + CORPUS)
    words = dict(facts.objective_words(spare))
    assert "second" in words and "four" not in words and not facts.allowed("five")


def test_short_thanks_are_thanks() -> None:
    acts, outright = candidate_actions(["sweet ty", "ty!!", "ta", "thx a lot"], "customer")
    assert (acts, outright) == (["thank"], "thank")


def test_a_word_is_written_as_most_members_write_it() -> None:
    hacked = ["there are transactions I never made", "strange transactions on my card", "I see a transaction I didn't make",
              "who made these transactions"]
    facts = WordFacts(hacked + CORPUS)
    words = dict(facts.objective_words(hacked))
    assert words["transactions"] == 1.0 and "transaction" not in words  # counted together, spelt as 3 of 4 write it
    assert audit_names([("report-strange_transactions", hacked)], hacked + CORPUS)["rare_word"] == []


TOPUP = ["my top up failed", "why did the top up fail", "top up keeps failing", "the top up fails every time",
         "topped up but nothing happened"]


def test_a_verb_form_counts_for_its_base_in_coverage_and_the_audit() -> None:
    facts = WordFacts(TOPUP + CORPUS)
    assert facts.key("failed") == facts.key("failing") == facts.key("fails") == "fail"
    assert facts.key("exchanging") == "exchanging"  # no base in the corpus: left as it is
    assert WordFacts(["exchange", "exchanging", "transfer", "transferred", "apply"]).key("transferred") == "transfer"
    assert WordFacts(["end", "ending"]).key("ending") == "ending"  # filler keeps its form (ending is filler, end is not)
    assert dict(facts.objective_words(TOPUP))["fail"] == 0.8  # 4 of 5, not 1 + 1 + 1 + 1 under four spellings


def test_the_audit_counts_a_verb_form_for_its_base() -> None:
    six = TOPUP + ["top up again please"]
    rep = audit_names([("report-top_failing", six), ("report-top_fail", six)], six + CORPUS)
    assert rep["rare_word"] == []  # failed, fail, failing, fails: 4 of 6 members, not "failing" alone (1 of 6)


BROKEN = ["my card is not working", "card isn't working at all", "why is my card not working",
          "the card doesn't work in shops", "card working again?"]


def test_a_word_most_holders_negate_is_named_with_not() -> None:
    facts = WordFacts(BROKEN + CORPUS)
    words = dict(facts.objective_words(BROKEN))
    assert "not_working" in words and "working" not in words and "isn" not in words and "doesn" not in words
    assert "not_card" not in words  # "isn't working": the card is not negated
    rep = audit_names([("report-card_not_working", BROKEN)], BROKEN + CORPUS)
    assert rep["rare_word"] == []  # "not": every member with a negation (isn't, doesn't)
    assert "not 80%" in explain_name("report-card_not_working", BROKEN, facts)


def test_contraction_stumps_and_currency_codes_are_never_words() -> None:
    facts = WordFacts(CORPUS)
    assert not facts.allowed("isn") and not facts.allowed("didn") and not facts.allowed("gbp")
    assert not facts.allowed("aud") and facts.allowed("currency")


def test_an_objective_follows_the_members_word_order() -> None:
    rate = ["the exchange rate is wrong", "which exchange rate do you use", "exchange rate for euros",
            "rate of exchange today"]
    facts = WordFacts(rate + CORPUS)
    assert facts.phrase_order(("rate", "exchange"), rate) == ("exchange", "rate")  # 3 of 4 write exchange first
    assert facts.phrase_order(("rate", "not_wrong", "exchange"), rate)[0] == "exchange"
    assert facts.phrase_order(("card",), rate) == ("card",)
