# Two entry points (see README): `make lab` runs the suite against the reference lab,
# `make test` runs the self-tests. Both install what they need and are idempotent.
VENV     ?= .venv
PY       := $(VENV)/bin/python
PYTEST   := $(VENV)/bin/pytest
HOST_PKGS_FILES := src/lbconformance/lab/host-packages.txt tests/host-packages.txt
PYTHON   ?= python3

.PHONY: lab test matrix deps host-deps lint clean-lab

## Main job: the conformance suite against the reference lab (seed snapshot until the lab exists).
lab: deps host-deps
	./scripts/main-job

## Self-tests of parsers, checks, lab, reports: the offline ones on both cores, then the lab ones
## (one VM boot: platform, topology, smokes) serially. The fault matrix is `make matrix`: it takes
## 52-57 min on an idle 2-core machine under TCG, beyond CI's budget (design.md §7, 45 min in all;
## issue 10 is blocked on that: a KVM runner or a nightly job).
test: deps host-deps
	$(PYTEST) tests -m 'not lab' -n 2
	$(PYTEST) tests -m 'lab and not matrix'

## The fault matrix (tests/lab/test_reference_faults.py): every lab fault against the running lab.
matrix: deps host-deps
	$(PYTEST) tests -m matrix -s

deps: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

## Debian packages the host side needs (qemu, debootstrap, iproute2, ...), listed in one file.
host-deps:
	@missing=$$(for p in $$(cat $(HOST_PKGS_FILES) 2>/dev/null | grep -v '^#'); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing host packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

lint: deps
	$(VENV)/bin/ruff check src suites tests
	$(VENV)/bin/lint-imports
