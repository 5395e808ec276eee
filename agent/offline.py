"""The offline model: a deterministic chat model that needs no LLM endpoint.

It routes the employee's message to a bound tool by word overlap with each
tool's name, description and example utterances; fills the tool's arguments
from its JSON schema; and writes the final answer from the tool results:
extractive answers with ``[n]`` citations from knowledge passages, plain
confirmations from other tools. It never invents facts and says that it is
the offline assistant. Same messages and tools in, same message out.

It reads only the employee's own messages to decide what to call: text in
tool results and passages never triggers a tool, nor fills an argument. A
person to act on is filled only when the employee names someone else (an
e-mail or UPN, "Dana Park's password", "for Dana Park", "my manager"), so the
tool, not the model, decides whether that is allowed.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import Stemmer
from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

from tools.registry import ASK_KEY, USER_MESSAGE_KEY
from tools.tickets.base import TICKET_LABEL

OFFLINE_MODEL_NAME = "helpdesk-offline"
OFFLINE_FLAG = "helpdesk_offline"
"""``response_metadata`` key set on every message the offline model writes."""
PENDING_KEY = "helpdesk_pending_tool"
"""``response_metadata`` key of a question asked for a missing argument."""
OFFLINE_NOTE = "(Answered by the offline assistant.)"

NOTHING_FOUND = (
    "I couldn't find anything about that in the knowledge base. Try "
    "rephrasing it with the exact error message or the app's name, or contact "
    "the IT help desk."
)
OFFER_AFTER_NOTHING = (
    "I couldn't find anything about that in the knowledge base, so I've drafted "
    "a ticket for the IT service desk. Check it, change anything that is wrong, "
    "and confirm; or cancel and rephrase your question."
)
OFFER_AFTER_REFUSAL = (
    "I've drafted a ticket so that a person from IT can take it from here. "
    "Check it and confirm, or cancel."
)
DRAFTED = "I've drafted it from our conversation."
NOT_UNDERSTOOD = "Sorry, I didn't understand that."
OUT_OF_SCOPE = (
    "I only help with IT, so I can't help with that. If it is about IT, say it "
    "in other words, or ask me to open a ticket."
)
NOT_SHARED = "I don't share how I'm set up or instructed."
ESCALATION_TOOL = "create_ticket"
"""The tool offered, with a drafted ticket, whenever the assistant cannot help."""
HANDOFF_TOOL = "handoff_to_person"
"""The tool called instead when the assistant failed the employee once before
in this conversation: a person takes over (or, when nobody can, the hand-off
tool says so and a ticket is offered after all)."""
HANDOFF_AFTER_REPEATED = (
    "I couldn't help with this twice now, so I'm passing you to a person from "
    "IT support."
)

_ROUTE_THRESHOLD = 0.25
_MIN_EXAMPLE_MATCH = 0.4
_MIN_DESCRIPTION_MATCH = 0.6
"""A tool other than knowledge search needs an example at least this close, or
a description that uses at least this share of the employee's words."""
_ACTION_LEAD = 0.1
"""How far a tool with side effects must score above knowledge search."""
_QUESTION_LEAD = 0.15
"""How far any other tool must score above knowledge search on a how-to question."""
_HOW_TO = re.compile(
    r"^\s*(how|what|what's|whats|where|which|is there|are there|do i)\b"
    r"|\bhow (do|can|to|should|would)\b",
    re.IGNORECASE,
)
_FACT_QUESTION = re.compile(
    r"^\W*(?:(?:and|so|but|also)\W+)?"
    r"(?:how\s+(?:often|long|many|much|soon|frequently)\b|why\s+(?:do|does|did)\b)",
    re.IGNORECASE,
)
"""A question about a policy or a fact ("how often do passwords expire?", "why
does my account keep locking?"): the articles answer it; no tool's action does."""
_STATE_QUESTION = re.compile(
    r"^\W*(?:is|are|was|were|has|have|had|did)\s+(?:my|our|the|it|this|that)\b",
    re.IGNORECASE,
)
"""A yes-or-no question about how something stands ("is my Visio request
approved?"): a look-up answers it, never an action."""
_ASKS_SOMETHING = re.compile(
    r"\b(?:please|pls|kindly|need|needs|want|request|require|can you|could you|"
    r"would you|how (?:do|can|should|would) (?:i|we))\b",
    re.IGNORECASE,
)
_REVEAL = re.compile(
    r"\b(?:print|show|reveal|repeat|tell|give|display|output|list|share|dump|"
    r"paste|write out|what (?:are|is|were))\b",
    re.IGNORECASE,
)
_OWN_SETUP = re.compile(
    r"\byour\s+(?:\w+\s+){0,3}?(?:prompt|instructions|guidelines|directives|"
    r"rules|configuration)\b"
    r"|\b(?:system|initial|hidden|secret)\s+(?:prompt|instructions|message)\b",
    re.IGNORECASE,
)
"""With :data:`_REVEAL`, asking for the assistant's own instructions ("print
your system prompt"): not an IT question, nothing to search or ticket."""
_ACCESS_ASK = re.compile(
    r"\b(?:access|permissions?|rights)\s+(?:to|on|for)\b"
    r"|\b(?:give|grant|provide|allow|need|want|request|get)\w*\s+(?:\w+\s+){0,2}?"
    r"(?:access|permissions?|rights)\b(?!\s+(?:pass|card|code|key)\b)"
    r"|\badd\s+me\s+to\b",
    re.IGNORECASE,
)
"""Asking for access: "access to the planning site", "grant Dana access", "add
me to …"; not a Temporary Access Pass or an access card."""
_ACCESS_LOST = re.compile(
    r"\b(?:no|lost|without|cannot|can't|cant|unable to|couldn't)\s+(?:\w+\s+)?access\b"
    r"|\baccess\s+(?:is\s+|was\s+)?denied\b",
    re.IGNORECASE,
)
"""Access that stopped working is a fault to look up, not a request."""
_WORK_ASK = re.compile(
    r"\b(?:please|kindly|can you|could you|would you)\s+(?:\w+\s+){0,2}?"
    r"(?:create|set up|setup|install|allocate|assign|add|remove|delete|change|"
    r"update|extend|enable|activate|provide|order|replace|move|rename|log|raise|"
    r"deploy|restart|reboot|disable|deactivate|book|arrange|prepare|"
    r"renew)\b",
    re.IGNORECASE,
)
"""Asking IT to do something ("please set up a project code", "could you
install the new printer"): when no tool can, a person must, so a drafted
ticket serves better than an article."""
_CATALOGUE_MIN = 4
"""An enum this long lists things to name (software); shorter ones are modes."""
_MIN_OPENING = 3
"""Content words a message must open with, as an example does, to say that
example's request ("tell the service desk …")."""
_REPEAT_WINDOW = 2
"""Earlier turns in which a failure makes this one's a repeated failure."""
_MIN_COVERAGE = 0.34
_MAX_UNITS = 3
_ASKS_AGAIN = re.compile(
    r"^\W*(?:(?:please|hi|hey|and|also|actually)\W+)*"
    r"(?:(?:can|could) (?:you|i) )?"
    r"(?:give me|grant me|get me|i need|i want|i'd like|i would like|have|get)\s+"
    r"(?:access to\s+)?(?!it\b|this\b|that\b|them\b|one\b|to\b|because\b)\w",
    re.I,
)
"""A message that asks for something anew ("give me access to Confluence"),
not the reason for what was asked before ("I need it for the Q1 plan")."""


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_FREE_TEXT_PARAMS = frozenset(
    {
        "query",
        "question",
        "q",
        "text",
        "search",
        "description",
        "details",
        "issue",
        "problem",
        "message",
        "summary",
        "request",
    }
)
_STOPWORDS = _wordset(
    """a an the i me my mine we our you your it its is are was were be been am
    do does did doing to of in on at for from by with about into over as and or
    but if so not no can could would should will shall may might must have has
    had how what when where which who whom why this that these those there here
    please pls hi hello hey just got get some any like also up out
    im i'm ive i've cant can't dont don't what's whats it's that's there's"""
)
_SMALL_TALK = _wordset(
    """hi hello hey hiya morning afternoon evening good thanks thank you ty again
    cheers bye goodbye ok okay great cool help me what can do who are there
    please much lot a so the that's all for now bot robot ai an"""
)
_THANKS = frozenset({"thanks", "thank", "ty", "cheers"})
_BARE_ANSWERS = _wordset("yes yeah yep yup no nope nah sure alright fine")
"""A message of these words alone answers a question; with none open, it asks
for nothing (and must not become a search, then a drafted ticket)."""
_BYE = frozenset({"bye", "goodbye"})
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_LIST_ITEM = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_NUMBER = re.compile(r"\b\d+\b")
_CHUNK_POSITION = re.compile(r"#(\d+)$")
_REFERS_BACK = re.compile(
    r"(?:it|this|that|these|those|they|then|otherwise"
    r"|(?:if|once|when|unless) (?:it|this|that|these|those|they|so|not))\b",
    re.IGNORECASE,
)
"""A sentence that opens with these words leans on the one before it."""

