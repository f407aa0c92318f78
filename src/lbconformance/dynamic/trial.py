"""Disruptive trials leave the target as they found it: a restore finalizer that also runs on failure,
on SIGINT and on SIGTERM, verifies itself, and is loud when it does not hold.

    with restoring(orch.capture, orch.restore, orch.verify, label="ECMP-004 web1") as original:
        orch.scale_lb("web1", 4)
        ...

- `capture()` records the original state (pod counts, stopped processes...) before anything changes.
- `restore(original)` puts it back; `verify(original)` returns the problems left ([] = restored).
- SIGTERM is turned into SystemExit (SIGINT already raises KeyboardInterrupt), so the finally block
  runs; once the target is restored, SIGTERM is delivered again to the handler that was there before
  (the default one ends the process, as SIGTERM would have: a test runner does not go on to the next
  check). While the restore runs, further SIGINT/SIGTERM are held and re-raised afterwards: a second
  Ctrl-C cannot cut the restore in half.
- A restore that raises, or that `verify` finds incomplete, raises RestoreFailed (an error result,
  never a pass or a plain failure), chained to the trial's own exception if there was one.
"""
from __future__ import annotations

import contextlib
import signal
import threading


class RestoreFailed(RuntimeError):
    """The target could not be put back as it was: a person must look at it."""


@contextlib.contextmanager
def restoring(capture, restore, verify, label: str = "trial", log=None):
    original = capture()
    main = threading.current_thread() is threading.main_thread()
    previous: dict = {}
    held: list[int] = []

    def on_term(signum, frame):
        held.append(signum)
        raise SystemExit(128 + signum)

    def hold(signum, frame):
        held.append(signum)

    if main:
        previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, on_term)
    try:
        yield original
    finally:
        if main:
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous.setdefault(sig, signal.getsignal(sig))
                signal.signal(sig, hold)
        try:
            _restore(original, restore, verify, label, log)
        finally:
            if main:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
        if held:  # deliver what arrived, now that the target is back
            if signal.SIGTERM in held and main and previous.get(signal.SIGTERM) in (signal.SIG_DFL, None):
                signal.raise_signal(signal.SIGTERM)   # the default action: the process ends here
            if held[0] == signal.SIGINT:
                raise KeyboardInterrupt
            raise SystemExit(128 + held[0])


def _restore(original, restore, verify, label, log) -> None:
    try:
        restore(original)
        problems = list(verify(original))
    except Exception as e:  # noqa: BLE001 - any failure to restore is reported as RestoreFailed
        problems = [f"restore raised {type(e).__name__}: {e}"]
    if problems:
        msg = f"{label}: the target was NOT restored to its original state {original!r}: " + "; ".join(problems)
        if log:
            log(msg)
        raise RestoreFailed(msg)
    if log:
        log(f"{label}: restored and verified")
