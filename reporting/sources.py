"""What a pack says in place of a section whose source the organisation does not deliver.

One line, never an empty chart or a table of blanks: an organisation that starts with tickets
and surveys should read why there is no device experience, not wonder whether it broke.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# What each source brings, as a sentence names it.
SOURCE_NOUNS = {
    "survey": "survey answers",
    "itsm": "tickets",
    "directory": "employee directory",
    "device": "device data",
}


def not_configured(source: str, what: str) -> str:
    """The line that replaces a section fed by `source`."""
    return (
        f"Not configured: this organisation delivers no {SOURCE_NOUNS[source]} "
        f"(XMO_SOURCES / sources.yml), so there is no {what} to show."
    )


def section_notes(
    sections: Mapping[str, tuple[str, str]], sources: Iterable[str]
) -> dict[str, str | None]:
    """For each section (name -> its source and what it shows), its line when the source is not
    declared, else None (the section is shown)."""
    declared = set(sources)
    return {
        name: None if source in declared else not_configured(source, what)
        for name, (source, what) in sections.items()
    }


def indicators_not_shown(labels_by_source: Mapping[str, list[str]]) -> list[str]:
    """A line per undeclared source naming the indicators a table leaves out for it."""
    return [
        f"Not shown: {', '.join(labels)} — this organisation delivers no "
        f"{SOURCE_NOUNS[source]} (XMO_SOURCES / sources.yml)."
        for source, labels in labels_by_source.items()
        if labels
    ]
