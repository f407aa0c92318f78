"""Targets: what the suite is pointed at (inventory file, the reference lab, a Kubernetes cluster)."""
