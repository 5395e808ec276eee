"""The asset catalogue: what employees can ask for, who approves it, who fulfils it.

Help-desk admins edit ``manifests/catalog.yaml``; :func:`load_catalog` reads and
checks it, and an invalid file fails to load with a message that names the item
and the field. Three kinds of item:

    software   a licence or deployment, assigned through an Entra group
    hardware   devices, always fulfilled by the hardware queue (a person ships it)
    access     security groups, Teams, SharePoint sites, shared mailboxes,
               distribution lists

Every item says who approves it (``approval``) and how it is fulfilled:
``automatic`` adds the employee to the item's group through the directory,
``queue`` sends a request to a named assignment group.

Warning:
    Automatic fulfilment only works for groups whose membership Microsoft Graph
    can change: cloud security groups and Microsoft 365 groups (which back Teams
    and most SharePoint sites). Graph cannot change distribution lists,
    mail-enabled security groups, Exchange shared mailboxes (permissions live in
    Exchange), groups synced from on-premises AD, or role-assignable groups
    (without a directory role this product does not ask for). The catalogue
    refuses ``automatic`` for shared mailboxes and distribution lists; for the
    rest the directory reports the group's kind and the tool falls back to the
    item's queue.

Regenerate the published JSON Schema after changing the models::

    python -m tools.assets.catalog --write-schema
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Literal

import bm25s
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from tools.directory.base import DirectoryUser
from tools.errors import InvalidInput
from tools.knowledge.analysis import analyze
from tools.settings import PROJECT_ROOT

DEFAULT_CATALOG = PROJECT_ROOT / "manifests" / "catalog.yaml"
SCHEMA_FILE = PROJECT_ROOT / "manifests" / "catalog.schema.json"
MIN_SCORE = 1.0
"""BM25 score below which a match is noise (a shared stop-ish word, one stem)."""

Approval = Literal["none", "manager", "owner", "manager_and_owner"]
Fulfilment = Literal["automatic", "queue"]
AccessKind = Literal[
    "security_group",
    "microsoft365_group",
    "team",
    "sharepoint_site",
    "shared_mailbox",
    "distribution_list",
]
_NOT_GRAPH_WRITABLE: frozenset[str] = frozenset({"shared_mailbox", "distribution_list"})
_SECTIONS = {"software": "software", "hardware": "hardware", "access": "access"}
_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
_UPN_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
# Field weights for matching, as repetitions of the field's terms.
_NAME_WEIGHT, _ALIAS_WEIGHT, _TEXT_WEIGHT = 3, 3, 1


class _Strict(BaseModel):
    """Unknown keys are errors: a typo in the file must not pass silently."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, use_attribute_docstrings=True
    )


class GroupRef(_Strict):
    """An Entra group, by object id, display name or both (the id wins)."""

    object_id: str | None = Field(default=None, min_length=1, max_length=64)
    """The group's object id (most reliable: display names can be renamed)."""
    display_name: str | None = Field(default=None, min_length=1, max_length=256)
    """The group's display name, used when no object id is given."""

    @model_validator(mode="after")
    def _named(self) -> GroupRef:
        if not (self.object_id or self.display_name):
            raise ValueError("group needs an object_id or a display_name")
        return self

    @property
    def key(self) -> str:
        """What to look the group up by in the directory."""
        return self.object_id or self.display_name or ""


class Cost(_Strict):
    """What an item costs the company."""

    amount: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    """Non-negative, at most two decimals."""
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    """ISO 4217 code, e.g. USD, EUR, GBP."""
    per: Literal["month", "year", "one_off"]
    """How often it is paid: a licence per month or year, or a one-off purchase."""

    def describe(self) -> str:
        """The cost in words for an approval card ("12.50 USD per month")."""
        per = "one-off" if self.per == "one_off" else f"per {self.per}"
        return f"{self.amount:.2f} {self.currency} {per}"