_PERSON_PARAMS = frozenset({"user", "upn", "person", "for_user", "subject", "target"})
_TICKET_PARAMS = frozenset({"number", "ticket", "ticket_number", "incident"})
_TICKET_DIGITS = re.compile(
    r"(?:\bticket|\bincident|\bstatus of|#)\s*(?:no\.?|number|#)?\s*(\d{4,10})\b",
    re.IGNORECASE,
)
"""A ticket's digits alone, where the words say it is one: "status of 1001"."""
_FLAG_NOISE = frozenset({"include", "show", "only", "is", "use"})
_REASON_PARAMS = frozenset({"reason", "justification"})
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_RELATION = re.compile(
    r"\bmy\s+(manager|boss|supervisor|colleague|co-?worker|team\s+lead|"
    r"assistant|wife|husband|partner)\b",
    re.IGNORECASE,
)
_NAME = r"[A-Z][\w-]+(?:\s+[A-Z][\w-]+){0,2}"
_POSSESSIVE = re.compile(rf"\b({_NAME})['’]s\b")
_FOR_NAME = re.compile(rf"\b(?:for|of|user)\s+({_NAME})\b")
_NAMED_SUBJECT = re.compile(
    rf"\b(?:why|whether|if|that)\s+({_NAME})\s+(?:can't|cannot|can not|"
    r"couldn't|could not|isn't able|is unable|is locked|got locked|is blocked)\b"
)
"""Someone named as who cannot sign in: "check why Taylor Kim can't sign in"."""
_NOT_NAMES = frozenset(
    {"I", "Microsoft", "Windows", "Teams", "Outlook", "Office", "Azure", "Entra", "IT"}
)
_NOT_NAME_WORDS = _STOPWORDS | _wordset(
    """reset unlock give set issue revoke change create check block disable
    enable sign need want help whats what's please thanks"""
)
_CLAUSE_END = re.compile(r"[.!?](?:\s|$)")
_REASON = re.compile(
    r"(?:\bbecause\b|\breason\s*[:=-]|\bsince\b)\s*(.+)", re.IGNORECASE | re.DOTALL
)
_CLAUSE_REASON = re.compile(r"[,;:\u2013\u2014-]\s+((?:\S+\s+){2,}\S+)", re.DOTALL)
"""A clause of three or more words after a comma, dash or colon."""
_PURPOSE = re.compile(
    r"(?<=\S)\s+(so that|so|in order to|to|for)\s+(?=\S+\s+\S)", re.IGNORECASE
)
"""A purpose after what is asked for: "Project to plan the office move",
"Visio for diagrams of our sales process" (two or more words after it)."""
_NOT_PURPOSE_BEFORE = _wordset(
    """need needs want wants like love have has had going able used wish try
    trying tried how what where when order access permission permissions
    rights me us him her them it added add moved move sent send go went
    way due"""
)
"""Words before "to" or "for" that make it no purpose: "I need to…", "access
to the finance reports", "add me to…"."""
_PEOPLE = _wordset("me myself us him her them you")
_NOT_PURPOSE_AFTER_TO = _PEOPLE | _wordset(
    "the a an my our your his their this that these those it"
)
"""Words right after "to" that make it a place or a person, not a purpose
("to the VPN group"); after "for", only a person ("for me") is no purpose."""


