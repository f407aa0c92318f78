"""The pytest plugin: options, markers, target selection, per-target parametrization, results.

Thin on purpose: the snapshot, catalog, profiles and report rooms do the work.
"""
from __future__ import annotations

import datetime as dt
import os
import secrets
import time
from pathlib import Path

import pytest

from lbconformance import __version__
from lbconformance.catalog import CATALOG_PATH, PROFILES, load_catalog
from lbconformance.profiles import load_profile
from lbconformance.report.measure import samples_of
from lbconformance.report.redact import redact, redact_obj
from lbconformance.report.render import write_run, write_setup_failure
from lbconformance.report.results import EXIT_CODES, EXIT_USAGE, CheckResult, read_results, verdict
from lbconformance.report.waivers import load_waivers
from lbconformance.snapshot import FactAbsent, MissingFact, Snapshot
from lbconformance.snapshot.facts import Facts
from lbconformance.verdict import CheckFailed, out_of_scope
from lbconformance.yamlfile import InputError

NO_TARGET_HINT = ("lbconformance: no target; choose one: --lab (the reference lab), --snapshot DIR, "
                  "--inventory FILE or --cluster KUBECONFIG")

# Fixture name -> how to enumerate targets of that kind from the inventory.
TARGET_KINDS = {
    "lb_pod": lambda inv: inv.lb_pods,
    "node": lambda inv: inv.nodes,
    "lb_node": lambda inv: inv.lb_nodes(),
    "service": lambda inv: inv.services,
    "reflector": lambda inv: inv.reflectors,
    "router": lambda inv: inv.routers,
}

MARKERS = [
    "requirement(id): the catalog requirement this check proves (exactly one)",
    "profile(*names): hardware profiles the check applies to (must agree with the catalog scope)",
    "disruptive: changes the target (scaling, killing); runs only with --allow-disruptive",
    "live_only: needs a live target; out of scope for --snapshot",
    "benchmark: a data-plane measurement, opt-in",
]


def pytest_addoption(parser):
    g = parser.getgroup("lbconformance", "portable load balancer conformance")
    g.addoption("--cluster", metavar="KUBECONFIG", help="check a Kubernetes cluster through this kubeconfig")
    g.addoption("--context", help="kubeconfig context to use with --cluster")
    g.addoption("--inventory", metavar="FILE", help="check the live deployment described by this inventory")
    g.addoption("--lab", action="store_true", help="check the running reference lab (lbconformance lab up)")
    g.addoption("--snapshot", metavar="DIR", help="evaluate a saved snapshot offline")
    g.addoption("--profile", default="any", choices=PROFILES, help="requirement scope: any, bcm5720 or x550")
    g.addoption("--sla-seconds", type=float, default=10.0, help="route-update SLA in seconds (default 10)")
    g.addoption("--allow-disruptive", action="store_true", help="run checks that scale or kill pods")
    g.addoption("--trials", type=int, default=10, metavar="K",
                help="trials of each measured disruptive event (ECMP SLA: scale up + down), default 10")
    g.addoption("--waivers", metavar="FILE", help="YAML file of waivers (requirement, target, justification, ...)")
    g.addoption("--report-dir", metavar="DIR", default="reports", help="where run folders go (default reports/)")
    g.addoption("--rerun-failed", metavar="DIR", help="run only the checks that failed, errored or were skipped "
                "(not out of scope) in the saved run folder DIR")


