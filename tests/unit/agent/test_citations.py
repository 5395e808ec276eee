"""Citation markers mapped to passages, renumbered in order of first use."""

from __future__ import annotations

from langchain_core.messages import ToolMessage

from agent.citations import SNIPPET_CHARS, apply_citations, passages_by_number


def _p(n: int, text: str = "text") -> dict:
    return {"chunk_id": f"c{n}", "title": f"T{n}", "source": f"s{n}.md", "text": text}


def test_markers_renumbered_densely_in_order_of_first_use():
    passages = {1: _p(1), 2: _p(2), 3: _p(3)}

    text, cited = apply_citations("Do B [3]. Then A [1]. B again [3].", passages)

    assert text == "Do B [1]. Then A [2]. B again [1]."
    assert [(c.position, c.title) for c in cited] == [(1, "T3"), (2, "T1")]


def test_unknown_numbers_dropped():
    text, cited = apply_citations("Real [1]. Made up [7].", {1: _p(1)})

    assert text == "Real [1]. Made up."
    assert len(cited) == 1


def test_grouped_markers_and_duplicate_chunks():
    passages = {1: _p(1), 2: _p(2), 3: _p(1)}

    text, cited = apply_citations("Both [2, 1] and same [3].", passages)

    assert text == "Both [1][2] and same [2]."
    assert [c.title for c in cited] == ["T2", "T1"]


def test_snippet_is_short():
    _, cited = apply_citations("x [1]", {1: _p(1, "word " * 200)})

    assert len(cited[0].snippet) <= SNIPPET_CHARS
    assert cited[0].snippet.endswith("…")


def test_passages_collected_from_tool_artifacts_latest_wins():
    first = ToolMessage(
        content="", tool_call_id="a", artifact={"passages": [_p(1), _p(2)]}
    )
    second = ToolMessage(content="", tool_call_id="b", artifact={"passages": [_p(3)]})
    other = ToolMessage(content="", tool_call_id="c", artifact={"id": "INC1"})

    numbered = passages_by_number([first, other, second])

    assert numbered[1]["chunk_id"] == "c3"
    assert numbered[2]["chunk_id"] == "c2"


def test_chunks_of_one_article_share_one_citation() -> None:
    passages = {
        1: {
            "chunk_id": "vpn-mac#0",
            "doc_id": "vpn-mac",
            "title": "VPN on a Mac",
            "source": "https://intranet.example/vpn-mac",
            "text": "Install it.",
        },
        2: {
            "chunk_id": "vpn-mac#2",
            "doc_id": "vpn-mac",
            "title": "VPN on a Mac",
            "source": "https://intranet.example/vpn-mac",
            "text": "Allow it.",
        },
        3: {
            "chunk_id": "wifi#0",
            "doc_id": "wifi",
            "title": "Wi-Fi",
            "source": "https://intranet.example/wifi",
            "text": "Join it.",
        },
    }

    text, cited = apply_citations("Install [1]. Allow [2]. Join [3].", passages)

    assert text == "Install [1]. Allow [1]. Join [2]."
    assert [(c.position, c.title) for c in cited] == [(1, "VPN on a Mac"), (2, "Wi-Fi")]
    assert cited[0].snippet == "Install it."