class OfflineChatModel(BaseChatModel):
    """A deterministic, tool-calling chat model that runs with no network.

    Warning:
        It answers only from tool results with word overlap, so it cannot
        reason, combine sources or follow up beyond one missing argument.
        Replies are marked offline so the employee knows.
    """

    tools: list[Any] = Field(default_factory=list)
    """The bound tools: BaseTool objects (their metadata carries examples) or
    OpenAI-style dicts."""

    @property
    def _llm_type(self) -> str:
        return OFFLINE_MODEL_NAME

    def bind_tools(
        self,
        tools: Sequence[Any],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> OfflineChatModel:
        """Return a copy of this model that may call ``tools``.

        Args:
            tools: BaseTool objects or OpenAI-style tool dicts.
            tool_choice: ignored; the model calls a tool only when one fits.
            **kwargs: ignored.
        """
        return self.model_copy(update={"tools": list(tools)})

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self.respond(messages))])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self.respond(messages))])

    def respond(self, messages: Sequence[BaseMessage]) -> AIMessage:
        """Decide the next message: a tool call, a question or an answer.

        Args:
            messages: the conversation as the model would see it.
        """
        tools = [_ToolInfo.of(tool) for tool in self.tools]
        last_human = _last_index(messages, HumanMessage)
        if last_human is None:
            return _reply(_capabilities("Hello!", tools))
        turn = messages[last_human + 1 :]
        # Only the latest step's results: an earlier step's were already said
        # (with the ticket offered after them).
        step = _last_index(turn, AIMessage)
        latest = turn[step + 1 :] if step is not None else turn
        results = [m for m in latest if isinstance(m, ToolMessage)]
        text = _text(messages[last_human]).strip()

        if results:
            answer = _answer_from_results(text, results)
            if answer.strip() == NOTHING_FOUND and _unknown_words(text, results, tools):
                # Nothing IT about it ("what's the weather in Paris?", "asdfgh"):
                # a drafted ticket would send it to the service desk.
                return _reply(_out_of_scope(text, tools))
            asked = _detail_asked_for(turn, results)
            if asked is None:
                offer = _escalation(
                    answer, results, turn, tools, earlier=_recent_turns(messages)
                )
                if offer is not None:
                    return offer
            return _reply(answer, extra={PENDING_KEY: asked} if asked else None)

        words = _WORD.findall(text.lower())
        if words and set(words) <= _SMALL_TALK:
            return _reply(_small_talk(set(words), tools))
        if _REVEAL.search(text) and _OWN_SETUP.search(text):
            return _reply(_capabilities(NOT_SHARED, tools))

        pending = _pending_before(messages, last_human)
        if pending is not None:
            follow_up = _follow_up(pending, text, tools, len(messages))
            if follow_up is not None:
                return follow_up

        if words and set(words) <= _BARE_ANSWERS | _SMALL_TALK:
            return _reply(
                "I'm not sure what that answers. Tell me about your IT problem "
                "or request in a sentence, and I'll take it from there."
            )

        tool = _route(text, tools)
        if tool is not None and _named_person(text) and not tool.names_people:
            # "Reset Dana Park's password" is not self-service: a tool that can
            # act on another person (and check who may) is the better fit.
            tool = _route(text, [t for t in tools if t.names_people]) or tool
        if tool is None:
            if not _terms(text):
                return _reply(_capabilities("I'm not sure what you need.", tools))
            return _reply(
                "I can't look that up right now. Please contact the IT help desk."
            )
        args, missing = _fill_arguments(tool, text)
        if missing:
            return _ask_for(tool, args, missing)
        message = _call(tool, args, len(messages))
        if tool.drafts:
            message.content = DRAFTED
        return message


@dataclass(frozen=True, slots=True)
class _ToolInfo:
    name: str
    description: str
    examples: tuple[str, ...]
    schema: dict[str, Any]
    side_effects: bool = False
    offer: str | None = None
    """The manifest's summary: what the tool does, in an employee's words."""
    drafts: bool = False
    """The tool drafts its text from the conversation (a ticket): the offline
    model leaves its text arguments to it."""

    @classmethod
    def of(cls, tool: Any) -> _ToolInfo:
        function = convert_to_openai_tool(tool)["function"]
        if isinstance(tool, BaseTool):
            metadata = tool.metadata or {}
        else:
            metadata = {**(tool.get("metadata") or {}), **tool}
        return cls(
            name=function["name"],
            description=function.get("description") or "",
            examples=tuple(str(e) for e in metadata.get("examples") or []),
            schema=function.get("parameters") or {},
            side_effects=bool(metadata.get("side_effects")),
            offer=metadata.get("summary") or None,
            drafts=bool(metadata.get("conversation")),
        )

    @property
    def properties(self) -> dict[str, dict[str, Any]]:
        return self.schema.get("properties") or {}

    @property
    def names_people(self) -> bool:
        return any(name.lower() in _PERSON_PARAMS for name in self.properties)

    @property
    def is_search(self) -> bool:
        query = self.properties.get("query") or {}
        named = "search" in self.name or "knowledge" in self.name
        return named and query.get("type", "string") == "string"

    @property
    def summary(self) -> str:
        first = _SENTENCE_END.split(self.description.strip(), maxsplit=1)[0]
        return first.rstrip(".")


# -- routing -----------------------------------------------------------------


def _route(text: str, tools: Sequence[_ToolInfo]) -> _ToolInfo | None:
    """The tool for the employee's words; knowledge search unless another wins.

    Another tool must have an example close to the words, clear the threshold,
    and beat knowledge search by a lead (more on a how-to question, more for a
    tool with side effects). A how-to question ("how do I set up the
    authenticator app?") never starts an action: it gets the article, and the
    employee can still ask for the action itself; nor does a question about a
    policy or a fact ("how often do passwords expire?", "why does my account
    keep locking?"), which only the articles answer. Asking for access goes
    to the tool whose examples ask for access; asking IT to do something that
    no tool does ("please set up a project code") drafts a ticket rather than
    searching.
    """
    tool = _route_by_words(text, tools)
    if tool is None or not tool.is_search or _HOW_TO.search(text):
        return tool
    if _WORK_ASK.search(text):
        return next((t for t in tools if t.name == ESCALATION_TOOL), tool)
    return tool