class _Item(_Strict):
    kind: ClassVar[str]
    automatic_allowed: ClassVar[bool] = True

    id: str = Field(pattern=_ID_PATTERN)
    """Unique in the whole catalogue: lower case, digits and dashes."""
    name: str = Field(min_length=1, max_length=120)
    """The name employees see."""
    description: str = Field(min_length=1, max_length=1000)
    """One or two sentences: what it is and who it is for."""
    aliases: list[str] = Field(default_factory=list)
    """Other words employees use for it ("the diagram thing" for Visio)."""
    owner: str | None = Field(default=None, pattern=_UPN_PATTERN)
    """UPN of the person who owns the item and approves owner approvals."""
    approval: Approval
    """Who approves a request: none, the requester's manager, the item's owner,
    or the manager and then the owner."""
    fulfilment: Fulfilment
    """automatic: the directory adds the employee to the group. queue: a person
    in the ``queue`` assignment group does it."""
    queue: str | None = Field(default=None, min_length=1, max_length=128)
    """The assignment group that fulfils the request (and the fallback when an
    automatic step cannot be done)."""

    @model_validator(mode="after")
    def _cross_fields(self) -> _Item:
        if self.approval in ("owner", "manager_and_owner") and not self.owner:
            raise ValueError(f"approval {self.approval!r} needs an owner")
        if self.fulfilment == "queue" and not self.queue:
            raise ValueError(
                "fulfilment 'queue' needs a queue (the assignment group's name)"
            )
        if self.fulfilment == "automatic" and not self.automatic_allowed:
            raise ValueError(
                f"fulfilment: {self.kind} is fulfilled by a queue (a person ships "
                "it); use 'fulfilment: queue' with the queue's name"
            )
        if self.fulfilment == "automatic" and getattr(self, "group", None) is None:
            raise ValueError("fulfilment 'automatic' needs a group")
        return self

    def search_text(self) -> list[tuple[str, int]]:
        """The texts matching looks at, each with its weight."""
        texts = [(self.name, _NAME_WEIGHT), (self.id.replace("-", " "), _NAME_WEIGHT)]
        texts += [(alias, _ALIAS_WEIGHT) for alias in self.aliases]
        texts.append((self.description, _TEXT_WEIGHT))
        return texts


class SoftwareItem(_Item):
    """A licence or an app deployment, assigned through an Entra group."""

    kind: ClassVar[str] = "software"

    group: GroupRef | None = None
    """The group that assigns the licence or deploys the app."""
    cost: Cost | None = None
    """None when it costs nothing."""


class HardwareModel(_Strict):
    """One orderable model of a hardware item."""

    id: str = Field(pattern=_ID_PATTERN)
    name: str = Field(min_length=1, max_length=120)
    spec: str = Field(min_length=1, max_length=500)
    """The specification in a line (CPU, memory, disk, size)."""
    cost: Cost


class Eligibility(_Strict):
    """Who may order a hardware item: everyone, or anyone matching one list."""

    everyone: bool = False
    departments: list[str] = Field(default_factory=list)
    """Directory department names (matched without regard to case)."""
    job_titles: list[str] = Field(default_factory=list)
    """Directory job titles (matched without regard to case)."""
    roles: list[str] = Field(default_factory=list)
    """Product roles from the directory (e.g. helpdesk)."""

    @model_validator(mode="after")
    def _one_way(self) -> Eligibility:
        lists = bool(self.departments or self.job_titles or self.roles)
        if self.everyone and lists:
            raise ValueError(
                "eligible: 'everyone: true' cannot be combined with departments, "
                "job_titles or roles"
            )
        if not self.everyone and not lists:
            raise ValueError(
                "eligible needs 'everyone: true' or at least one of departments, "
                "job_titles, roles"
            )
        return self

    def allows(self, user: DirectoryUser) -> bool:
        """Whether ``user`` may order the item."""
        if self.everyone:
            return True
        department = (user.department or "").strip().lower()
        title = (user.job_title or "").strip().lower()
        return (
            department in {d.strip().lower() for d in self.departments}
            or title in {t.strip().lower() for t in self.job_titles}
            or bool(user.roles & set(self.roles))
        )


