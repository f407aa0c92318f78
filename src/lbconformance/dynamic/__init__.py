"""Live-only measurements: the ECMP SLA watcher, IPVS resync, failover."""
