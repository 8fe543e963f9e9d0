"""Where an inline suggestion ends, and how long one batch may decode.

- ``StatementEnd``: a suggestion finishes the line at the cursor, or on a blank line one
  statement (with a short block when it opens one): most suggestions are one line and
  cost a few tokens.
- ``InlineBudget``: a batch ends once half of its candidates are complete and the others
  had a few more steps, and after ``INLINE_DECODE_BUDGET_S`` of decoding at the latest.
"""

from __future__ import annotations

from collections.abc import Callable

INLINE_DECODE_BUDGET_S = 0.45  # decoding time of one inline batch (prefill not included)
INLINE_GRACE_STEPS = 4  # steps the slower candidates get once half of them are complete
MAX_BLOCK_LINES = 3  # lines of a block body suggested with a statement that opens one
MAX_STATEMENT_LINES = 8  # lines of one bracketed statement
MAX_LINE_CHARS = 240


def _indent_width(line: str) -> int:
    width = 0
    for ch in line:
        if ch == " ":
            width += 1
        elif ch == "\t":
            width += 8 - width % 8
        else:
            break
    return width


class _Scanner:
    """Bracket depth and string state of Python text, line by line (approximate)."""

    def __init__(self) -> None:
        self.depth = 0
        self.string: str | None = None  # the open quote ("'", '"', "'''", '"""')

    def feed(self, line: str) -> None:
        i, n = 0, len(line)
        while i < n:
            ch = line[i]
            if self.string is not None:
                if ch == "\\":
                    i += 2
                    continue
                if line.startswith(self.string, i):
                    i += len(self.string)
                    self.string = None
                    continue
                i += 1
                continue
            if ch == "#":
                break
            if ch in "\"'":
                triple = ch * 3
                if line.startswith(triple, i):
                    self.string = triple
                    i += 3
                    continue
                self.string = ch
            elif ch in "([{":
                self.depth += 1
            elif ch in ")]}":
                self.depth = max(0, self.depth - 1)
            i += 1
        if self.string in ("'", '"'):
            self.string = None  # a one-line string cannot span lines

    @property
    def open(self) -> bool:
        return self.depth > 0 or self.string is not None


def _continues(line: str) -> bool:
    body = line.split("#", 1)[0].rstrip()
    return body.endswith("\\") or body.endswith(",")


def _opens_block(line: str) -> bool:
    return line.split("#", 1)[0].rstrip().endswith(":")


class StatementEnd:
    """``stop_fn`` for the engine: the index where a suggestion is complete.

    - With code before the cursor on its line, the suggestion finishes that line (or,
      when the line is already finished and the model starts a new one, it is that
      next line): one line of new text, the common case while typing.
    - On a blank line, the suggestion is one statement: a bracketed statement runs
      until its brackets close (up to MAX_STATEMENT_LINES lines); a statement that
      opens a block brings its indented body (up to MAX_BLOCK_LINES lines). A blank
      line, or a line indented no deeper than the statement, ends it.

    Short suggestions are what keeps inline completion fast: a batch of N candidates
    lasts as long as its longest one (see InlineBudget for the cap).
    """

    def __init__(self, line_before: str) -> None:
        self.head = line_before
        scanner = _Scanner()
        scanner.feed(line_before)
        self.head_depth = scanner.depth
        self.head_string = scanner.string
        self.head_has_code = line_before.strip() != ""

    def __call__(self, text: str) -> int | None:
        if "\n" not in text:
            return len(text) if len(text) > MAX_LINE_CHARS else None
        complete = text.split("\n")[:-1]
        if self.head_has_code:
            return self._finish_line(complete)
        return self._one_statement(complete)

    def _finish_line(self, complete: list[str]) -> int | None:
        offset = 0
        for i, segment in enumerate(complete):
            end = offset + len(segment)
            if segment.strip():
                return end  # the first line with new text is the suggestion
            if i >= 2:
                return max(0, offset - 1)  # only blank lines: nothing to suggest
            offset = end + 1
        return None

    def _one_statement(self, complete: list[str]) -> int | None:
        scanner = _Scanner()
        scanner.depth, scanner.string = self.head_depth, self.head_string
        started = in_block = False
        stmt_indent = block_lines = stmt_lines = blanks = 0
        offset = 0
        for i, segment in enumerate(complete):
            line = self.head + segment if i == 0 else segment
            end = offset + len(segment)  # index of this line's "\n" in text
            stripped = line.strip()
            if not started:
                if stripped:
                    started, stmt_lines = True, 1
                    stmt_indent = _indent_width(line)
                    scanner.feed(line)
                    if not (scanner.open or _continues(line)):
                        if not _opens_block(line):
                            return end
                        in_block = True
                else:
                    blanks += 1
                    if blanks > 1:
                        return max(0, offset - 1)
            elif in_block:
                if not stripped or (_indent_width(line) <= stmt_indent and not scanner.open):
                    return max(0, offset - 1)
                scanner.feed(line)
                block_lines += 1
                if block_lines >= MAX_BLOCK_LINES and not scanner.open:
                    return end
            else:  # inside a bracketed or continued statement
                scanner.feed(line)
                stmt_lines += 1
                if not (scanner.open or _continues(line)):
                    if not _opens_block(line):
                        return end
                    in_block = True
                elif stmt_lines >= MAX_STATEMENT_LINES:
                    return end
            offset = end + 1
        return None


class InlineBudget:
    """Bounds one batched inline generation by its faster candidates.

    Passed to the engine as ``stop_fn`` (the statement rule) and as ``step_hook``,
    which the engine asks before every decode step with the number of candidates still
    running and the decode time so far (a long prefill does not eat the budget). It
    ends the batch when

    - ``budget_s`` of decoding has passed, or
    - a quorum of candidates has finished and the stragglers had ``grace_steps`` more
      steps (the batch no longer waits for its slowest candidate).

    Stopped stragglers finish with reason "deadline" and rank below complete ones.
    """

    def __init__(self, rule: Callable[[str], int | None], n: int, budget_s: float, grace_steps: int = 4) -> None:
        self.rule = rule
        self.n = n
        self.budget_s = budget_s
        self.grace_steps = grace_steps
        self.quorum = max(1, (n + 1) // 2)
        self.steps = 0
        self.active = n
        self.quorum_step: int | None = None
        self.reason: str | None = None

    def __call__(self, text: str) -> int | None:
        """The engine's ``stop_fn``: where the suggestion is complete."""
        return self.rule(text)

    def should_stop(self, step: int, running: int, decode_s: float) -> bool:
        """The engine's ``step_hook``."""
        self.steps = step + 1
        self.active = running
        if decode_s >= self.budget_s:
            self.reason = "budget"
            return True
        if self.n - running >= self.quorum and running > 0:
            if self.quorum_step is None:
                self.quorum_step = self.steps
            elif self.steps - self.quorum_step >= self.grace_steps:
                self.reason = "quorum"
                return True
        return False
