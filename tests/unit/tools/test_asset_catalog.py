"""The asset catalogue: the shipped file loads, broken files say where, words find items."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tools.assets.catalog import (
    DEFAULT_CATALOG,
    SCHEMA_FILE,
    find_items,
    load_catalog,
    main,
    parse_catalog,
    schema_text,
)
from tools.directory.base import DirectoryUser
from tools.directory.local import load_seed
from tools.errors import InvalidInput
from tools.settings import load_settings


@pytest.fixture(scope="module")
def shipped() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_CATALOG.read_text(encoding="utf-8"))


def _broken(shipped: dict[str, Any], section: str, index: int, **changes: Any) -> Any:
    data = copy.deepcopy(shipped)
    item = data[section][index]
    for key, value in changes.items():
        if value is None:
            item.pop(key, None)
        else:
            item[key] = value
    return data


def test_shipped_catalogue_loads_with_every_kind() -> None:
    catalog = load_catalog()

    assert len(catalog.software) >= 8
    assert len(catalog.hardware) >= 5
    assert len(catalog.access) >= 6
    assert catalog.get("visio").name == "Microsoft Visio Plan 2"  # type: ignore[union-attr]
    assert catalog.get("no-such-thing") is None


def test_shipped_groups_exist_in_the_embedded_directory() -> None:
    seed = load_seed(load_settings().directory_seed_file)
    ids = {g.id for g in seed.groups}
    names = {g.name for g in seed.groups}

    for item in load_catalog().items():
        group = getattr(item, "group", None)
        if group is not None:
            assert group.object_id in ids, item.id
            assert group.display_name in names, item.id


def test_shipped_owners_exist_in_the_embedded_directory() -> None:
    seed = load_seed(load_settings().directory_seed_file)
    upns = {u.upn for u in seed.users}

    owners = {i.owner for i in load_catalog().items() if i.owner}

    assert owners and owners <= upns


@pytest.mark.parametrize(
    ("section", "index", "changes", "expected"),
    [
        pytest.param(
            "software",
            1,
            {"approval": "owner", "owner": None},
            "catalog.yaml: item 'project' (software #2): approval 'owner' needs an owner",
            id="owner-approval-without-owner",
        ),
        pytest.param(
            "software",
            0,
            {"group": None},
            "item 'visio' (software #1): fulfilment 'automatic' needs a group",
            id="automatic-without-group",
        ),
        pytest.param(
            "software",
            0,
            {"fulfilment": "queue", "queue": None},
            "item 'visio' (software #1): fulfilment 'queue' needs a queue",
            id="queue-without-name",
        ),
        pytest.param(
            "hardware",
            0,
            {"fulfilment": "automatic"},
            "item 'standard-laptop' (hardware #1): fulfilment: hardware is fulfilled by a queue",
            id="hardware-is-queue-only",
        ),
        pytest.param(
            "software",
            2,
            {"cost": {"amount": -5, "currency": "USD", "per": "month"}},
            "item 'acrobat-pro' (software #3): cost.amount: Input should be greater than or equal to 0",
            id="negative-cost",
        ),
        pytest.param(
            "hardware",
            1,
            {"eligible": {"departments": ["IT"], "grade": ["senior"]}},
            "item 'developer-laptop' (hardware #2): eligible.grade: Extra inputs are not permitted",
            id="unknown-eligibility-field",
        ),
        pytest.param(
            "hardware",
            2,
            {"eligible": {}},
            "item 'monitor-27' (hardware #3): eligible: eligible needs 'everyone: true'",
            id="nobody-eligible",
        ),
        pytest.param(
            "access",
            0,
            {"fulfilment": "automatic"},
            "item 'finance-shared-mailbox' (access #1): fulfilment: a shared mailbox cannot be fulfilled automatically",
            id="shared-mailbox-automatic",
        ),
        pytest.param(
            "access",
            4,
            {"id": None},
            "access #5: id: Field required",
            id="item-without-id-named-by-position",
        ),
        pytest.param(
            "software",
            3,
            {"approval": "boss"},
            "item 'power-bi-pro' (software #4): approval: Input should be 'none', 'manager', 'owner' or 'manager_and_owner'",
            id="unknown-approval",
        ),
    ],
)
def test_broken_item_names_the_item_and_the_field(
    shipped: dict[str, Any],
    section: str,
    index: int,
    changes: dict[str, Any],
    expected: str,
) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_catalog(_broken(shipped, section, index, **changes))

    assert expected in str(caught.value)
    assert "admin" in caught.value.user_message


def test_duplicate_id_names_both_places(shipped: dict[str, Any]) -> None:
    data = _broken(shipped, "hardware", 0, id="visio")

    with pytest.raises(
        InvalidInput,
        match=r"item 'visio' \(hardware #1\): id is "
        r"already used by software #1",
    ):
        parse_catalog(data)


def test_unreadable_file_says_so(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text("software: [\n", encoding="utf-8")

    with pytest.raises(InvalidInput, match=r"catalog\.yaml: cannot read the catalogue"):
        load_catalog(path)


def test_checked_in_schema_is_the_generated_one() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        "manifests/catalog.schema.json is stale: run "
        "python -m tools.assets.catalog --write-schema"
    )


def test_schema_accepts_the_shipped_file_and_rejects_unknown_keys(
    shipped: dict[str, Any],
) -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)

    validator.validate(shipped)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(_broken(shipped, "software", 0, licence="E5"))


def test_cli_checks_a_file_and_reports_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], shipped: dict[str, Any]
) -> None:
    bad = tmp_path / "catalog.yaml"
    bad.write_text(
        yaml.safe_dump(_broken(shipped, "software", 1, approval="owner", owner=None)),
        encoding="utf-8",
    )

    assert main([str(DEFAULT_CATALOG)]) == 0
    assert "8 software" in capsys.readouterr().out
    assert main([str(bad)]) == 1
    assert "item 'project' (software #2)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        pytest.param("the diagram thing", "visio", id="visio"),
        pytest.param("I need Visio", "visio", id="visio-by-name"),
        pytest.param("a bigger screen", "monitor-27", id="monitor"),
        pytest.param("finance shared mailbox", "finance-shared-mailbox", id="mailbox"),
        pytest.param("I need to edit a PDF", "acrobat-pro", id="acrobat"),
        pytest.param("can I work from home", "vpn-access", id="vpn"),
        pytest.param("my laptop is really slow", "standard-laptop", id="laptop"),
        pytest.param("headphones for calls", "headset", id="headset"),
    ],
)
def test_employees_words_find_the_item(words: str, expected: str) -> None:
    [best, *_] = find_items(load_catalog(), words)

    assert best.item.id == expected


@pytest.mark.parametrize("words", ["asdkjh qwerty", "I need something", "", "thanks!"])
def test_nonsense_finds_nothing(words: str) -> None:
    assert find_items(load_catalog(), words) == []


@pytest.mark.parametrize(
    "words", ["give me access to Confluence", "I need a new Slack", "access"]
)
def test_words_of_asking_alone_match_no_item(words: str) -> None:
    """ "access" is how people ask, not what: Confluence is not VPN access."""
    assert find_items(load_catalog(), words) == []


def test_matches_can_be_limited_to_a_kind() -> None:
    catalog = load_catalog()

    found = find_items(catalog, "finance", kind="access", limit=5)

    assert {m.item.id for m in found} == {
        "finance-shared-mailbox",
        "finance-reports-readonly",
    }
    assert find_items(catalog, "laptop", limit=1)[0].item.kind == "hardware"


def test_eligibility_by_department_title_or_role() -> None:
    developer = load_catalog().get("developer-laptop")
    assert developer is not None and developer.kind == "hardware"

    def person(**fields: Any) -> DirectoryUser:
        return DirectoryUser(
            object_id="x", upn="x@contoso.example", display_name="X", **fields
        )

    assert developer.eligible.allows(person(department="engineering"))  # type: ignore[union-attr]
    assert developer.eligible.allows(person(job_title="Data Scientist"))  # type: ignore[union-attr]
    assert not developer.eligible.allows(person(department="Sales"))  # type: ignore[union-attr]
