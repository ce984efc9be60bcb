"""CSV exports as real tools write them, read one record at a time.

Excel, ServiceNow list views and survey tools write CSV in many shapes: UTF-8 with or without a
byte-order mark, Windows-1252 from Excel on Windows, UTF-16 from Excel's "Unicode text", `,` or
`;` (European Excel) or tab as delimiter, CRLF or LF, quoted fields holding delimiters, doubled
quotes and line breaks. This module turns such a file into its header and records, each record
with the line it starts on, and says which records do not have the header's number of fields, so
one ragged row costs that row and not the whole file.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingestion.errors import LandingFileError

# Delimiters a header line is tested for when the mapping names none.
DELIMITER_CANDIDATES = (",", ";", "\t", "|")
# Byte-order marks say the encoding outright: they win over the mapping's setting.
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Tried, in order, to suggest a fix when a file is not valid in its declared encoding.
_LIKELY_ENCODINGS = (
    ("utf-8", "UTF-8"),
    ("cp1252", "Windows-1252, what Excel on Windows saves"),
    ("utf-16", "UTF-16, Excel's 'Unicode text'"),
)


def ragged_reason(found: int, expected: int) -> str:
    """The quarantine reason of a record whose field count differs from the header's."""
    return f"{found} fields, expected {expected} (as in the header)"


@dataclass(frozen=True)
class CsvRecord:
    """One record: the lines it spans (the header is line 1) and its cells."""

    line: int
    last_line: int
    cells: list[str]


@dataclass
class CsvDocument:
    """A decoded CSV file: its header and a way to read its records."""

    path: Path
    text: str
    encoding: str
    delimiter: str
    header: list[str]
    # Lines of the text, split as the csv module counts them; made on demand for raw text.
    _lines: list[str] | None = field(default=None, repr=False)

    def _reader(self) -> Any:  # the csv module's reader type is not public
        return csv.reader(
            io.StringIO(self.text, newline=""),
            delimiter=self.delimiter,
            quotechar='"',
            doublequote=True,
        )

    def records(self) -> Iterator[CsvRecord]:
        """Every record after the header, blank lines skipped, each with its first line."""
        reader = self._reader()
        try:
            next(reader)  # the header
            last_line = reader.line_num
            for cells in reader:
                first_line, last_line = last_line + 1, reader.line_num
                if cells in ([], [""]):
                    continue  # empty lines, e.g. at the end of hand-edited exports
                yield CsvRecord(first_line, last_line, cells)
        except csv.Error as exc:
            raise LandingFileError(
                self.path, f"is not valid CSV at line {reader.line_num}: {exc}"
            ) from None

    def raw_text(self, record: CsvRecord) -> str:
        """The record as it stands in the file (its lines, without the final line break)."""
        if self._lines is None:
            self._lines = io.StringIO(self.text, newline="").readlines()
        return "".join(self._lines[record.line - 1 : record.last_line]).rstrip("\r\n")


def _decode(data: bytes, path: Path, encodings: tuple[str, ...], source: str) -> tuple[str, str]:
    """The file's text and the encoding it was read in."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _decode_as(data, path, encoding, source), encoding
    errors: list[tuple[str, UnicodeDecodeError]] = []
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            errors.append((encoding, exc))
            continue
        nul = text.find("\x00")
        if nul < 0:
            return text, encoding
        # Text files hold no NUL characters: these are UTF-16's zero bytes read as 8-bit text.
        at = len(text[:nul].encode(encoding))
        errors.append((encoding, UnicodeDecodeError(encoding, data, at, at + 1, "a NUL byte")))
    raise _encoding_error(data, path, errors, source)


def _decode_as(data: bytes, path: Path, encoding: str, source: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise _encoding_error(data, path, [(encoding, exc)], source) from None


def _encoding_error(
    data: bytes, path: Path, errors: list[tuple[str, UnicodeDecodeError]], source: str
) -> LandingFileError:
    first = errors[0][1]
    line = data.count(b"\n", 0, first.start) + 1
    byte = data[first.start : first.start + 1].hex()
    tried = " or ".join(name for name, _ in errors)
    mapping_file = f"$XMO_DATA_DIR/mappings/{source}.yml"
    fix = f"set `encoding:` to the file's encoding in {mapping_file}"
    failed = {name for name, _ in errors}
    for candidate, label in _LIKELY_ENCODINGS:
        if candidate in failed or (candidate == "utf-16" and b"\x00" not in data[:200]):
            continue
        try:
            text = data.decode(candidate)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            continue
        fix = f"it reads as {label}: set `encoding: {candidate}` in {mapping_file}"
        break
    return LandingFileError(
        path,
        f"is not valid {tried} text (line {line}: byte 0x{byte}, {first.reason}); {fix}",
    )


def _detect_delimiter(text: str) -> str:
    """The candidate that splits the header line most often (`,` when none does)."""
    first_line = text.split("\n", 1)[0]
    counts = {d: first_line.count(d) for d in DELIMITER_CANDIDATES}
    best = max(DELIMITER_CANDIDATES, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv_document(
    path: Path,
    source: str,
    encodings: tuple[str, ...] = ("utf-8",),
    delimiter: str | None = None,
) -> CsvDocument:
    """The decoded file and its header; LandingFileError when it cannot be read at all."""
    data = path.read_bytes()
    if not data:
        raise LandingFileError(path, "the file is empty (0 bytes); expected at least a header")
    text, encoding = _decode(data, path, encodings, source)
    text = text.removeprefix("\ufeff")  # a BOM the codec kept (utf-16 drops its own)
    delimiter = delimiter or _detect_delimiter(text)
    document = CsvDocument(path, text, encoding, delimiter, [])
    reader = document._reader()
    try:
        header = next(reader)
    except StopIteration:
        raise LandingFileError(path, "has no header row") from None
    except csv.Error as exc:
        raise LandingFileError(path, f"is not valid CSV in its header: {exc}") from None
    if not any(cell.strip() for cell in header):
        raise LandingFileError(path, "has no header row (its first line is empty)")
    document.header = [cell.strip() for cell in header]
    return document
