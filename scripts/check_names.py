"""Issue 21's check of a run's names: no proper noun (a person, a place), at most 5% of names with a word
held by fewer than 20% of the cluster's members.

    python scripts/check_names.py OUT/clusters.jsonl CORPUS.jsonl [--text-col text]

Prints every name with its cluster's size, then the names that fail; exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import sys

from dialin.tools.name_audit import audit_names


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("clusters")
    ap.add_argument("corpus")
    ap.add_argument("--text-col", default="text")
    a = ap.parse_args()
    clusters = [json.loads(line) for line in open(a.clusters, encoding="utf-8")]
    named = [(c["name"], c["members"]) for c in clusters if c["id"] >= 0]
    corpus = [json.loads(line)[a.text_col] for line in open(a.corpus, encoding="utf-8") if line.strip()]
    rep = audit_names(named, corpus)
    for name, members in named:
        print(f"{name}  ({len(members)})")
    print(f"\n{rep['names']} names; with a proper noun: {len(rep['proper_noun'])} {rep['proper_noun']}")
    print(f"objectives dialin sets (an act's addressee, personal data, none found): {rep['set_objective']}")
    print(f"with a word held by < 20% of members: {len(rep['rare_word'])} ({rep['rare_share']:.1%})")
    for r in rep["rare_word"]:
        print(f"  {r['name']}: {', '.join(r['words'])} of {r['members']}")
    return 0 if not rep["proper_noun"] and rep["rare_share"] <= 0.05 else 1


if __name__ == "__main__":
    sys.exit(main())
