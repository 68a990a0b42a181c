# The two commands a newcomer needs, plus the benchmark. Each installs what it needs first.
PYTHON ?= python3

.PHONY: demo test bench setup template-setup

## Run the function locally against an embedded local AWS and show what it did.
demo: setup
	cargo build --quiet --bin auto-subscribe --example demo
	target/debug/examples/demo

## Every check CI runs: formatting, clippy with warnings as errors, the API docs with warnings as
## errors, unit, adapter and integration tests, the docs' links, then the stacks: cfn-lint,
## sam validate --lint, the rule and IAM checks, and sam build.
test: setup template-setup
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	# With the examples, the docs resolve the dependencies' features as clippy did: nothing rebuilt.
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --document-private-items --examples
	# The integration tests mostly wait (on pacing, deadlines, the local AWS): eight at a time.
	cargo test --all-targets -- --test-threads=8
	SAM_CLI_TELEMETRY=0 $(PYTHON) -m pytest -q tests/docs tests/template

## The benchmarks: the function (binary size, cold start, peak memory, API calls and time per
## event), a burst of 500 new groups in one execution environment and in three, backfill on 1,000 groups under AWS's quotas beside the AWS blog sample's script, a recent-groups
## sweep beside a full sweep on 10,000 groups (about 40 minutes: the full sweep's floor is
## 2,000 s), a sweep with and without tag rules on 500 groups, and the catch-up beside the
## listing recent sweep on 1,000, 10,000 and 100,000 groups, and audit over 20 accounts x 3
## Regions x 100 groups, in parallel and one account-Region at a time.
bench: setup
	cargo build --release --bins --example minimal_runtime
	cargo build --example bench --example burst
	AUTO_SUBSCRIBE_BIN=target/release/auto-subscribe MINIMAL_BIN=target/release/examples/minimal_runtime target/debug/examples/bench
	AUTO_SUBSCRIBE_BIN=target/release/auto-subscribe target/debug/examples/burst
	$(PYTHON) bench/backfill_bench.py 1000
	$(PYTHON) bench/tag_sweep_bench.py 500
	$(PYTHON) bench/recent_sweep_bench.py 10000 20
	$(PYTHON) bench/catch_up_bench.py 1000 10000 100000
	$(PYTHON) bench/audit_bench.py 20 100

## The template tools, and the arm64 target that sam build cross-compiles to.
template-setup:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r tests/local_aws/requirements.txt -r tests/template/requirements.txt
	rustup target list --installed | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu

## Python packages for the local AWS, and the Rust components the checks use.
setup:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r tests/local_aws/requirements.txt
	cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