def _route_by_words(
    text: str,
    tools: Sequence[_ToolInfo],
    *,
    query: AbstractSet[str] | None = None,
) -> _ToolInfo | None:
    query = _terms(text) if query is None else query
    if not query:
        return None
    search = next((tool for tool in tools if tool.is_search), None)
    weights = _term_weights(tools)
    scored = sorted(
        ((_score(query, text, tool, weights), tool.name, tool) for tool in tools),
        key=lambda item: (-item[0], item[1]),
    )
    if not scored:
        return None
    best_score, _, best = scored[0]
    if search is not None:
        # The longest example said wins: "show my open tickets" over "open a
        # ticket"; among equals, the one said first, then the better score.
        said = [(_phrase_said(text, t), t) for _, _, t in scored if t is not search]
        phrase, named = max(said, key=lambda pair: pair[0], default=((0, 0), None))
        length = phrase[0]
        if named and _named_person(text) and not named.names_people:
            named = None  # "reset the password of dana@…" is not "reset my password"
        if named and best.side_effects and not named.side_effects:
            named = None  # a phrase that only looks something up yields to an action
        if named and length and not (_HOW_TO.search(text) and named.side_effects):
            # "The printer jams, open a ticket": the request is explicit, however
            # much the rest sounds like a question or another look-up.
            return named
    access = _access_tool(text, query, tools, weights)
    if access is not None:
        return access
    if search is not None and _FACT_QUESTION.search(text):
        return search
    if search is None or best is search:
        return best if best_score >= _ROUTE_THRESHOLD or best is search else search
    if best.side_effects and _STATE_QUESTION.search(text):
        # "Is my Project request approved?" names the request tool best, but
        # asks how the request stands: only a tool that looks things up fits,
        # judged without the words that only the actions know (the item's).
        lookups = [t for t in tools if not t.side_effects]
        known = frozenset().union(*(_vocabulary(t) for t in lookups))
        acted = frozenset().union(*(_vocabulary(t) for t in tools)) - known
        return _route_by_words(text, lookups, query=frozenset(query - acted))
    search_score = next(score for score, _, tool in scored if tool is search)
    how_to = bool(_HOW_TO.search(text))
    if how_to and best.side_effects:
        return search
    lead = (_ACTION_LEAD if best.side_effects else 0.0) + (
        _QUESTION_LEAD if how_to else 0.0
    )
    # A description alone is not enough to act: "hello again" shares only
    # "again" with a tool that signs people out.
    meant = _closest_example(query, best, weights) >= _MIN_EXAMPLE_MATCH or (
        _described(query, best) >= _MIN_DESCRIPTION_MATCH
        and not (best.side_effects and len(query) < 2)
    )
    if meant and best_score >= _ROUTE_THRESHOLD and best_score >= search_score + lead:
        return best
    return search


def _access_tool(
    text: str,
    query: AbstractSet[str],
    tools: Sequence[_ToolInfo],
    weights: dict[str, float],
) -> _ToolInfo | None:
    """For a request for access, the tool with the example asking for access
    closest to the words; None for anything else.

    "access" alone names many tools (a Temporary Access Pass, giving access
    back), so "give me access to Confluence" would otherwise go by one word.
    """
    if (
        not _ACCESS_ASK.search(text)
        or _ACCESS_LOST.search(text)
        or _HOW_TO.search(text)
        or _STATE_QUESTION.search(text)
    ):
        return None
    closest: list[tuple[float, str, _ToolInfo]] = []
    for tool in tools:
        asks = [_terms(e) for e in tool.examples if _ACCESS_ASK.search(e)]
        if asks and not tool.is_search:
            best = max(_similarity(query, e, weights) for e in asks)
            closest.append((best, tool.name, tool))
    # The closest access example decides: "give me access" is a request,
    # "remove my access" gives it back.
    return max(closest, key=lambda c: (c[0], c[1]))[2] if closest else None


def _asks_for(text: str, tool: _ToolInfo) -> int:
    """How many words of the longest example naming the tool that the message
    says as a phrase: "…, open a ticket" for create_ticket (2); 0 for none
    ("shows … ticket" is not "show my tickets")."""
    return _phrase_said(text, tool)[0]


def _phrase_said(text: str, tool: _ToolInfo) -> tuple[int, int]:
    """:func:`_asks_for`'s length, and how early the phrase comes (its negated
    word position): of two phrases as long, the one said first is the request
    and the rest its content ("open a ticket: … close all tickets")."""
    words = _sequence(text)
    said = f" {' '.join(words)} "
    name_terms = _terms(tool.name.replace("_", " "))
    best = (0, 0)
    for example in tool.examples:
        wanted = _sequence(example)
        named = len(set(wanted)) >= 2 and bool(set(wanted) & name_terms)
        phrase = f" {' '.join(wanted)} "
        if named and phrase in said:
            start = said.index(phrase)
            best = max(best, (len(wanted), -said[:start].count(" ")))
        # An example's opening said as the message's opening is the same
        # request with other content: "tell the service desk …".
        opening = _common_start(words, wanted)
        if opening >= _MIN_OPENING:
            best = max(best, (opening, 0))
    return best


def _common_start(a: Sequence[str], b: Sequence[str]) -> int:
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count


@lru_cache(maxsize=4096)
def _sequence(text: str) -> tuple[str, ...]:
    """Stemmed content words in order (ticket numbers read as "ticket")."""
    text = TICKET_LABEL.sub(" ticket ", text)
    words = [w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS]
    return tuple(_stemmer().stemWords(words))


def _term_weights(tools: Sequence[_ToolInfo]) -> dict[str, float]:
    """How distinctive each word is among the tools (inverse tool frequency).

    A word most tools use ("working") says little about which one is meant; a
    word no tool uses ("notifications") weighs most, so a question about
    something no action covers stays with knowledge search.
    """
    vocab = [_vocabulary(t) for t in tools]
    count = len(tools)
    seen: dict[str, int] = {}
    for words in vocab:
        for word in words:
            seen[word] = seen.get(word, 0) + 1
    return {word: math.log(1 + count / n) for word, n in seen.items()} | {
        "": math.log(1 + count)  # the weight of a word no tool uses
    }


