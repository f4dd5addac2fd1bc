"""Load the fictional demo data set (`seeds/organisations.json`) into this node's directory.

The seed file is `{"organisations": [{"uuid": "<uuid>", ...input document...}, ...]}`: each organisation
is an `OrganisationIn` input document (`directory.documents`) plus the fixed `uuid` that makes its entry
id (`urn:cpd:<node host>:<uuid>`), so loading is idempotent: an organisation whose entry id is already
known here (current or deleted: ids are never reused) is counted as existing and left exactly as it is.

The whole load is one write transaction: either every missing organisation is created (each as version 1,
signed by the node, written by the system actor `seed`) or, when one of them is invalid, none is. A
validation error names the organisation and the field path.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marshmallow import ValidationError

from directory import db, documents, entries
from directory.actors import Actor
from directory.errors import InvalidInput
from directory.models.entries import Organisation

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
DEFAULT_PATH = SEEDS / "organisations.json"
ACTOR = Actor.system("seed")


@dataclass(frozen=True)
class SeedReport:
    created: int
    existing: int


@dataclass(frozen=True)
class SeedOrganisation:
    """One organisation of the seed file, not yet validated against the entry schema."""

    position: int  # index in the file's `organisations` list
    uuid: str
    fields: dict[str, Any]

    @property
    def label(self) -> str:
        name = self.fields.get("name")
        named = f" {name!r}" if isinstance(name, str) else ""
        return f"organisations[{self.position}]{named} (uuid {self.uuid})"


def load(path: Path | None = None) -> SeedReport:
    """Create the seed file's organisations that this node does not have yet (all or nothing)."""
    organisations = read(path or DEFAULT_PATH)
    created = existing = 0
    with db.write():
        for organisation in organisations:
            entry_id = entries.new_entry_id(organisation.uuid)
            if Organisation.select().where(Organisation.entry_id == entry_id).exists():
                existing += 1
                continue
            fields = validate(organisation)
            try:
                entries.create(fields, ACTOR, entry_uuid=organisation.uuid)
            except InvalidInput as exc:  # checks made while writing (keys, validity period)
                raise InvalidInput(
                    f"seed {organisation.label}: {exc.message}",
                    {f"organisations[{organisation.position}].{field}": problems
                     for field, problems in exc.errors.items()},
                ) from exc
            created += 1
    return SeedReport(created=created, existing=existing)


def read(path: Path) -> list[SeedOrganisation]:
    """Parse the seed file and check its envelope (not the documents themselves: see `validate`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read seed file {path}: {exc.strerror or exc}",
                           {"file": [str(path)]}) from None
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except ValueError as exc:
        raise InvalidInput(f"seed file {path} is not valid JSON: {exc}", {"file": [str(exc)]}) from None
    if not isinstance(data, dict) or set(data) != {"organisations"} or not isinstance(
            data["organisations"], list):
        raise InvalidInput(f"seed file {path} must be an object with one member, an `organisations` list",
                           {"organisations": ["a list of organisations is required"]})
    result: list[SeedOrganisation] = []
    seen: dict[str, int] = {}
    for position, item in enumerate(data["organisations"]):
        where = f"organisations[{position}]"
        if not isinstance(item, dict):
            raise InvalidInput(f"seed {where} is not an object", {where: ["must be an object"]})
        fields = dict(item)
        raw_uuid = fields.pop("uuid", None)
        entry_uuid = _canonical_uuid(raw_uuid)
        if entry_uuid is None:
            raise InvalidInput(f"seed {where} needs a fixed `uuid` in canonical form (got {raw_uuid!r})",
                               {f"{where}.uuid": ["a UUID like 0b5e6f0c-2d1a-4c3e-9f57-8a3d2c1b0e4f"]})
        if entry_uuid in seen:
            raise InvalidInput(f"seed {where} repeats the uuid of organisations[{seen[entry_uuid]}]",
                               {f"{where}.uuid": ["duplicate uuid"]})
        seen[entry_uuid] = position
        result.append(SeedOrganisation(position, entry_uuid, fields))
    return result


def validate(organisation: SeedOrganisation) -> dict[str, Any]:
    """The organisation's loaded input document; InvalidInput names the organisation and the fields."""
    try:
        return documents.load(organisation.fields)
    except ValidationError as exc:
        problems = documents.error_paths(exc.messages, f"organisations[{organisation.position}]")
        first = next(iter(problems.items()), None)
        detail = f": {first[0]}: {'; '.join(first[1])}" if first else ""
        raise InvalidInput(f"seed {organisation.label} is invalid{detail}", problems) from None


def _canonical_uuid(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return None
    return value if str(parsed) == value else None


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate member name {key!r}")
        result[key] = value
    return result
