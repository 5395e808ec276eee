"""The offline model answers from whole articles, in their order, in full sentences.

The section that names a problem ("Windows may ask for a recovery key") and
the section with the fix ("Get your key") come back as separate passages; an
answer built from the first alone tells the employee what they already know.
"""

from __future__ import annotations

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from agent.offline import OfflineChatModel


def _passage(doc: str, position: int, title: str, section: str, text: str) -> dict:
    return {
        "chunk_id": f"{doc}#{position}",
        "doc_id": doc,
        "title": title,
        "section": section,
        "source": f"https://intranet.example/{doc}",
        "text": text,
        "score": 1.0,
    }


BITLOCKER = "BitLocker recovery key"
BITLOCKER_INTRO = _passage(
    "bitlocker.md",
    0,
    BITLOCKER,
    "",
    "Laptops are encrypted with BitLocker. After a firmware update, Windows may "
    "ask for a 48-digit recovery key at startup.",
)
BITLOCKER_STEPS = _passage(
    "bitlocker.md",
    1,
    BITLOCKER,
    "Get your key",
    "1. On another device, sign in at https://myaccount.example.\n"
    "2. Open Devices, choose your laptop and click View BitLocker keys.\n"
    "3. Type the key shown for the Key ID on your laptop's screen.",
)
NEW_LAPTOP = _passage(
    "new-laptop.md",
    2,
    "Your first day with a new laptop",
    "Return the old laptop",
    "Take the old laptop to the IT desk within two weeks.",
)
SYNC = "OneDrive is not syncing"
SYNC_ICON = _passage(
    "onedrive.md",
    0,
    SYNC,
    "Look at the cloud icon",
    "Click the OneDrive cloud icon in the taskbar. It shows what is syncing.",
)
SYNC_RESET = _passage(
    "onedrive.md",
    2,
    SYNC,
    "Reset OneDrive",
    "If nothing helps, quit OneDrive and start it again from the Start menu.",
)
OUTLOOK_OFFLINE = _passage(
    "outlook-offline.md",
    0,
    "Outlook is offline or shows Disconnected",
    "Check Work Offline",
    "On the Send / Receive tab, look at Work Offline. If it is highlighted, "
    "click it once to go back online.",
)


def _answer(question: str, passages: list[dict]) -> str:
    messages: list[BaseMessage] = [
        HumanMessage(question),
        AIMessage(
            content="",
            tool_calls=[
                {"name": "search_knowledge", "args": {"query": question}, "id": "c1"}
            ],
        ),
        ToolMessage(
            content="...",
            tool_call_id="c1",
            name="search_knowledge",
            artifact={"query": question, "passages": passages},
        ),
    ]
    return str(OfflineChatModel().respond(messages).content)


def test_the_fix_in_another_section_of_the_article_is_part_of_the_answer() -> None:
    answer = _answer(
        "my laptop asks for a BitLocker recovery key at startup",
        [BITLOCKER_INTRO, BITLOCKER_STEPS, NEW_LAPTOP],
    )

    assert "may ask for a 48-digit recovery key" in answer
    assert (
        "2. Open Devices, choose your laptop and click View BitLocker keys." in answer
    )
    assert "Take the old laptop" not in answer


def test_sections_of_one_article_read_in_the_articles_order() -> None:
    answer = _answer("OneDrive is not syncing my files", [SYNC_RESET, SYNC_ICON])

    assert "cloud icon" in answer
    assert answer.index("cloud icon") < answer.index("If nothing helps")


def test_a_sentence_that_refers_back_comes_with_the_one_before() -> None:
    answer = _answer(
        "Outlook says disconnected, how do I get it back online?", [OUTLOOK_OFFLINE]
    )

    assert "look at Work Offline. If it is highlighted, click it once" in answer


def test_a_passage_past_the_third_can_answer() -> None:
    shares = _passage(
        "shared-drives.md",
        0,
        "Access team file shares",
        "",
        "Some departments still use network shares such as \\\\files.example\\finance.",
    )

    answer = _answer(
        "how do I open the finance network share?",
        [NEW_LAPTOP, SYNC_ICON, OUTLOOK_OFFLINE, shares],
    )

    assert "network shares such as" in answer
    assert "[4]" in answer