def _vocabulary(tool: _ToolInfo) -> frozenset[str]:
    """The words of a tool's name, description and examples."""
    return _terms(
        " ".join((tool.name.replace("_", " "), tool.description, *tool.examples))
    )


def _weight(word: str, weights: dict[str, float]) -> float:
    return weights.get(word, weights[""])


def _described(query: AbstractSet[str], tool: _ToolInfo) -> float:
    """The share of the employee's words that the tool's description uses."""
    return len(query & _terms(tool.description)) / len(query)


def _closest_example(
    query: AbstractSet[str], tool: _ToolInfo, weights: dict[str, float]
) -> float:
    return max(
        (_similarity(query, _terms(e), weights) for e in tool.examples),
        default=0.0,
    )


def _score(
    query: AbstractSet[str], text: str, tool: _ToolInfo, weights: dict[str, float]
) -> float:
    example = _closest_example(query, tool, weights)
    description = _described(query, tool)
    name_terms = _terms(tool.name.replace("_", " "))
    name = len(query & name_terms) / len(name_terms) if name_terms else 0.0
    # Naming a catalogue entry ("Visio") is strong evidence on its own; a
    # short list of modes ("close", "reopen") or a field the tool drafts itself
    # (a ticket's category) is not: "my closed tickets" closes nothing.
    enum_bonus = 0.0
    for spec in tool.properties.values():
        options = spec.get("enum") or []
        if len(options) < _CATALOGUE_MIN or tool.drafts:
            continue
        if _match_enum(options, text) is not None:
            enum_bonus = _ROUTE_THRESHOLD
    return 0.6 * example + 0.25 * description + 0.15 * name + enum_bonus


def _similarity(
    a: AbstractSet[str], b: AbstractSet[str], weights: dict[str, float]
) -> float:
    """Cosine similarity of two word sets, each word weighted by distinctiveness."""
    if not a or not b:
        return 0.0
    shared = sum(_weight(w, weights) ** 2 for w in a & b)
    norm_a = sum(_weight(w, weights) ** 2 for w in a)
    norm_b = sum(_weight(w, weights) ** 2 for w in b)
    return shared / math.sqrt(norm_a * norm_b)


# -- arguments ----------------------------------------------------------------


def _fill_arguments(tool: _ToolInfo, text: str) -> tuple[dict[str, Any], list[str]]:
    numbers = [int(n) for n in _NUMBER.findall(TICKET_LABEL.sub(" ", text))]
    args: dict[str, Any] = {}
    for name, spec in tool.properties.items():
        if tool.drafts and spec.get("type", "string") == "string":
            # The tool drafts these from the whole conversation, this message
            # included; the employee edits the draft on the card.
            continue
        value = _value_for(name, spec, text, numbers)
        if value is not None:
            args[name] = value
    required = tool.schema.get("required") or []
    return args, [name for name in required if name not in args]


_REQUEST_LABEL = re.compile(r"\bREQ\d{7}\b", re.IGNORECASE)


def _value_for(name: str, spec: dict[str, Any], text: str, numbers: list[int]) -> Any:
    kind = spec.get("type")
    if name.lower() == "request" and kind in (None, "string"):
        # An asset request's number ("cancel REQ1000002").
        found = _REQUEST_LABEL.search(text)
        if found:
            return found.group(0).upper()
    if name.lower() in _TICKET_PARAMS and kind in (None, "string"):
        # "INC0001001", or its digits alone ("status of 1001").
        found = TICKET_LABEL.search(text)
        if found:
            return found.group(0).upper()
        digits = _TICKET_DIGITS.search(text)
        return digits.group(1) if digits else None
    if kind == "boolean":
        # "show my closed tickets" sets include_closed; "the queue" sets queue.
        words = set(_WORD.findall(text.lower()))
        named = {w for w in name.lower().split("_") if w not in _FLAG_NOISE}
        return True if named and named <= words else None
    if kind in (None, "string") and name.lower() in _PERSON_PARAMS:
        return _named_person(text)
    if kind in (None, "string") and name.lower() in _REASON_PARAMS:
        return _stated_reason(text)
    if spec.get("enum"):
        named = _match_enum(spec["enum"], text)
        return named if named is not None else _glossed_option(spec, text)
    if kind in ("integer", "number"):
        return numbers.pop(0) if numbers else None
    if kind == "string" and _is_free_text(name, spec):
        return text.strip() or None
    return None


def _named_person(text: str) -> str | None:
    """Someone other than the employee, when the message names them; else None."""
    email = _EMAIL.search(text)
    if email:
        return email.group(0)
    relation = _RELATION.search(text)
    if relation:
        # Passed on as said: the tool resolves it, or refuses in plain words.
        return "my " + " ".join(relation.group(1).lower().split())
    for pattern in (_POSSESSIVE, _FOR_NAME, _NAMED_SUBJECT):
        for match in pattern.finditer(text):
            # A capital may only start the sentence: "Reset Dana Park's" names
            # Dana Park, "What's" names nobody.
            words = match.group(1).split()
            while words and (words[0].lower() in _NOT_NAME_WORDS):
                words.pop(0)
            if words and words[0] not in _NOT_NAMES:
                return " ".join(words)
    return None


def _stated_reason(text: str) -> str | None:
    """The reason given: after "because", "since" or "reason:"; else the clause
    after the first comma ("reset Priya's password, she is locked out"); else
    a purpose ("I need Project to plan the office move")."""
    match = _REASON.search(text) or _CLAUSE_REASON.search(text)
    said = match.group(1) if match else _purpose(text)
    if not said:
        return None
    reason = _CLAUSE_END.split(said.strip(), maxsplit=1)[0]
    return reason.strip() or None


def _purpose(text: str) -> str | None:
    """What the employee needs something for: "to plan the office move", "for
    diagrams of our sales process"; never "to the VPN group" or "for Dana Park"."""
    for match in _PURPOSE.finditer(text):
        before = text[: match.start()].split()[-1].lower()
        clause = text[match.start(1) :]
        after = text[match.end() :]
        first = after.split()[0]
        if before in _NOT_PURPOSE_BEFORE or _EMAIL.match(first):
            continue
        if (first[:1].isupper() and first != "I") or _RELATION.match(after):
            continue  # a person or a named thing: "for Dana Park", "to Teams"
        if first.lower() in _PEOPLE:
            continue
        if match.group(1).lower() == "to" and first.lower() in _NOT_PURPOSE_AFTER_TO:
            continue
        return clause
    return None