class Conformance:
    """Per-run state: the target, its snapshot, the catalog, and the results as they arrive."""

    def __init__(self, config):
        self.config = config
        local = Path(str(config.rootpath)) / "suites" / "requirements.yaml"
        self.catalog = load_catalog(local if local.is_file() else CATALOG_PATH)
        self.profile_name = config.getoption("profile")
        self.profile = load_profile(self.profile_name)
        self.target_kind = self._target_kind()
        self.snapshot: Snapshot | None = None
        self.results: dict[str, CheckResult] = {}
        self.collect_errors: list[str] = []
        self.active = False  # true once a check with a requirement marker was collected
        self.started = time.time()
        self.run_id = secrets.token_hex(4)
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        self.run_dir = Path(config.getoption("report_dir")) / f"{stamp}-{self.run_id}"
        waivers = config.getoption("waivers")
        self.waivers = load_waivers(waivers, set(self.catalog)) if waivers else []

    def _target_kind(self) -> str | None:
        o = self.config.getoption
        chosen = [k for k, v in (("snapshot", o("snapshot")), ("lab", o("lab")), ("inventory", o("inventory") and not o("cluster")),
                                  ("cluster", o("cluster"))) if v]
        if len(chosen) > 1:
            raise pytest.UsageError(f"choose one target, not {', '.join('--' + c for c in chosen)}")
        return chosen[0] if chosen else None

    @property
    def live(self) -> bool:
        return self.target_kind in ("lab", "inventory", "cluster")

    def load_target(self):
        """Load (or, for live targets, collect once) the snapshot every check reads."""
        o = self.config.getoption
        worker_dir = getattr(self.config, "workerinput", {}).get("lbc_snapshot")
        if worker_dir:
            self.snapshot = Snapshot(worker_dir)
        elif self.target_kind == "snapshot":
            self.snapshot = Snapshot(o("snapshot"))
        elif self.target_kind in ("lab", "inventory"):
            try:
                from lbconformance.collect import collect_snapshot
            except ImportError:
                raise pytest.UsageError(f"--{self.target_kind}: live collection is not available in this "
                                        "version; use --snapshot DIR") from None
            self.snapshot = collect_snapshot(self.target_kind, o("inventory"), self.run_dir / "snapshot",
                                             profile=self.profile_name)
        elif self.target_kind == "cluster":  # --inventory, if given, adds the devices outside the cluster
            from lbconformance.targets.kubernetes import cluster_snapshot

            self.snapshot = cluster_snapshot(o("cluster"), o("context"), o("inventory"), self.run_dir / "snapshot",
                                             profile=self.profile_name, run_id=self.run_id)

    def meta(self) -> dict:
        inv = self.snapshot.inventory if self.snapshot else None
        return {"run_id": self.run_id, "tool_version": __version__, "profile": self.profile_name,
                "target_kind": self.target_kind, "target": inv.describe() if inv else "",
                "started": dt.datetime.fromtimestamp(self.started, dt.timezone.utc).isoformat(),
                "duration_s": round(time.time() - self.started, 3),
                "rerun_of": self.config.getoption("rerun_failed") or "",
                "waivers": [dict(requirement=w.requirement, target=w.target, justification=w.justification,
                                 approver=w.approver, expires=w.expires.isoformat(), source=w.source,
                                 expired=w.expired()) for w in self.waivers]}


def pytest_configure(config):
    for m in MARKERS:
        config.addinivalue_line("markers", m)
    state = None
    try:
        state = Conformance(config)
        if state.target_kind:
            state.load_target()
    except (InputError, MissingFact, pytest.UsageError) as e:
        _setup_failed(config, state, f"lbconformance: {e}")
        if isinstance(e, pytest.UsageError):
            raise
        pytest.exit(f"lbconformance: {e}", returncode=EXIT_USAGE)
    except Exception as e:  # target setup failed (unreachable host, collector crash): INCOMPLETE
        _setup_failed(config, state, f"lbconformance: target setup failed: {type(e).__name__}: {e}")
        pytest.exit(f"lbconformance: target setup failed: {type(e).__name__}: {e}", returncode=EXIT_CODES["INCOMPLETE"])
    config.stash[STATE] = state
    _xdist_serial_dynamic(config)


DYNAMIC_GROUP = "lbconformance-dynamic"


