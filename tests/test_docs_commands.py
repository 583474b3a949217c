"""Every ``paywindow ...`` command the README and docs/ show exists: ``--help`` parses for it.

Commands are collected from code blocks and inline code; the command path is the run of
lower-case words after ``paywindow`` (placeholders, ids and options end it).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paywindow.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_WORD = re.compile(r"[a-z][a-z-]*")


def _snippets(text: str) -> list[str]:
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, re.S)
    lines = [line for block in blocks for line in block.splitlines()]
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    inline = [part for line in prose.splitlines() for part in line.split("`")[1::2]]
    return lines + inline


def _command(snippet: str) -> tuple[str, ...] | None:
    tokens = snippet.split()
    if "paywindow" not in tokens:
        return None
    words = tokens[tokens.index("paywindow") + 1 :]
    path: list[str] = []
    for word in words:
        if not _WORD.fullmatch(word):
            break
        path.append(word)
    return tuple(path) if path else None


COMMANDS = sorted(
    {c for doc in DOCS for s in _snippets(doc.read_text()) if (c := _command(s)) is not None}
)


def test_the_docs_show_commands() -> None:
    assert len(COMMANDS) >= 15, COMMANDS


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_documented_command_parses(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, f"paywindow {' '.join(command)}: {result.output}"
