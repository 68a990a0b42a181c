#!/usr/bin/env python3
"""`make bench`, part 2: backfill against the local AWS with AWS's quotas emulated, side by side with
the AWS blog sample's sequential boto3 script, in one run.

For each tool, a fresh sender account holds GROUPS log groups (90% with no filter, 10% with one
filter to another vendor) and the local AWS enforces CloudWatch Logs' quotas (5 requests/s for each
subscription filter API, 10/s for DescribeLogGroups). Measured: wall time against the quota floor
(groups needing a write / 5 per s), throttled answers, peak RSS, and the end state. Then backfill's
peak RSS at two sizes without quotas, to show memory is flat in the number of groups.

Usage: backfill_bench.py [GROUPS]   (needs target/release/backfill; `make bench` builds it)
"""

import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.request

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "local_aws"))
import local_aws  # noqa: E402  (the fixture, for its spawn helper)

BACKFILL = os.environ.get("BACKFILL_BIN", os.path.join(ROOT, "target/release/backfill"))
REGION = "us-east-1"


class Account:
    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.id = f"{random.randrange(10**11, 10**12):012d}"
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": f"LOCAL{self.id}",
            "AWS_SECRET_ACCESS_KEY": "local-secret",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        session = boto3.session.Session(
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key="local-secret",
            region_name=REGION,
        )
        self.logs = session.client("logs", endpoint_url=endpoint)

    def control(self, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.endpoint}{path}", data=data, method="POST" if data else "GET")
        with urllib.request.urlopen(request) as response:
            return json.loads(response.read())

    def counters(self):
        return self.control(f"/_fixture/calls?account={self.id}")

    def behave(self, quotas):
        self.control("/_fixture/behaviour", {"account": self.id, "quotas": quotas, "faults": {}})


def central(endpoint, sender_ids):
    account = Account(endpoint)
    arns = []
    for name in ("central-logging", "other-vendor"):
        arn = account.logs.put_destination(
            destinationName=name,
            targetArn=f"arn:aws:kinesis:{REGION}:{account.id}:stream/{name}",
            roleArn=f"arn:aws:iam::{account.id}:role/CWLtoKinesisRole",
        )["destination"]["arn"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": sender_ids}, "Action": "logs:PutSubscriptionFilter", "Resource": arn}
            ],
        }
        account.logs.put_destination_policy(destinationName=name, accessPolicy=json.dumps(policy))
        arns.append(arn)
    return arns


def populate(account, groups, other_destination):
    for i in range(groups):
        name = f"/bench/app-{i:05d}"
        account.logs.create_log_group(logGroupName=name)
        if i % 10 == 0:
            account.logs.put_subscription_filter(
                logGroupName=name, filterName="vendor", filterPattern="", destinationArn=other_destination
            )


def run(command, env):
    """Runs a command; returns (seconds, peak RSS in MB, exit code, stdout, stderr).

    Peak RSS is the process's VmHWM, sampled from /proc while it runs: unlike getrusage's
    ru_maxrss it is reset at exec, so it does not count the forked Python parent's memory.
    """
    start = time.monotonic()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_kb = [0]

    def sample():
        while proc.poll() is None:
            try:
                with open(f"/proc/{proc.pid}/status") as status:
                    for line in status:
                        if line.startswith("VmHWM:"):
                            peak_kb[0] = max(peak_kb[0], int(line.split()[1]))
            except (OSError, ValueError):
                pass
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    seconds = time.monotonic() - start
    sampler.join()
    return seconds, peak_kb[0] / 1024, proc.returncode, out, err


def subscribed(account, names, destination):
    """How many of the named groups have exactly one filter pointing at the destination."""
    ok = 0
    for name in names:
        filters = account.logs.describe_subscription_filters(logGroupName=name)["subscriptionFilters"]
        ok += sum(1 for f in filters if f["destinationArn"] == destination) == 1
    return ok


def end_state(account, groups, destination):
    """Groups whose filters point at the destination exactly once."""
    return subscribed(account, (f"/bench/app-{i:05d}" for i in range(groups)), destination)


def main():
    groups = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    proc, endpoint = local_aws.spawn()
    try:
        ours, seed = Account(endpoint), Account(endpoint)
        destination, other = central(endpoint, [ours.id, seed.id])
        for account in (ours, seed):
            populate(account, groups, other)
            account.behave("aws")
        floor = groups / 5.0

        print(f"{groups} log groups, AWS's quotas emulated; quota floor {floor:.0f} s (groups needing a write / 5 per s)")
        results = []
        for label, account, command in (
            ("backfill", ours, [BACKFILL, "--destination-arn", destination, "--output", "json"]),
            ("AWS blog sample", seed, [sys.executable, os.path.join(HERE, "aws_sample_backfill.py"), destination]),
        ):
            seconds, rss, code, out, err = run(command, account.env)
            account.behave(None)
            counters = account.counters()
            throttled = sum(counters["throttled"].values())
            subscribed = end_state(account, groups, destination)
            results.append((label, seconds, rss, code, throttled, subscribed))
            if code != 0:
                print(f"  {label} exited {code}: {err.strip().splitlines()[-1] if err.strip() else out[-300:]}")
        print(f"  {'tool':<16} {'wall s':>8} {'floor/wall':>10} {'throttled':>9} {'peak RSS MB':>11} {'subscribed':>10} {'exit':>4}")
        for label, seconds, rss, code, throttled, subscribed in results:
            print(f"  {label:<16} {seconds:8.1f} {floor / seconds:10.2f} {throttled:9d} {rss:11.1f} {subscribed:10d} {code:4d}")
        ratio = results[1][1] / results[0][1]
        print(f"  the AWS blog sample's script took {ratio:.2f}x backfill's wall time")

        # Memory flat in the number of groups: peak RSS at two sizes, no quotas, same run.
        print("backfill's peak RSS without quotas (--rate 1000):")
        for size in (groups // 4, groups * 2):
            account = Account(endpoint)
            central_arns = central(endpoint, [account.id])
            populate(account, size, central_arns[1])
            seconds, rss, code, out, err = run(
                [BACKFILL, "--destination-arn", central_arns[0], "--output", "json", "--rate", "1000"], account.env
            )
            print(f"  {size:6d} groups: {rss:.1f} MB peak RSS, {seconds:.1f} s, exit {code}")
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