def _xdist_serial_dynamic(config) -> None:
    """Under pytest-xdist (-n), schedule by xdist_group so the dynamic checks all go to ONE worker and run
    serially there (after that worker's static checks); the static ones still spread over the workers.
    Only the scheduling mode changes, and only for runs that collect live targets."""
    dist = getattr(config.option, "dist", "no")
    state = config.stash.get(STATE, None)
    if dist not in ("no", "loadgroup") and state is not None and state.live and not hasattr(config, "workerinput"):
        config.option.dist = "loadgroup"


def _setup_failed(config, state, reason: str) -> None:
    """The run folder's formats (and --junitxml) still exist, with a failing 'setup' case saying why."""
    if hasattr(config, "workerinput") or (state is None and not _targeted(config)):
        return
    if state is not None:
        run_dir, meta = state.run_dir, state.meta()
    else:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        run_dir = Path(config.getoption("report_dir")) / f"{stamp}-{secrets.token_hex(4)}"
        meta = {"tool_version": __version__, "profile": config.getoption("profile")}
    write_setup_failure(run_dir, meta, reason, config.getoption("xmlpath", None))


def _targeted(config) -> bool:
    return any(config.getoption(o) for o in ("snapshot", "lab", "inventory", "cluster"))


STATE = pytest.StashKey[Conformance]()


def _state(config) -> Conformance:
    return config.stash[STATE]


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist: workers evaluate the snapshot the controller collected; they never collect again."""
    state = _state(node.config)
    if state.snapshot is not None:
        node.workerinput["lbc_snapshot"] = str(state.snapshot.root)


def pytest_generate_tests(metafunc):
    kinds = [k for k in TARGET_KINDS if k in metafunc.fixturenames]
    if not kinds:
        return
    state = _state(metafunc.config)
    if state.snapshot is None:
        return  # collection-modifyitems stops the run with the one-line hint
    for kind in kinds:
        targets = list(TARGET_KINDS[kind](state.snapshot.inventory))
        metafunc.parametrize(kind, targets, ids=[t.name for t in targets])


def pytest_collection_modifyitems(session, config, items):
    state = _state(config)
    checks = [i for i in items if i.get_closest_marker("requirement")]
    if not checks:
        return
    state.active = True
    if state.snapshot is None:
        pytest.exit(NO_TARGET_HINT, returncode=EXIT_USAGE)
    rerun = config.getoption("rerun_failed")
    if rerun:
        checks = _only_failed(config, items, checks, rerun)
    for item in checks:
        marks = list(item.iter_markers("requirement"))
        rid = marks[0].args[0] if marks[0].args else None
        req = state.catalog.get(rid)
        item.user_properties.append(("requirement", rid))
        if req is None or len(marks) != 1:
            item.stash[BAD_MAPPING] = (f"check {item.nodeid} must carry exactly one requirement marker with a "
                                       f"catalog ID; found {[m.args for m in marks]}")
            continue
        prof = item.get_closest_marker("profile")
        if prof is not None and set(prof.args) != set(req.scope):
            item.stash[BAD_MAPPING] = (f"check {item.nodeid}: profile marker {list(prof.args)} disagrees with "
                                       f"{rid}'s catalog scope {list(req.scope)}")
            continue
        item.user_properties.append(("seed", req.seed))
        target = getattr(item, "callspec", None)
        item.user_properties.append(("target", "-".join(str(v) for v in target.id.split("-")) if target else ""))
        if not req.in_profile(state.profile_name):
            item.add_marker(pytest.mark.skip(reason=out_of_scope(
                f"profile {state.profile_name}; this requirement is for {', '.join(req.scope)}")))
        elif req.kind == "dynamic" and not state.live:
            item.add_marker(pytest.mark.skip(reason=out_of_scope("needs a live target")))
        elif req.disruptive and not config.getoption("allow_disruptive"):
            item.add_marker(pytest.mark.skip(reason=out_of_scope("disruptive; opt in with --allow-disruptive")))
        elif item.get_closest_marker("live_only") and not state.live:
            item.add_marker(pytest.mark.skip(reason=out_of_scope("needs a live target")))
        elif item.get_closest_marker("benchmark") and "benchmark" not in (config.getoption("markexpr") or ""):
            item.add_marker(pytest.mark.skip(reason=out_of_scope("benchmark; opt in with -m benchmark")))
        elif item.get_closest_marker("disruptive") and not config.getoption("allow_disruptive"):
            item.add_marker(pytest.mark.skip(reason=out_of_scope("disruptive; opt in with --allow-disruptive")))
    # Dynamic checks (disruptive or not) share one xdist group: under -n they run on one worker, one at a
    # time, so a live probe never overlaps a scale event (see _xdist_serial_dynamic in pytest_configure).
    for item in items:
        if item.get_closest_marker("disruptive") or item.get_closest_marker("live_only"):
            item.add_marker(pytest.mark.xdist_group(DYNAMIC_GROUP))
    # Disruptive and dynamic checks run after the static ones.
    rank = {id(i): (1 if i.get_closest_marker("disruptive") or i.get_closest_marker("live_only") else 0)
            for i in items}
    items.sort(key=lambda i: rank[id(i)])


BAD_MAPPING = pytest.StashKey[str]()


def _only_failed(config, items, checks, run_dir):
    """--rerun-failed DIR: keep the checks DIR's results.json lists as failed, error, or skipped not in scope."""
    try:
        _, saved = read_results(Path(run_dir))
    except (OSError, ValueError, TypeError) as e:
        pytest.exit(f"lbconformance: --rerun-failed {run_dir}: no readable results.json ({e})", returncode=EXIT_USAGE)
    again = {r.nodeid for r in saved if r.outcome in ("failed", "error") or (r.outcome == "skipped" and not r.scope_skip)}
    drop = [i for i in checks if i.nodeid not in again]
    if drop:
        config.hook.pytest_deselected(items=drop)
        gone = {id(i) for i in drop}
        items[:] = [i for i in items if id(i) not in gone]
    return [i for i in checks if i.nodeid in again]


