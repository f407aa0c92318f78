import signal

pytest_plugins = ["pytester"]


def pytest_configure(config):
    """Self-tests that interrupt a child with SIGINT need it at its default there. A runner started in
    the background by a non-interactive shell (`cmd &`, nohup) ignores SIGINT, and children inherit an
    ignored signal (a handled one is reset to the default at exec), so un-ignore it once, here."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
