"""A ticket drafted after the employee said an earlier problem was fixed is
about the problem that came after it, not the first thing said in the chat."""

from __future__ import annotations

from tools.conversation import BOT_SPEAKER, Conversation
from tools.tickets.drafting import draft, problem_lines

BOT = BOT_SPEAKER


def _chat(*lines: str) -> Conversation:
    said: list[tuple[str, str]] = []
    for line in lines:
        said += [("Alex Employee", line), (BOT, "…")]
    return Conversation(lines=said)


def test_a_solved_problem_is_left_out_of_the_next_ticket() -> None:
    chat = _chat(
        "how do I map a network drive?",
        "that worked, thanks",
        "my printer is not printing",
        "still broken",
    )

    made = draft({}, chat, who="Alex Employee")

    assert made.short_description.lower().startswith("my printer is not printing")
    assert "network drive" not in made.description
    assert made.category == "hardware"


def test_without_a_fix_every_recent_line_counts() -> None:
    chat = _chat("my printer is not printing", "it shows error 49")

    assert problem_lines(chat) == ["my printer is not printing", "it shows error 49"]


def test_a_bare_yes_does_not_end_the_problem() -> None:
    """ "yes" may answer "shall I open a ticket?": it says nothing was fixed."""
    chat = _chat("my printer is not printing", "yes")

    assert problem_lines(chat) == ["my printer is not printing"]