def _is_free_text(name: str, spec: dict[str, Any]) -> bool:
    described = str(spec.get("description", "")).lower()
    return name.lower() in _FREE_TEXT_PARAMS or any(
        word in described for word in ("query", "question", "describe", "in words")
    )


def _glossed_option(spec: dict[str, Any], text: str) -> Any:
    """The option whose meaning, as the parameter's description gives it
    ("cancel means close (no longer needed)"), shares a word with the message
    ("I don't need the ticket anymore"), when exactly one does."""
    said = _terms(text)
    description = str(spec.get("description") or "")
    fitting = []
    for option in spec.get("enum") or []:
        gloss = re.search(
            rf"\b{re.escape(str(option))}\b\s*(?:means|:|=)\s*([^.;]+)",
            description,
            re.IGNORECASE,
        )
        if gloss and said & _terms(gloss.group(1)):
            fitting.append(option)
    return fitting[0] if len(fitting) == 1 else None


def _match_enum(options: Sequence[Any], text: str) -> Any:
    words = _WORD.findall(text.lower())
    tokens = [_WORD.findall(str(option).lower()) for option in options]
    best: tuple[float, int] | None = None
    for position, wanted in enumerate(tokens):
        if not wanted:
            continue
        ratio = max(
            (_ratio(" ".join(wanted), gram) for gram in _grams(words, len(wanted))),
            default=0.0,
        )
        # A word only this option has ("visio", not "microsoft") names it too.
        shared = {t for i, other in enumerate(tokens) if i != position for t in other}
        for token in wanted:
            if len(token) >= 4 and token not in shared:
                # One close word names it ("projct"), but "open" is not "reopen".
                close = [r for w in words if (r := _ratio(token, w)) >= 0.85]
                ratio = max([ratio, *close])
        if ratio >= 0.85 and (best is None or ratio > best[0]):
            best = (ratio, position)
    return options[best[1]] if best is not None else None


def _grams(words: Sequence[str], size: int) -> set[str]:
    return {
        " ".join(words[i : i + n])
        for n in {max(1, size - 1), size, size + 1}
        for i in range(len(words) - n + 1)
    }


def _ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def _follow_up(
    pending: dict[str, Any], text: str, tools: Sequence[_ToolInfo], size: int
) -> AIMessage | None:
    tool = next((t for t in tools if t.name == pending.get("tool")), None)
    if tool is None:
        return None
    if _moved_on(text, tool, tools):
        return None
    args = dict(pending.get("args") or {})
    numbers = [int(n) for n in _NUMBER.findall(text)]
    filled = False
    for position, name in enumerate(pending.get("missing") or []):
        spec = tool.properties.get(name, {})
        # The answer to "which one?" or "why?" is the whole message: the
        # detail asked about (the first missing) is read as free text.
        asked = {**spec, "description": "in words"} if position == 0 else spec
        value = (
            # The answer to "why?" is the whole answer, not its last clause.
            text.strip()
            if name.lower() in _REASON_PARAMS
            else _value_for(name, asked, text, numbers)
        )
        if value is not None:
            args[name] = value
            filled = True
    if not filled:
        return None
    missing = [n for n in tool.schema.get("required") or [] if n not in args]
    if missing:
        return _ask_for(tool, args, missing)
    return _call(tool, args, size)


def _moved_on(text: str, pending: _ToolInfo, tools: Sequence[_ToolInfo]) -> bool:
    """Whether the employee asked something new instead of giving the detail:
    a how-to question, or a request said as another tool's phrase."""
    if _HOW_TO.search(text) or _ASKS_AGAIN.search(text):
        return True
    return any(
        t.name != pending.name and not t.is_search and _asks_for(text, t) > 0
        for t in tools
    )


def _detail_asked_for(
    turn: Sequence[BaseMessage], results: Sequence[ToolMessage]
) -> dict[str, Any] | None:
    """A pending call when a tool asked the employee for one more detail.

    The same call, with the same arguments (the same person), is made again
    once the next message supplies the detail, e.g. the reason for acting on a
    colleague's account.
    """
    last = results[-1]
    artifact = last.artifact if isinstance(last.artifact, dict) else {}
    field = artifact.get(ASK_KEY)
    if not isinstance(field, str):
        return None
    for message in turn:
        for call in getattr(message, "tool_calls", None) or []:
            if call.get("id") == last.tool_call_id:
                if call["args"].get(field) not in (None, ""):
                    # The detail was given and refused ("REQ9999999"): asking
                    # again would take every next message as another try.
                    return None
                return {"tool": call["name"], "args": call["args"], "missing": [field]}
    return None


def _pending_before(
    messages: Sequence[BaseMessage], last_human: int
) -> dict[str, Any] | None:
    if last_human == 0:
        return None
    previous = messages[last_human - 1]
    if isinstance(previous, AIMessage):
        pending = previous.response_metadata.get(PENDING_KEY)
        if isinstance(pending, dict):
            return pending
    return None


# -- escalation ----------------------------------------------------------------


def _escalation(
    answer: str,
    results: Sequence[ToolMessage],
    turn: Sequence[BaseMessage],
    tools: Sequence[_ToolInfo],
    *,
    earlier: Sequence[BaseMessage] = (),
) -> AIMessage | None:
    """A drafted ticket when this turn could not help: nothing relevant was
    found, or an action was refused or failed. Offered once per turn, and
    never after a ticket tool itself (or a cancelled card).

    When an earlier turn of the conversation already ended in such an offer,
    this is repeated failure: a hand-off to a person is tried first (see
    :data:`HANDOFF_TOOL`)."""
    ticket = next((t for t in tools if t.name == ESCALATION_TOOL), None)
    if ticket is None:
        return None
    called = {
        call["name"]
        for message in turn
        for call in getattr(message, "tool_calls", None) or []
    }
    if ESCALATION_TOOL in called:
        return None
    by_name = {t.name: t for t in tools}
    last = results[-1]
    artifact = last.artifact if isinstance(last.artifact, dict) else {}
    if artifact.get("declined"):
        return None
    source = by_name.get(last.name or "")
    if source is not None and source.name == ESCALATION_TOOL:
        return None
    if answer.strip() == NOTHING_FOUND:
        lead = OFFER_AFTER_NOTHING
    elif (
        source is not None
        # An action that failed, or a request for a person that nobody can
        # take now (outside hours): both leave a person's work to a ticket.
        and (source.side_effects or source.drafts)
        and (last.status == "error" or artifact.get("error"))
        and artifact.get("escalate", True)
    ):
        lead = f"{answer}\n\n{OFFER_AFTER_REFUSAL}"
    else:
        return None
    handoff = by_name.get(HANDOFF_TOOL)
    if handoff is not None and HANDOFF_TOOL not in called and _offered_before(earlier):
        message = _call(handoff, {"reason": "repeated_failure"}, len(turn) + 1000)
        message.content = HANDOFF_AFTER_REPEATED
        return message
    message = _call(ticket, {}, len(turn) + 1000)
    message.content = lead
    return message


