"""Per-source export mappings: how a real export's headers and display values meet the contract.

A mapping is a small YAML file per source. The project ships defaults in ingestion/mappings/;
a file of the same name in $XMO_DATA_DIR/mappings/ is laid over it (its `columns` and `values`
entries add to or replace the default's, its other settings replace them), so an organisation
whose exports differ configures only what differs, without code changes.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

DEFAULTS_DIR = Path(__file__).parent / "mappings"

_KEYS = {
    "columns",
    "datetime_format",
    "timezone",
    "null_values",
    "values",
    "leading_code",
    "encoding",
    "delimiter",
    "table",
    "number_prefixes",
}
# Settings whose entries a data dir's file adds to the defaults instead of replacing them.
_MERGED_KEYS = ("columns", "values", "number_prefixes")
# How a delimiter may be written in YAML besides the character itself.
_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}

# ServiceNow (Java/Glide) date pattern letters and their strptime equivalents, longest first.
_JAVA_TO_STRPTIME = (
    ("yyyy", "%Y"),
    ("MM", "%m"),
    ("dd", "%d"),
    ("HH", "%H"),
    ("mm", "%M"),
    ("ss", "%S"),
    ("yy", "%y"),
    ("a", "%p"),
    ("hh", "%I"),
)


class MappingError(Exception):
    """A mapping file that cannot be used; names the file and the problem."""


def java_to_strptime(pattern: str) -> str:
    out, i = "", 0
    while i < len(pattern):
        for java, python in _JAVA_TO_STRPTIME:
            if pattern.startswith(java, i):
                out += python
                i += len(java)
                break
        else:
            out += pattern[i]
            i += 1
    return out


@dataclass(frozen=True)
class SourceMapping:
    """How exports of one source map onto its landing contract."""

    # export header (case-insensitive) -> contract field
    columns: dict[str, str] = field(default_factory=dict)
    # The instance's display format for date-times, e.g. "dd-MM-yyyy HH:mm"; None = ISO only.
    datetime_format: str | None = None
    # Display values are in the exporting user's time zone; raw API values are UTC.
    timezone: str = "UTC"
    null_values: tuple[str, ...] = ("",)
    # field -> {display value (case-insensitive): stored value}
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    # Fields whose display value starts with its code, as "2 - High" does for priority.
    leading_code: tuple[str, ...] = ()
    # Text encodings of CSV files, tried in order (a byte-order mark wins over them).
    encodings: tuple[str, ...] = ("utf-8",)
    # CSV delimiter; None: detected from the header line (`,`, `;`, tab or `|`).
    delimiter: str | None = None
    # itsm: the table every record of a list export comes from, when it has no class column.
    table: str | None = None
    # itsm: ticket number prefix -> table, for list exports without a class column.
    number_prefixes: dict[str, str] = field(default_factory=dict)

    def rename(self, header: str) -> str:
        lookup = {k.strip().lower(): v for k, v in self.columns.items()}
        return lookup.get(header.strip().lower(), header.strip())

    def is_null(self, value: str | None) -> bool:
        return value is None or value.strip() in self.null_values

    def normalise(self, field_name: str, value: str | None) -> str | None:
        """The contract's value for one exported cell (None for a null marker)."""
        if self.is_null(value):
            return None
        text = value.strip()
        mapped = {k.lower(): v for k, v in self.values.get(field_name, {}).items()}
        if text.lower() in mapped:
            return mapped[text.lower()]
        if field_name in self.leading_code:
            match = re.match(r"^\s*(\d+)\s*-", text)
            if match:
                return match.group(1)
        return text

    def table_of(self, number: str | None) -> str | None:
        """The table of a ticket from the mapping-wide `table`, else its number's prefix."""
        if self.table:
            return self.table
        if not number:
            return None
        text = number.strip().upper()
        for prefix in sorted(self.number_prefixes, key=len, reverse=True):
            if text.startswith(prefix.upper()):
                return self.number_prefixes[prefix]
        return None

    def to_utc_text(self, value: str) -> str:
        """A display date-time in the configured format and zone as UTC 'YYYY-MM-DD HH:MM:SS'.

        Values that do not match the format are returned unchanged, so the contract check
        reports them with their original text.
        """
        if not self.datetime_format:
            return value
        try:
            local = datetime.strptime(value.strip(), java_to_strptime(self.datetime_format))
        except ValueError:
            return value
        utc = local.replace(tzinfo=ZoneInfo(self.timezone)).astimezone(ZoneInfo("UTC"))
        return utc.strftime("%Y-%m-%d %H:%M:%S")


def _read_document(path: Path) -> dict:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise MappingError(f"{path}: cannot be read as YAML ({exc})") from None
    if not isinstance(document, dict):
        raise MappingError(f"{path}: expected a mapping of settings at the top level")
    unknown = sorted(set(document) - _KEYS)
    if unknown:
        raise MappingError(f"{path}: unknown setting(s) {unknown}; known: {sorted(_KEYS)}")
    for key in _MERGED_KEYS:
        if not isinstance(document.get(key) or {}, dict):
            raise MappingError(f"{path}: `{key}` must be a mapping")
    return document


def _overlay(base: dict, override: dict) -> dict:
    merged = {**base, **override}
    for key in _MERGED_KEYS:
        merged[key] = {**(base.get(key) or {}), **(override.get(key) or {})}
    return merged


def _encodings(value: object, path: Path) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise MappingError(f"{path}: `encoding` must be an encoding name or a list of them")
    for name in names:
        try:
            codecs.lookup(name)
        except LookupError:
            raise MappingError(
                f"{path}: unknown encoding {name!r} (e.g. utf-8, cp1252, utf-16, latin-1)"
            ) from None
    return tuple(names)


def _delimiter(value: object, path: Path) -> str | None:
    if value is None:
        return None
    text = _DELIMITER_NAMES.get(str(value).lower(), str(value))
    if len(text) != 1 or text in {'"', "\n", "\r"}:
        raise MappingError(
            f"{path}: `delimiter` must be one character (or tab, comma, semicolon, pipe), "
            f"got {value!r}"
        )
    return text


def load_mapping(*paths: Path) -> SourceMapping:
    """The mapping of one or more YAML files, each laid over the ones before it."""
    document: dict = {}
    for path in paths:
        document = _overlay(document, _read_document(path))
    path = paths[-1]
    timezone = str(document.get("timezone", "UTC"))
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise MappingError(f"{path}: unknown time zone {timezone!r}") from None
    return SourceMapping(
        columns={str(k): str(v) for k, v in (document.get("columns") or {}).items()},
        datetime_format=document.get("datetime_format"),
        timezone=timezone,
        null_values=tuple(str(v) for v in document.get("null_values", [""])),
        values={
            str(f): {str(k): str(v) for k, v in (m or {}).items()}
            for f, m in (document.get("values") or {}).items()
        },
        leading_code=tuple(document.get("leading_code") or ()),
        encodings=_encodings(document.get("encoding", "utf-8"), path),
        delimiter=_delimiter(document.get("delimiter"), path),
        table=str(document["table"]) if document.get("table") else None,
        number_prefixes={
            str(k): str(v) for k, v in (document.get("number_prefixes") or {}).items()
        },
    )


def mapping_for(source: str, override_dir: Path | None = None) -> SourceMapping:
    """The mapping of `source`: the project default with the override file laid over it."""
    files = [
        folder / f"{source}.yml"
        for folder in (DEFAULTS_DIR, override_dir)
        if folder is not None and (folder / f"{source}.yml").is_file()
    ]
    return load_mapping(*files) if files else SourceMapping()
