"""Retrieval quality of the embedded engine over the real articles in ../shared."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from tools.knowledge.embedded import EmbeddedKnowledge
from tools.knowledge.ingest import ingest_path
from tools.knowledge.tool import DEFAULT_TOP

pytestmark = pytest.mark.kbdata

QUESTIONS = Path(__file__).resolve().parents[2] / "data" / "retrieval_questions.yaml"
COLLECTION = "real"
"""The articles go into this collection; their ids are ``real/<file name>``."""
RECALL_AT_5_FLOOR = 0.975  # measured 0.988 (80 of 81); one miss of slack
"""Just under the measured recall@5, so a ranking regression fails the test."""
IN_PASSAGES_FLOOR = 0.935  # measured 0.951 (77 of 81); one miss of slack
"""Share of questions whose article is among the passages the tool hands the
model by default (``DEFAULT_TOP``): what the answer is written from."""


@pytest.fixture
async def real_kb(shared_dir: Path, tmp_path: Path) -> EmbeddedKnowledge:
    backend = EmbeddedKnowledge(tmp_path / "kb")
    await ingest_path(backend, shared_dir / "data" / "kb", collection=COLLECTION)
    return backend


def _article(doc_id: str) -> str:
    collection, _, path = doc_id.partition("/")
    assert collection == COLLECTION
    return path


def _questions() -> list[dict[str, str]]:
    return yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))


def test_question_set_is_large_enough_and_points_at_real_articles(
    shared_dir: Path,
) -> None:
    questions = _questions()

    assert len(questions) >= 60
    missing = [
        q["article"]
        for q in questions
        if not (shared_dir / "data" / "kb" / q["article"]).is_file()
    ]
    assert missing == []


async def test_recall_at_5_stays_above_the_floor(real_kb: EmbeddedKnowledge) -> None:
    ranks = []
    in_passages = 0
    for item in _questions():
        passages = await real_kb.asearch(item["question"], top=20)
        docs = list(dict.fromkeys(_article(p.doc_id) for p in passages))
        rank = docs.index(item["article"]) + 1 if item["article"] in docs else None
        ranks.append(rank)
        shown = await real_kb.asearch(item["question"], top=DEFAULT_TOP)
        in_passages += item["article"] in {_article(p.doc_id) for p in shown}
        if rank != 1:
            print(f"rank {rank}: {item['question']!r} -> {docs[:3]}")

    n = len(ranks)
    recall_1 = sum(r == 1 for r in ranks) / n
    recall_5 = sum(r is not None and r <= 5 for r in ranks) / n
    mrr = sum(1 / r for r in ranks if r) / n
    shown_share = in_passages / n
    print(
        f"recall@1={recall_1:.3f} recall@5={recall_5:.3f} MRR={mrr:.3f} "
        f"in-{DEFAULT_TOP}-passages={shown_share:.3f} (n={n})"
    )

    assert recall_5 >= RECALL_AT_5_FLOOR
    assert shown_share >= IN_PASSAGES_FLOOR


async def test_outlook_password_prompts_find_the_microsoft_article_first(
    real_kb: EmbeddedKnowledge,
) -> None:
    passages = await real_kb.asearch("Outlook keeps asking for my password", top=5)

    assert (
        passages[0].doc_id == "real/outlook-continually-prompts-password-office-365.md"
    )
    assert passages[0].url is not None
    assert passages[0].url.startswith("https://github.com/MicrosoftDocs/")


async def test_outlook_password_prompts_are_not_crowded_out_by_one_article(
    real_kb: EmbeddedKnowledge,
) -> None:
    passages = await real_kb.asearch("Outlook keeps asking for my password", top=6)

    per_article = Counter(p.doc_id for p in passages)
    assert len(passages) == 6
    assert max(per_article.values()) <= 2
    assert [p.score for p in passages] == sorted(
        (p.score for p in passages), reverse=True
    )


async def test_the_self_diagnosis_link_survives_chunking(
    real_kb: EmbeddedKnowledge,
) -> None:
    passages = await real_kb.asearch("Outlook keeps asking for my password", top=1)

    assert (
        "Diag: Outlook keeps asking for my password "
        "(https://aka.ms/SaRA-OutlookPwdPrompt)"
    ) in passages[0].text