def pytest_runtest_setup(item):
    problem = item.stash.get(BAD_MAPPING, None)
    if problem:
        pytest.fail(problem, pytrace=False)


@pytest.fixture(scope="session")
def snapshot(request) -> Snapshot:
    """The facts of the target, collected once before any check."""
    state = _state(request.config)
    if state.snapshot is None:
        pytest.exit(NO_TARGET_HINT, returncode=EXIT_USAGE)
    return state.snapshot


@pytest.fixture(scope="session")
def facts(snapshot) -> Facts:
    """Parsed facts of the snapshot, cached for the whole run."""
    return Facts(snapshot)


@pytest.fixture(scope="session")
def inventory(snapshot):
    return snapshot.inventory


@pytest.fixture(scope="session")
def profile(request) -> dict:
    """The hardware profile's figures (profiles/<name>.yaml)."""
    return _state(request.config).profile


@pytest.fixture(scope="session")
def sla_seconds(request) -> float:
    return request.config.getoption("sla_seconds")


@pytest.fixture(scope="session")
def trials(request) -> int:
    return max(1, request.config.getoption("trials"))


@pytest.fixture(scope="session")
def orchestrator(request):
    """What the dynamic checks drive (dynamic/orchestrator.py): the lab's for --lab. Other targets skip:
    that leaves the requirement unproven (INCOMPLETE), never passed."""
    kind = _state(request.config).target_kind
    if kind == "lab":
        from lbconformance.lab.orchestrator import LabOrchestrator

        return LabOrchestrator()
    if kind == "cluster":
        pytest.skip("--cluster: no orchestrator for clusters yet (targets/kubernetes.py scales Deployments, but "
                    "a router watcher, LB placement and process control are missing); run against --lab")
    pytest.skip("needs an orchestrator (--lab or --cluster)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if item.get_closest_marker("requirement"):
        _redact_report(rep)
        if samples_of(item):
            rep.lbc_samples = samples_of(item)  # report/measure.py; travels with the report under xdist
    if not item.get_closest_marker("requirement") or call.excinfo is None or rep.when != "call":
        return
    exc = call.excinfo.value
    if isinstance(exc, FactAbsent):
        rep.outcome = "skipped"
        rep.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {out_of_scope(str(exc))}")
        return
    if isinstance(exc, (pytest.skip.Exception, pytest.xfail.Exception)):
        return
    props: list[tuple[str, str]] = []
    if isinstance(exc, CheckFailed):
        props += [("expected", str(exc.expected)), ("observed", str(exc.observed)), ("where", exc.where)]
        props += [("evidence", e) for e in exc.evidence]
        kind = "failed"
    elif isinstance(exc, AssertionError):
        kind = "failed"
    else:  # a crash is an error, never a pass and never a plain failure
        kind = "error"
        if isinstance(exc, MissingFact):
            props.append(("evidence", str(exc.path)))
    message = str(exc) if kind == "failed" else f"{type(exc).__name__}: {exc}"
    req = _state(item.config).catalog.get(dict(item.user_properties).get("requirement"))
    if kind == "failed" and req is not None and req.advisory:
        kind = "warning"
        rep.outcome = "passed"
        rep.sections.append(("advisory finding", message))
    props += [("outcome", kind), ("message", message.splitlines()[0] if message else "")]
    props = redact_obj(props)
    item.user_properties.extend(props)  # for the teardown report, which JUnit reads
    rep.user_properties.extend(props)


def _redact_report(rep) -> None:
    """Secrets never reach the terminal or pytest's own --junitxml: redact the traceback and captures."""
    if rep.longrepr is not None:
        text = str(rep.longrepr)
        clean = redact(text)
        if clean != text:
            rep.longrepr = clean
    rep.sections = [(k, redact(v)) for k, v in rep.sections]


def pytest_runtest_logreport(report):
    """Collect results in the controller (xdist forwards every worker's reports here)."""
    props = dict(report.user_properties)
    rid = props.get("requirement")
    if rid is None:
        return
    state = _CONTROLLER.get("state")
    if state is None:
        return
    res = state.results.get(report.nodeid)
    if res is None:
        req = state.catalog.get(rid)
        res = state.results[report.nodeid] = CheckResult(nodeid=report.nodeid, requirement=str(rid),
                                                         area=req.area if req else "", target=props.get("target", ""))
    res.duration += report.duration
    if getattr(report, "lbc_samples", None):
        res.samples = report.lbc_samples
    if report.when == "setup":
        if report.skipped:
            res.outcome, res.message = "skipped", _skip_reason(report)
        elif report.failed:
            res.outcome, res.message = "error", _first_line(report.longreprtext)
    elif report.when == "call":
        if report.skipped:
            res.outcome, res.message = "skipped", _skip_reason(report)
        else:
            res.outcome = props.get("outcome", "passed" if report.passed else "failed")
            res.message = props.get("message", "" if report.passed else _first_line(report.longreprtext))
            res.expected, res.observed, res.where = props.get("expected", ""), props.get("observed", ""), props.get("where", "")
            res.evidence = [v for k, v in report.user_properties if k == "evidence"]
    elif report.when == "teardown" and report.failed and res.outcome in ("passed", "warning"):
        res.outcome, res.message = "error", "teardown: " + _first_line(report.longreprtext)


def _skip_reason(report) -> str:
    if isinstance(report.longrepr, tuple):
        return report.longrepr[2].removeprefix("Skipped: ")
    return _first_line(str(report.longrepr))


def _first_line(text: str) -> str:
    lines = [ln for ln in (text or "").splitlines() if ln.strip()]
    errs = [ln for ln in lines if ln.startswith("E ")]
    return (errs[0][1:].strip() if errs else lines[-1] if lines else "")


_CONTROLLER: dict = {}


def pytest_collectreport(report):
    if report.failed:
        state = _CONTROLLER.get("state")
        if state is not None:
            state.collect_errors.append(f"{report.nodeid or 'collection'}: {_first_line(report.longreprtext)}")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):
        _CONTROLLER["state"] = _state(session.config)


