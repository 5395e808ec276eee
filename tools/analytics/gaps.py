"""Questions the knowledge base could not answer, grouped by topic.

The knowledge base has no categories to group by, so the grouping is by
words, and deliberately simple enough to explain in one sentence: each
question's topic is its content word that occurs in the most questions of
the set (on a tie, the word the question names first). A content word is a
word of three or more letters that is not a common English word or a
request word ("help", "need", "how"); a plural's trailing "s" is dropped so
that "printer" and "printers" meet. Questions with no content word go under
``(other)``.

So five questions about "vpn" and two about "printer" make two groups, and a
question that names both goes to "vpn", the commoner word.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

OTHER = "(other)"
EXAMPLES_PER_TOPIC = 3

_WORD = re.compile(r"[a-z][a-z0-9'-]*[a-z0-9]|[a-z]")
_STOP_WORDS = frozenset(
    (
        "a",
        "about",
        "after",
        "again",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "but",
        "by",
        "can",
        "cannot",
        "can't",
        "could",
        "did",
        "didn't",
        "do",
        "does",
        "doesn't",
        "doing",
        "don't",
        "for",
        "from",
        "get",
        "gets",
        "getting",
        "got",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "his",
        "how",
        "i",
        "i'm",
        "if",
        "in",
        "into",
        "is",
        "isn't",
        "it",
        "it's",
        "its",
        "just",
        "keep",
        "keeps",
        "let",
        "me",
        "more",
        "most",
        "my",
        "need",
        "needs",
        "no",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "out",
        "over",
        "please",
        "same",
        "she",
        "should",
        "so",
        "some",
        "still",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "too",
        "try",
        "trying",
        "tried",
        "under",
        "until",
        "up",
        "us",
        "use",
        "using",
        "very",
        "want",
        "wants",
        "was",
        "wasn't",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "why",
        "will",
        "with",
        "won't",
        "would",
        "you",
        "your",
        "yours",
        "anyone",
        "someone",
        "something",
        "anything",
        "work",
        "working",
        "works",
        "help",
        "hello",
        "hi",
        "thanks",
        "thank",
        "know",
        "able",
        "redacted",
    )
)


@dataclass(frozen=True, slots=True)
class GapTopic:
    """One topic of unanswered questions.

    Attributes:
        topic: the shared word, or ``(other)``.
        count: how many questions went here.
        examples: up to :data:`EXAMPLES_PER_TOPIC` of them, most recent first.
    """

    topic: str
    count: int
    examples: list[str] = field(default_factory=list)


def content_words(question: str) -> list[str]:
    """The words of ``question`` that can name a topic (see the module
    docstring), each once, in the order the question has them."""
    words: list[str] = []
    for word in _WORD.findall(question.lower()):
        if len(word) < 3 or word in _STOP_WORDS:
            continue
        if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        if word not in words:
            words.append(word)
    return words


def group_gaps(questions: Iterable[str]) -> list[GapTopic]:
    """Group ``questions`` (oldest first) by topic, biggest topic first.

    Returns:
        The topics, by count then name; each with its most recent examples.
    """
    asked = [q for q in questions if q]
    words_of = [content_words(q) for q in asked]
    frequency: Counter[str] = Counter(w for words in words_of for w in words)

    members: dict[str, list[str]] = {}
    for question, words in zip(asked, words_of, strict=True):
        # max() keeps the first of equals: the word the question names first.
        topic = max(words, key=lambda w: frequency[w]) if words else OTHER
        members.setdefault(topic, []).append(question)

    topics = [
        GapTopic(topic, len(found), list(reversed(found))[:EXAMPLES_PER_TOPIC])
        for topic, found in members.items()
    ]
    return sorted(topics, key=lambda t: (-t.count, t.topic == OTHER, t.topic))
