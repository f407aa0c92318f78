"""What a check says when a requirement is not met: expected, observed, and where."""
from __future__ import annotations

SCOPE_PREFIX = "out of scope: "


class CheckFailed(AssertionError):
    """A requirement is not met. `where` names the host and the command or file the facts came from."""

    def __init__(self, expected, observed, where: str, evidence: tuple[str, ...] = ()):
        self.expected, self.observed, self.where, self.evidence = expected, observed, where, tuple(evidence)
        super().__init__(f"expected {expected}; observed {observed}; at {where}")


def require(ok: bool, *, expected, observed, where: str, evidence: tuple[str, ...] = ()) -> None:
    """Fail the check unless `ok`, with a message an engineer can act on."""
    if not ok:
        raise CheckFailed(expected, observed, where, evidence)


def out_of_scope(reason: str) -> str:
    """A skip reason that does not make the verdict INCOMPLETE (profile, target kind, opt-in)."""
    return SCOPE_PREFIX + reason