def _apply_waivers(state: Conformance) -> None:
    for res in state.results.values():
        for w in state.waivers:
            if not w.matches(res.requirement, res.target):
                continue
            info = dict(justification=w.justification, approver=w.approver, expires=w.expires.isoformat(),
                        source=w.source)
            if w.expired():
                if res.outcome in ("failed", "error", "skipped") and not res.scope_skip:
                    res.outcome = "failed"
                    res.message = f"waiver expired on {w.expires} ({w.source}): {res.message}"
            elif res.outcome == "failed" or (res.outcome == "skipped" and not res.scope_skip):
                res.outcome, res.waiver = "waived", info


def pytest_sessionfinish(session, exitstatus):
    state = _CONTROLLER.get("state")
    if state is None or hasattr(session.config, "workerinput"):
        return
    if not (state.active or (state.target_kind and state.collect_errors)):
        return
    _apply_waivers(state)
    results = list(state.results.values())
    if state.collect_errors:  # a failing 'setup' case that says why
        results.append(CheckResult(nodeid="setup", requirement="SETUP", area="SETUP", outcome="error",
                                   message="collection failed: " + "; ".join(state.collect_errors)))
    for w in state.waivers:  # an expired waiver counts as a failure even when its check now passes
        if w.expired() and not any(r.requirement == w.requirement and r.outcome == "failed" for r in results):
            results.append(CheckResult(nodeid=f"waiver:{w.source}", requirement=w.requirement,
                                       area=w.requirement.split("-")[0], target=w.target or "", outcome="failed",
                                       message=f"waiver expired on {w.expires} ({w.source})"))
    state.final = results
    snap = state.snapshot
    if snap is None and not results:  # no target: the formats still exist, with a failing 'setup' case
        write_setup_failure(state.run_dir, state.meta(), NO_TARGET_HINT)
        state.final = None
        return
    write_run(state.run_dir, state.meta(), results, catalog=state.catalog,
              snapshot_root=snap.root if snap else None, snapshot_meta=snap.meta if snap else None)
    state.results_path = state.run_dir / "results.json"
    state.final = read_results(state.run_dir)[1]  # as written: redacted
    if exitstatus in (0, 1):
        session.exitstatus = EXIT_CODES[verdict(results)]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    state = _CONTROLLER.get("state")
    results = getattr(state, "final", None) if state else None
    if not results:
        return
    tr = terminalreporter
    tr.section("lbconformance summary")
    areas = sorted({r.area for r in results})
    cols = ("passed", "failed", "error", "skipped", "waived", "warning")
    tr.write_line(f"{'area':<10}" + "".join(f"{c:>9}" for c in cols))
    for a in areas:
        rs = [r for r in results if r.area == a]
        tr.write_line(f"{a:<10}" + "".join(f"{sum(1 for r in rs if r.outcome == c):>9}" for c in cols))
    for r in results:
        if r.outcome in ("failed", "error") or (r.outcome == "skipped" and not r.scope_skip):
            tr.write_line(f"{r.outcome.upper():<8} {r.requirement} [{r.target}] {r.message}")
        elif r.outcome == "waived":
            w = r.waiver or {}
            tr.write_line(f"WAIVED   {r.requirement} [{r.target}] {w.get('justification', '')} "
                          f"(approver {w.get('approver', '')}, expires {w.get('expires', '')}, {w.get('source', '')})")
    scope = sorted({(r.requirement, r.message) for r in results if r.scope_skip})
    if scope:
        tr.write_line(f"out of scope ({len(scope)}):")
        for rid, msg in scope:
            tr.write_line(f"  {rid}: {msg.removeprefix('out of scope: ')}")
    tr.write_line(f"verdict: {verdict(results)}   results: {os.path.relpath(state.results_path)}")
    tr.write_line(f"reports: {os.path.relpath(state.run_dir)}/{{junit.xml,report.html,summary.md,evidence/}}")
