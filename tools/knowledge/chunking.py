"""Split Markdown, HTML and plain-text articles into chunks by heading.

Every chunk keeps the article's title, where the article came from, and the
heading path of its section, so a passage can be cited on its own. Long
sections are split on paragraph boundaries to stay under :data:`MAX_CHARS`.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

import yaml
from bs4 import BeautifulSoup

from tools.knowledge.base import Chunk, SourceDocument

MAX_CHARS = 1200
"""Upper bound of a chunk's text; long enough for a procedure, short enough
that a handful fit in a model's context."""
SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".txt": "text"}
SUFFIXES |= {".html": "html", ".htm": "html"}

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.DOTALL)
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_TITLE_NOISE = re.compile(r"\s*[|-]\s*(Microsoft Docs|Microsoft Learn|Azure AD)\s*$")

# DocFX and Markdown markup that carries no words worth indexing. Runs before
# links are rewritten, so a directive's own brackets are never read as a link.
_MARKUP: tuple[re.Pattern[str], ...] = (
    re.compile(r"<!--.*?-->", re.DOTALL),
    re.compile(r":::image.*?:::", re.DOTALL),
    re.compile(r"^[ \t]*:::.*$", re.MULTILINE),
    # [!NOTE], [!div class="..."], [!VIDEO url], [!INCLUDE [name](path)]
    re.compile(r"\[!(?:INCLUDE\s*\[[^\]]*\]\([^)]*\)|[A-Za-z]+(?:\s[^\]\n]*)?)\]"),
    re.compile(r"!\[(?:[^\[\]]|\[[^\[\]]*\])*\]\((?:[^()]|\([^()]*\))*\)"),
)
_AUTOLINK = re.compile(r"<(https?://[^>\s]+)>", re.IGNORECASE)
_HTML_LINK = re.compile(
    r"<a\s[^>]*?href=[\"'](https?://[^\"']+)[\"'][^>]*>(.*?)</a\s*>",
    re.IGNORECASE | re.DOTALL,
)
_MD_LINK = re.compile(
    r"\[((?:[^\[\]]|\[[^\[\]]*\])*)\]"
    r"\(\s*<?((?:[^()\s<>]|\([^()\s]*\))*)>?(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)"
)
_ABSOLUTE = re.compile(r"https?://", re.IGNORECASE)
_TIDY: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"<[^>\n]+>"), ""),
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),
    (re.compile(r"^\s*>\s?", re.MULTILINE), ""),
    (re.compile(r"(?<=\S)[ \t]{2,}(?=\S)"), " "),  # gaps left by dropped markup
    (re.compile(r"[ \t]+\n"), "\n"),
    (re.compile(r"\n{3,}"), "\n\n"),
)


CHUNKER_VERSION = "2"
"""Part of every content hash, so a chunking change re-ingests every file."""


def parse_document(
    raw: str, doc_id: str, *, kind: str | None = None, source: str | None = None
) -> SourceDocument:
    """Parse one article into chunks.

    Args:
        raw: the file's text.
        doc_id: its path relative to the ingested folder.
        kind: ``markdown``, ``html`` or ``text``; guessed from doc_id when None.
        source: a URL for the article when the caller knows one and the
            article itself names none.

    Returns:
        The parsed document; ``chunks`` is empty when the file has no text.
    """
    kind = kind or SUFFIXES.get(PurePosixPath(doc_id).suffix.lower(), "text")
    digest = hashlib.sha256((CHUNKER_VERSION + "\0" + raw).encode()).hexdigest()
    fallback_title = _title_from_name(doc_id)

    if kind == "html":
        meta, body = _html_to_markdown(raw)
    elif kind == "markdown":
        meta, body = _split_front_matter(raw)
    else:
        meta, body = {}, _escape_headings(raw)

    sections = _sections(body)
    h1 = next((s.heading for s in sections if s.level == 1), None)
    title = _clean_title(str(meta.get("title") or h1 or fallback_title))
    origin = str(meta.get("source") or meta.get("url") or source or doc_id)
    description = str(meta.get("description") or "").strip()

    chunks: list[Chunk] = []
    for section in sections:
        text = _clean(section.text)
        if section.level <= 1 and description and not chunks:
            text = f"{description}\n\n{text}".strip()
        for piece in _split_long(text, MAX_CHARS):
            chunks.append(
                Chunk(
                    chunk_id=f"{doc_id}#{len(chunks)}",
                    doc_id=doc_id,
                    title=title,
                    section=section.path,
                    source=origin,
                    text=piece,
                )
            )
    if not chunks and description:
        chunks.append(Chunk(f"{doc_id}#0", doc_id, title, "", origin, description))
    return SourceDocument(doc_id, title, origin, digest, chunks)


@dataclass(frozen=True, slots=True)
class _Section:
    level: int
    heading: str | None
    path: str
    text: str