class HardwareItem(_Item):
    """A device. Always fulfilled by a queue: a person orders and ships it."""

    kind: ClassVar[str] = "hardware"
    automatic_allowed: ClassVar[bool] = False

    models: list[HardwareModel] = Field(min_length=1)
    """The models that can be ordered, the standard one first."""
    eligible: Eligibility
    refresh_months: int | None = Field(default=None, ge=1, le=120)
    """How often one person may get a new one (36: one laptop every three
    years). None: no limit."""

    @model_validator(mode="after")
    def _unique_models(self) -> HardwareItem:
        seen: set[str] = set()
        for model in self.models:
            if model.id in seen:
                raise ValueError(f"models: model id {model.id!r} is used twice")
            seen.add(model.id)
        return self

    def search_text(self) -> list[tuple[str, int]]:
        texts = super().search_text()
        texts += [(f"{m.name} {m.spec}", _TEXT_WEIGHT) for m in self.models]
        return texts


class AccessItem(_Item):
    """Access to something shared, granted through its group."""

    kind: ClassVar[str] = "access"

    type: AccessKind
    """What it is; shared_mailbox and distribution_list need fulfilment: queue."""
    group: GroupRef
    """The group that grants the access (for a shared mailbox: the group that
    holds its Exchange permissions)."""

    @model_validator(mode="after")
    def _graph_can_do_it(self) -> AccessItem:
        if self.fulfilment == "automatic" and self.type in _NOT_GRAPH_WRITABLE:
            raise ValueError(
                f"fulfilment: a {self.type.replace('_', ' ')} cannot be fulfilled "
                "automatically (Microsoft Graph cannot change its members); use "
                "'fulfilment: queue'"
            )
        return self

    def search_text(self) -> list[tuple[str, int]]:
        texts = super().search_text()
        texts.append((self.type.replace("_", " "), _TEXT_WEIGHT))
        return texts


CatalogItem = SoftwareItem | HardwareItem | AccessItem


class Catalog(_Strict):
    """The whole catalogue, as in ``manifests/catalog.yaml``."""

    model_config = ConfigDict(
        title="Helpdesk Copilot asset catalogue",
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"},
    )

    software: list[SoftwareItem] = Field(default_factory=list)
    hardware: list[HardwareItem] = Field(default_factory=list)
    access: list[AccessItem] = Field(default_factory=list)

    _index: _Index | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _unique_ids(self) -> Catalog:
        seen: dict[str, str] = {}
        for section, position, item in self._positions():
            here = f"{section} #{position}"
            if item.id in seen:
                raise ValueError(
                    f"item {item.id!r} ({here}): id is already used by {seen[item.id]}"
                )
            seen[item.id] = here
        return self

    def items(self) -> list[CatalogItem]:
        """Every item: software, then hardware, then access."""
        return [*self.software, *self.hardware, *self.access]

    def get(self, item_id: str) -> CatalogItem | None:
        """The item with this id, or None."""
        return next((i for i in self.items() if i.id == item_id), None)

    def _positions(self) -> Iterator[tuple[str, int, CatalogItem]]:
        for section in _SECTIONS:
            for position, item in enumerate(getattr(self, section), start=1):
                yield section, position, item


# -- loading -----------------------------------------------------------------------


def load_catalog(path: Path = DEFAULT_CATALOG) -> Catalog:
    """Read and check a catalogue file.

    Raises:
        InvalidInput: the file is unreadable or not YAML, or an item breaks a
            rule; the message names the file, the item (by id and position)
            and the field, one problem per line.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{path.name}: cannot read the catalogue: {exc}") from exc
    return parse_catalog(data, source=path.name)


def parse_catalog(data: Any, *, source: str = "catalog.yaml") -> Catalog:
    """Check already-parsed catalogue data (see :func:`load_catalog`)."""
    if data is None:
        data = {}
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(error, data) for error in exc.errors()]
        raise InvalidInput(
            "\n".join(f"{source}: {p}" for p in problems),
            user_message="The asset catalogue has an error; an admin has to fix it.",
        ) from exc


def _describe(error: Any, data: Any) -> str:
    """One problem in words: the item by id and position, then the field."""
    loc = list(error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if len(loc) >= 2 and loc[0] in _SECTIONS and isinstance(loc[1], int):
        section, index = str(loc[0]), loc[1]
        where = f"{section} #{index + 1}"
        raw = _raw_item(data, section, index)
        item_id = raw.get("id") if isinstance(raw, dict) else None
        who = f"item {item_id!r} ({where})" if item_id else where
        field = ".".join(str(part) for part in loc[2:])
        return f"{who}: {field}: {message}" if field else f"{who}: {message}"
    field = ".".join(str(part) for part in loc)
    return f"{field}: {message}" if field else message


def _raw_item(data: Any, section: str, index: int) -> Any:
    items = data.get(section) if isinstance(data, dict) else None
    if isinstance(items, list) and 0 <= index < len(items):
        return items[index]
    return None


# -- matching an employee's words -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class ItemMatch:
    """An item that matches the employee's words, with its BM25 score."""

    item: CatalogItem
    score: float


