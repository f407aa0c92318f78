"""Live-only measurements: the ECMP SLA watcher, IPVS resync, health checks, failover.

- router_watch.py: the program run on the router (standalone: stdlib + pyroute2 there)
- watch.py: its host side (RouterWatch), and the `ip -ts monitor route nexthop` fallback (MonitorFib)
- orchestrator.py: the Orchestrator protocol the suites drive (the lab's is lab/orchestrator.py)
- trial.py: `restoring(...)`, the restore finalizer of disruptive trials
- stats.py: percentiles for the reports

This package never imports lbconformance.lab, .collect or .targets (import-linter contract).
"""
