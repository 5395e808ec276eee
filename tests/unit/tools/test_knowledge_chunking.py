"""Chunking: titles, sources and heading paths a citation needs, at a sane size."""

from __future__ import annotations

import pytest

from tools.knowledge.chunking import MAX_CHARS, parse_document

MARKDOWN = """---
title: Connect to the VPN on a Mac
source: https://intranet.contoso.example/it/vpn-mac
---
# VPN on macOS

Use the VPN when you work away from the office.

## Install

Open Self Service and install the VPN client.

### Sign in

Enter vpn.contoso.example and sign in with MFA.

```
# not a heading, just a comment in a code block
```
"""


def test_markdown_chunks_carry_title_source_and_heading_path() -> None:
    doc = parse_document(MARKDOWN, "network/vpn-mac.md")

    assert doc.title == "Connect to the VPN on a Mac"
    assert [c.section for c in doc.chunks] == ["", "Install", "Install > Sign in"]
    assert {c.source for c in doc.chunks} == {
        "https://intranet.contoso.example/it/vpn-mac"
    }
    assert doc.chunks[2].chunk_id == "network/vpn-mac.md#2"
    assert "# not a heading" in doc.chunks[2].text


def test_markdown_without_front_matter_uses_h1_and_file_name_as_source() -> None:
    doc = parse_document("# Printer setup\n\nPick the printer.\n", "printers.md")

    assert doc.title == "Printer setup"
    assert doc.chunks[0].source == "printers.md"


def test_a_known_url_is_the_source_when_the_article_names_none() -> None:
    doc = parse_document(
        "# Reset\n\nText.\n", "reset.md", source="https://learn.example/reset"
    )

    assert doc.chunks[0].source == "https://learn.example/reset"


def test_docfx_markup_does_not_reach_the_text() -> None:
    raw = (
        '# T\n\n:::image type="content" source="a.png" alt-text="x":::\n\n'
        "> [!NOTE]\n> Read **first**.\n\n"
        '>[!div class="nextstepaction"]\n> [!Important]\n'
        "Watch [!VIDEO https://video.example/e/1] and "
        "[!INCLUDE [updates](~/includes/updates.md)] this.&nbsp;Done &gt; ok\n"
    )

    text = parse_document(raw, "t.md").chunks[0].text

    assert text == "Read first.\n\nWatch and this. Done > ok"


@pytest.mark.parametrize(
    ("markdown", "text"),
    [
        pytest.param(
            ">[Diag: Outlook keeps asking for my password](https://aka.ms/SaRA-OutlookPwdPrompt)",
            "Diag: Outlook keeps asking for my password (https://aka.ms/SaRA-OutlookPwdPrompt)",
            id="web-link-keeps-its-url",
        ),
        pytest.param(
            'See [old docs](https://x.example/cc(v=office.14).aspx "title").',
            "See old docs (https://x.example/cc(v=office.14).aspx).",
            id="url-with-parentheses-and-title",
        ),
        pytest.param("Open <https://myapps.example>.", "Open https://myapps.example.", id="autolink"),
        pytest.param(
            'Check <a href="https://status.example/">the <b>status</b> page</a>.',
            "Check the status page (https://status.example/).",
            id="html-anchor",
        ),
        pytest.param("Run the fix.[![Fix it](media/btn.png)](https://aka.ms/fix)", "Run the fix. https://aka.ms/fix", id="linked-image-keeps-the-url"),
        pytest.param("See [the guide](./guide.md#setup).", "See the guide.", id="relative-link-text-only"),
        pytest.param("See [roles](~/identity/roles.md).", "See roles.", id="docfx-link-text-only"),
        pytest.param("Step 1 ![screen](media/step1.png) done.", "Step 1 done.", id="image-dropped"),
    ],
)  # fmt: skip
def test_web_links_keep_their_url_and_other_links_only_their_words(
    markdown: str, text: str
) -> None:
    assert parse_document(f"# T\n\n{markdown}\n", "t.md").chunks[0].text == text


def test_links_in_html_articles_keep_their_url() -> None:
    raw = (
        "<html><body><h1>Portal</h1><p>Go to <a href='https://myapps.example'>My "
        "Apps</a> or <a href='/local'>the local page</a>.</p></body></html>"
    )

    (chunk,) = parse_document(raw, "portal.html").chunks

    assert "My Apps (https://myapps.example)" in chunk.text
    assert "the local page" in chunk.text
    assert "/local" not in chunk.text


def test_html_is_split_at_its_headings() -> None:
    raw = """<html><head><title>Guest Wi-Fi</title>
    <link rel="canonical" href="https://intranet.contoso.example/it/guest-wifi">
    </head><body><nav>Home | IT</nav><h1>Guest Wi-Fi</h1><p>For visitors.</p>
    <h2>Get a code</h2><p>Ask reception for a <b>daily</b> code.</p>
    <ul><li>Valid for one day</li></ul><script>var x = 1;</script></body></html>"""

    doc = parse_document(raw, "guest-wifi.html")

    assert doc.title == "Guest Wi-Fi"
    assert doc.chunks[0].source == "https://intranet.contoso.example/it/guest-wifi"
    assert [c.section for c in doc.chunks] == ["", "Get a code"]
    assert "Ask reception for a daily code." in doc.chunks[1].text
    assert "Valid for one day" in doc.chunks[1].text
    assert "var x" not in " ".join(c.text for c in doc.chunks)
    assert "Home | IT" not in " ".join(c.text for c in doc.chunks)


def test_plain_text_takes_its_title_from_the_file_name() -> None:
    doc = parse_document("# 3 steps\n\nRestart the printer.\n", "printer-jam.txt")

    assert doc.title == "Printer jam"
    assert len(doc.chunks) == 1
    assert doc.chunks[0].text.startswith("# 3 steps")


def test_long_sections_split_on_paragraphs_under_the_cap() -> None:
    paragraphs = [f"Paragraph {i}. " + "word " * 60 for i in range(30)]
    raw = "# Long\n\n## Steps\n\n" + "\n\n".join(paragraphs)

    chunks = parse_document(raw, "long.md").chunks

    assert len(chunks) > 5
    assert all(len(c.text) <= MAX_CHARS for c in chunks)
    assert all(c.section == "Steps" for c in chunks)
    assert all(c.text.startswith("Paragraph") for c in chunks)  # no mid-paragraph cut
    assert "".join(c.text for c in chunks).count("Paragraph") == 30


def test_one_enormous_paragraph_is_still_capped() -> None:
    raw = "# Huge\n\n" + ("A sentence that keeps going. " * 200)

    chunks = parse_document(raw, "huge.md").chunks

    assert all(len(c.text) <= MAX_CHARS for c in chunks)


def test_content_hash_changes_only_when_the_text_does() -> None:
    first = parse_document(MARKDOWN, "a.md").content_hash

    assert parse_document(MARKDOWN, "a.md").content_hash == first
    assert parse_document(MARKDOWN + "more", "a.md").content_hash != first