_ASKING = frozenset(analyze("access request need want get give grant new"))
"""Words of asking, not of the thing asked for: "give me access to Confluence"
must not match "VPN access" on "access" alone."""


class _Index:
    """A BM25 index over the items' names, aliases and descriptions."""

    def __init__(self, items: Sequence[CatalogItem]) -> None:
        self.items = list(items)
        self._retriever = bm25s.BM25()
        if self.items:
            self._retriever.index(
                [_terms(item) for item in self.items], show_progress=False
            )

    def scores(self, text: str) -> list[float]:
        terms = [t for t in dict.fromkeys(analyze(text)) if t not in _ASKING]
        if not terms or not self.items:
            return [0.0] * len(self.items)
        return [float(s) for s in self._retriever.get_scores(terms)]


def _terms(item: CatalogItem) -> list[str]:
    terms: list[str] = []
    for text, weight in item.search_text():
        terms += analyze(text) * weight
    return terms


def find_items(
    catalog: Catalog,
    text: str,
    *,
    limit: int = 5,
    min_score: float = MIN_SCORE,
    kind: Literal["software", "hardware", "access"] | None = None,
) -> list[ItemMatch]:
    """Items that match the employee's own words, best first.

    Scored with BM25 over name, id and aliases (weighted) and description,
    after the knowledge search's analysis (stop words, synonyms, stems), so
    "the diagram thing" finds Visio and "a bigger screen" a monitor.

    Args:
        catalog: the loaded catalogue.
        text: what the employee wrote.
        limit: at most this many matches.
        min_score: matches scoring below this are dropped, so nonsense
            finds nothing.
        kind: only items of this kind.

    Returns:
        Up to ``limit`` matches, highest score first; empty when nothing fits.
    """
    if catalog._index is None:
        catalog._index = _Index(catalog.items())
    index = catalog._index
    ranked = sorted(
        (
            ItemMatch(item, score)
            for item, score in zip(index.items, index.scores(text), strict=True)
            if score >= min_score and (kind is None or item.kind == kind)
        ),
        key=lambda match: match.score,
        reverse=True,
    )
    return ranked[: max(0, limit)]


# -- the published schema -------------------------------------------------------------


def json_schema() -> dict[str, Any]:
    """The catalogue's JSON Schema, generated from the models."""
    return Catalog.model_json_schema(mode="validation")


def schema_text() -> str:
    """The schema as it is checked in: two-space indent, trailing newline."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tools.assets.catalog``: check a catalogue or publish the schema."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.assets.catalog",
        description="Check the asset catalogue, or print or write its JSON Schema.",
    )
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT_CATALOG)
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--schema", action="store_true", help="print the schema")
    action.add_argument(
        "--write-schema",
        action="store_true",
        help=f"write the schema to {SCHEMA_FILE.relative_to(PROJECT_ROOT)}",
    )
    args = parser.parse_args(argv)

    if args.schema:
        sys.stdout.write(schema_text())
        return 0
    if args.write_schema:
        SCHEMA_FILE.write_text(schema_text(), encoding="utf-8")
        sys.stdout.write(f"wrote {SCHEMA_FILE.relative_to(PROJECT_ROOT)}\n")
        return 0
    try:
        catalog = load_catalog(args.file)
    except InvalidInput as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    sys.stdout.write(
        f"{args.file.name}: {len(catalog.software)} software, "
        f"{len(catalog.hardware)} hardware, {len(catalog.access)} access items\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