def _sections(body: str) -> list[_Section]:
    """Cut Markdown at headings outside code fences; H1 is the title, not a path."""
    sections: list[_Section] = []
    stack: list[tuple[int, str]] = []
    level, heading = 0, None
    lines: list[str] = []
    in_fence = False

    def flush() -> None:
        path = " > ".join(h for lvl, h in stack if lvl > 1)
        sections.append(_Section(level, heading, path, "\n".join(lines)))

    for line in body.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match is None:
            lines.append(line)
            continue
        flush()
        level, heading, lines = len(match.group(1)), _clean(match.group(2)), []
        stack = [(lvl, h) for lvl, h in stack if lvl < level] + [(level, heading)]
    flush()
    return [s for s in sections if s.text.strip() or s.level == 1]


def _split_long(text: str, limit: int) -> list[str]:
    """Pack paragraphs into pieces of at most ``limit`` characters."""
    if not text:
        return []
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for paragraph in _paragraphs(text, limit):
        joined = f"{current}\n\n{paragraph}" if current else paragraph
        if len(joined) <= limit:
            current = joined
            continue
        if current:
            pieces.append(current)
        current = paragraph
    if current:
        pieces.append(current)
    return pieces


def _paragraphs(text: str, limit: int) -> list[str]:
    """Paragraphs, with any single paragraph over the limit cut at sentences."""
    out: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        if len(paragraph) <= limit:
            out.append(paragraph)
            continue
        sentence_piece = ""
        for sentence in re.split(r"(?<=[.!?])\s+|\n", paragraph):
            while len(sentence) > limit:  # one enormous "sentence": hard cut
                out.append(sentence[:limit])
                sentence = sentence[limit:]
            joined = f"{sentence_piece} {sentence}".strip()
            if len(joined) > limit:
                out.append(sentence_piece)
                joined = sentence
            sentence_piece = joined
        if sentence_piece:
            out.append(sentence_piece)
    return out


def _split_front_matter(raw: str) -> tuple[dict[str, object], str]:
    match = _FRONT_MATTER.match(raw.lstrip("\ufeff"))
    if match is None:
        return {}, raw
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        meta = None
    body = raw.lstrip("\ufeff")[match.end() :]
    return (meta if isinstance(meta, dict) else {}), body


def _html_to_markdown(raw: str) -> tuple[dict[str, object], str]:
    """Rewrite HTML as headings and paragraphs, so one splitter serves both."""
    soup = BeautifulSoup(raw, "html.parser")
    for tag in soup(["script", "style", "nav", "footer", "noscript"]):
        tag.decompose()
    meta: dict[str, object] = {}
    if soup.title and soup.title.get_text(strip=True):
        meta["title"] = soup.title.get_text(" ", strip=True)
    for name in ("source", "url", "description"):
        meta_tag = soup.find("meta", attrs={"name": name})
        if meta_tag and meta_tag.get("content"):
            meta[name] = meta_tag["content"]
    canonical = soup.find("link", rel="canonical")
    if canonical and canonical.get("href") and "source" not in meta:
        meta["source"] = canonical["href"]

    for anchor in soup.find_all("a", href=True):
        href = str(anchor["href"]).strip()
        if _ABSOLUTE.match(href):
            label = anchor.get_text(" ", strip=True)
            anchor.replace_with(f"{label} ({href})" if label else href)

    blocks: list[str] = []
    root = soup.body or soup
    for element in root.find_all(
        ["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "td", "dt", "dd"]
    ):
        if element.find_parent(["p", "li", "pre", "td", "dd"]) is not None:
            continue  # its text is already part of the enclosing block
        text = element.get_text(" ", strip=True)
        if not text:
            continue
        if element.name[0] == "h" and element.name[1:].isdecimal():
            blocks.append("#" * int(element.name[1:]) + " " + text)
        elif element.name == "li":
            blocks.append("- " + text)
        else:
            blocks.append(text)
    return meta, "\n\n".join(blocks)


def _escape_headings(raw: str) -> str:
    # Plain text has no headings; a line starting with "#" is just text.
    return re.sub(r"^(\s*)#", r"\1\\#", raw, flags=re.MULTILINE)


def _clean(text: str) -> str:
    """Plain text from Markdown: markup dropped, web links kept as ``text (url)``."""
    for pattern in _MARKUP:
        text = pattern.sub("", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _HTML_LINK.sub(lambda m: _link(m.group(2), m.group(1), m), text)
    text = _MD_LINK.sub(lambda m: _link(m.group(1), m.group(2), m), text)
    for pattern, replacement in _TIDY:
        text = pattern.sub(replacement, text)
    text = html.unescape(text).replace("\xa0", " ")
    return text.replace("\\#", "#").strip()


def _link(label: str, target: str, match: re.Match[str]) -> str:
    """A link as the reader needs it: the words, and where to click if absolute.

    Relative targets (other articles, media) mean nothing outside the site the
    article came from, so only their words stay.
    """
    label = re.sub(r"<[^>\n]+>", "", label).strip()
    if not _ABSOLUTE.match(target):
        return label
    if not label or label == target:
        glued = match.start() > 0 and not match.string[match.start() - 1].isspace()
        return f" {target}" if glued else target
    return f"{label} ({target})"


def _clean_title(title: str) -> str:
    return _TITLE_NOISE.sub("", _clean(title)).strip()


def _title_from_name(doc_id: str) -> str:
    stem = PurePosixPath(doc_id).stem
    words = re.sub(r"[-_]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else doc_id
