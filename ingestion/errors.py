"""Errors a user can act on: they name the file and the problem, never a stack trace."""

from __future__ import annotations

from pathlib import Path


class LandingFileError(Exception):
    """A landing file that cannot be read at all; its whole partition fails and nothing loads."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
