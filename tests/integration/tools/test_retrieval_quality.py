"""Retrieval quality of the embedded engine over the real articles in ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tools.knowledge.embedded import EmbeddedKnowledge
from tools.knowledge.ingest import ingest_path

pytestmark = pytest.mark.kbdata

QUESTIONS = Path(__file__).resolve().parents[2] / "data" / "retrieval_questions.yaml"
RECALL_AT_5_FLOOR = 0.975  # measured 0.988 (80 of 81); one miss of slack
"""Just under the measured recall@5, so a ranking regression fails the test."""


@pytest.fixture
async def real_kb(shared_dir: Path, tmp_path: Path) -> EmbeddedKnowledge:
    backend = EmbeddedKnowledge(tmp_path / "kb")
    await ingest_path(backend, shared_dir / "data" / "kb")
    return backend


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
    for item in _questions():
        passages = await real_kb.asearch(item["question"], top=20)
        docs = list(dict.fromkeys(p.doc_id for p in passages))
        rank = docs.index(item["article"]) + 1 if item["article"] in docs else None
        ranks.append(rank)
        if rank != 1:
            print(f"rank {rank}: {item['question']!r} -> {docs[:3]}")

    n = len(ranks)
    recall_1 = sum(r == 1 for r in ranks) / n
    recall_5 = sum(r is not None and r <= 5 for r in ranks) / n
    mrr = sum(1 / r for r in ranks if r) / n
    print(f"recall@1={recall_1:.3f} recall@5={recall_5:.3f} MRR={mrr:.3f} (n={n})")

    assert recall_5 >= RECALL_AT_5_FLOOR


async def test_outlook_password_prompts_find_the_microsoft_article_first(
    real_kb: EmbeddedKnowledge,
) -> None:
    passages = await real_kb.asearch("Outlook keeps asking for my password", top=5)

    assert passages[0].doc_id == "outlook-continually-prompts-password-office-365.md"
    assert passages[0].url is not None
    assert passages[0].url.startswith("https://github.com/MicrosoftDocs/")