def _recent_turns(messages: Sequence[BaseMessage]) -> Sequence[BaseMessage]:
    """The turns before the current one that count towards repeated failure:
    the last :data:`_REPEAT_WINDOW`; an old miss on another topic does not."""
    humans = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
    if len(humans) < 2:
        return ()
    start = humans[max(0, len(humans) - 1 - _REPEAT_WINDOW)]
    return messages[start : humans[-1]]


def _offered_before(messages: Sequence[BaseMessage]) -> bool:
    """Whether an earlier turn ended in a ticket offered because it could not help."""
    for message in messages:
        if not isinstance(message, AIMessage):
            continue
        if not any(c["name"] == ESCALATION_TOOL for c in message.tool_calls):
            continue
        said = _text(message)
        if said.startswith(OFFER_AFTER_NOTHING) or OFFER_AFTER_REFUSAL in said:
            return True
    return False


# -- answers -----------------------------------------------------------------


def _answer_from_results(question: str, results: Sequence[ToolMessage]) -> str:
    parts: list[str] = []
    knowledge = [
        r
        for r in results
        if isinstance(r.artifact, dict) and isinstance(r.artifact.get("passages"), list)
    ]
    # Only the newest search counts: its numbering is the one the answer cites.
    latest = knowledge[-1] if knowledge else None
    for result in results:
        if result is latest:
            query = str(result.artifact.get("query") or question)
            parts.append(_extractive(query, result.artifact["passages"]))
        elif any(result is k for k in knowledge):
            continue
        else:
            parts.append(for_employee(result))
    return "\n\n".join(parts)


def for_employee(result: ToolMessage) -> str:
    """A tool result in the employee's words, never the model's instructions.

    Tools write ``content`` for a model ("do not retry", "never repeat it");
    the sentence meant for a person is in the artifact.
    """
    artifact = result.artifact if isinstance(result.artifact, dict) else {}
    content = _text(result).strip()
    if artifact.get("declined"):
        return "OK, I didn't go ahead. Nothing was changed."
    if result.status == "error" or content.startswith("Error:"):
        reason = artifact.get("error") or content.removeprefix("Error:").strip()
        return str(reason or "That didn't work. Please contact the IT help desk.")
    return str(artifact.get(USER_MESSAGE_KEY) or content or "Done.")


def _extractive(query: str, passages: Sequence[dict[str, Any]]) -> str:
    wanted = _terms(query)
    if not wanted or not passages:
        return NOTHING_FOUND

    numbers = _answering(wanted, passages)
    chosen: list[tuple[float, int, int, str]] = []
    for number in numbers:
        text = str(passages[number - 1].get("text") or "")
        for order, unit in enumerate(_units(text)):
            hits = len(wanted & _terms(unit))
            if hits:
                bonus = 0.1 if "\n" in unit else 0.0
                score = hits / len(wanted) + bonus - 0.05 * (number - 1)
                chosen.append((score, number, order, unit))
    if not chosen:
        return NOTHING_FOUND

    chosen.sort(key=lambda c: (-c[0], c[1], c[2]))
    picked: list[tuple[float, int, int, str]] = []
    per_passage: dict[int, int] = {}
    for candidate in chosen:
        if per_passage.get(candidate[1], 0) < 2:
            picked.append(candidate)
            per_passage[candidate[1]] = per_passage.get(candidate[1], 0) + 1
        if len(picked) == _MAX_UNITS:
            break

    picked += _context(picked, passages)

    blocks = []
    for number in sorted(per_passage, key=lambda n: _reading_order(passages, n)):
        units = sorted((c for c in picked if c[1] == number), key=lambda c: c[2])
        body = (
            "\n".join(u[3] for u in units)
            if any("\n" in u[3] for u in units)
            else " ".join(u[3] for u in units)
        )
        blocks.append(f"{body} [{number}]")
    return "Here is what the knowledge base says:\n\n" + "\n\n".join(blocks)


def _context(
    picked: Sequence[tuple[float, int, int, str]],
    passages: Sequence[dict[str, Any]],
) -> list[tuple[float, int, int, str]]:
    """The sentences that picked ones refer back to: "If it is highlighted,
    click it once" needs the sentence before it, which says what "it" is."""
    have = {(c[1], c[2]) for c in picked}
    added: list[tuple[float, int, int, str]] = []
    for _, number, order, unit in picked:
        if order == 0 or not _REFERS_BACK.match(unit) or (number, order - 1) in have:
            continue
        units = _units(str(passages[number - 1].get("text") or ""))
        added.append((0.0, number, order - 1, units[order - 1]))
        have.add((number, order - 1))
    return added


def _answering(
    wanted: AbstractSet[str], passages: Sequence[dict[str, Any]]
) -> list[int]:
    """The numbers of the passages to answer from, whole articles at a time.

    An article's returned sections are judged together, with its title, so the
    section with the steps ("Get your key") counts as much as the one that
    names the problem ("BitLocker recovery key"), and every returned passage
    is a candidate, not the first few. An article that covers fewer of the
    question's words than the best one is usually about something else that
    shares a word ("offline"), and is left out.
    """
    articles: dict[str, list[int]] = {}
    for number, passage in enumerate(passages, start=1):
        articles.setdefault(_article(passage, number), []).append(number)
    covered = {
        key: frozenset().union(*(_covered(wanted, passages[n - 1]) for n in numbers))
        for key, numbers in articles.items()
    }
    best = max(len(words) for words in covered.values())
    floor = max(_MIN_COVERAGE, 0.75 * best / len(wanted))
    ranked = sorted(articles, key=lambda key: (-len(covered[key]), articles[key][0]))
    kept: list[int] = []
    for key in ranked:
        words = covered[key]
        if len(words) / len(wanted) >= floor:
            kept += articles[key]
    return sorted(kept)


