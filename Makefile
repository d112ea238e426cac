# StreamKit: the two commands of the README are `make demo` and `make test`.
# Both install what they need first (scripts/setup is idempotent and quick when done).
SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)
SWIFT ?= swift

.PHONY: setup build release test demo bench services-up services-down clean

setup:
	@scripts/setup

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release

# librdkafka 2.16 (installed by scripts/setup) instead of Debian's 2.0.2, which cannot talk to Tansu.
export LD_LIBRARY_PATH := $(CURDIR)/.deps/rdkafka$(if $(LD_LIBRARY_PATH),:$(LD_LIBRARY_PATH))

## Runs the whole test suite: unit tests and integration tests against the local services
## (Tansu, Redis, PostgreSQL, MariaDB), which it starts.
test: setup
	@scripts/services up
	$(SWIFT) build --build-tests
	SWIFT=$(SWIFT) scripts/run-tests

## Generates the standard workload, runs a hopping-window job over it, shows results and throughput.
demo: release
	@scripts/demo

## The throughput/latency harness (release build, standard workload; minutes). Fails when a
## checksum differs or a figure is below its threshold in benchmarks/thresholds.json.
bench: release
	@benchmarks/run-window-bench

services-up:
	@scripts/services up

services-down:
	@scripts/services down

clean:
	rm -rf .build data out