def _reading_order(passages: Sequence[dict[str, Any]], number: int) -> tuple[int, int]:
    """Where a passage comes in the answer: its article's rank, then its place
    in the article (a chunk id ends in ``#n``), so steps read in order."""
    passage = passages[number - 1]
    key = _article(passage, number)
    first = next(i for i, p in enumerate(passages, start=1) if _article(p, i) == key)
    position = _CHUNK_POSITION.search(str(passage.get("chunk_id") or ""))
    return first, int(position.group(1)) if position else number


def _article(passage: dict[str, Any], number: int) -> str:
    return str(passage.get("doc_id") or passage.get("title") or number)


def _covered(wanted: AbstractSet[str], passage: dict[str, Any]) -> frozenset[str]:
    heading = f"{passage.get('title', '')} {passage.get('section', '')}"
    return frozenset(wanted & _terms(f"{heading} {passage.get('text') or ''}"))


def _units(text: str) -> list[str]:
    """Split a passage into sentences, keeping list steps together."""
    units: list[str] = []
    block: list[str] = []
    paragraph: list[str] = []

    def flush_paragraph() -> None:
        if paragraph:
            joined = " ".join(paragraph)
            units.extend(s.strip() for s in _SENTENCE_END.split(joined) if s.strip())
            paragraph.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if _LIST_ITEM.match(line):
            if not block and paragraph and paragraph[-1].endswith(":"):
                intro = paragraph.pop()
                flush_paragraph()
                block.append(intro)
            else:
                flush_paragraph()
            block.append(line)
            continue
        if block:
            units.append("\n".join(block))
            block = []
        if line:
            paragraph.append(line)
        else:
            flush_paragraph()
    if block:
        units.append("\n".join(block))
    flush_paragraph()
    return units


def _unknown_words(
    text: str, results: Sequence[ToolMessage], tools: Sequence[_ToolInfo]
) -> bool:
    """Whether none of the employee's words is one the help desk knows: in no
    tool's name, description or examples, nor in any passage just found; and
    they ask nothing of IT ("please …", "I need …", "how do I …"), which a
    person may do."""
    said = _terms(text)
    if not said or _ASKS_SOMETHING.search(text):
        return False
    known = frozenset().union(*(_vocabulary(t) for t in tools))
    for result in results:
        artifact = result.artifact if isinstance(result.artifact, dict) else {}
        for passage in artifact.get("passages") or []:
            if isinstance(passage, dict):
                known |= _covered(said, passage)
    return not said & known


def _out_of_scope(text: str, tools: Sequence[_ToolInfo]) -> str:
    """What to say to a message that is not about IT: that it was not
    understood (no English word in it, "asdfgh qwerty"), or that it is not for
    the help desk; then what the assistant can do."""
    words = set(_WORD.findall(text.lower()))
    sentence = bool(words & (_STOPWORDS | _SMALL_TALK))
    return _capabilities(OUT_OF_SCOPE if sentence else NOT_UNDERSTOOD, tools)


def _small_talk(words: set[str], tools: Sequence[_ToolInfo]) -> str:
    if words & _THANKS:
        return "You're welcome! Anything else I can help with?"
    if words & _BYE:
        return "Goodbye! Message me any time you need IT help."
    return _capabilities("Hi! I'm the IT help desk assistant.", tools)


def _capabilities(opening: str, tools: Sequence[_ToolInfo]) -> str:
    if not tools:
        return f"{opening} Tell me about your IT problem in a sentence."
    # A manifest's summary is written for people; a description for the model.
    offers = (tool.offer or tool.summary for tool in tools)
    lines = "\n".join(f"- {offer[:1].upper()}{offer[1:]}" for offer in offers)
    return (
        f"{opening} Here is what I can do:\n{lines}\n\n"
        "Tell me about your problem or request in a sentence."
    )


def _ask_for(tool: _ToolInfo, args: dict[str, Any], missing: list[str]) -> AIMessage:
    name = missing[0]
    spec = tool.properties.get(name, {})
    what = str(spec.get("description") or name.replace("_", " ")).rstrip(".")
    question = f"To do that I need one more detail: {what[:1].lower()}{what[1:]}."
    if spec.get("enum"):
        options = ", ".join(str(o) for o in spec["enum"][:10])
        question += f" Options: {options}."
    pending = {"tool": tool.name, "args": args, "missing": missing}
    return _reply(question, extra={PENDING_KEY: pending})


def _call(tool: _ToolInfo, args: dict[str, Any], size: int) -> AIMessage:
    key = json.dumps([tool.name, args, size], sort_keys=True, default=str)
    call_id = "call_" + hashlib.sha256(key.encode()).hexdigest()[:20]
    return AIMessage(
        content="",
        tool_calls=[{"name": tool.name, "args": args, "id": call_id}],
        response_metadata={"model_name": OFFLINE_MODEL_NAME, OFFLINE_FLAG: True},
    )


def _reply(text: str, *, extra: dict[str, Any] | None = None) -> AIMessage:
    return AIMessage(
        content=f"{text}\n\n{OFFLINE_NOTE}",
        response_metadata={
            "model_name": OFFLINE_MODEL_NAME,
            OFFLINE_FLAG: True,
            **(extra or {}),
        },
    )


# -- text --------------------------------------------------------------------


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


@lru_cache(maxsize=4096)
def _terms(text: str) -> frozenset[str]:
    """Stemmed content words; cached, as tool examples recur on every call.

    A ticket number counts as the word "ticket", so "add to INC0001234 that…"
    reads like the example "add to INC0001001 that…".
    """
    return frozenset(_sequence(text))


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(
        part if isinstance(part, str) else str(part.get("text", "")) for part in content
    )


def _last_index(messages: Sequence[BaseMessage], kind: type) -> int | None:
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], kind):
            return index
    return None
