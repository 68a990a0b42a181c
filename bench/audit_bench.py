#!/usr/bin/env python3
"""`make bench`, part 6: `audit` over ACCOUNTS accounts x REGIONS Regions x GROUPS groups, under
AWS's quotas, in parallel (the default bound) and one account-Region at a time (`--parallel 1`).

Every account-Region holds GROUPS log groups subscribed to its Region's central destination, and
the local AWS enforces each account's quotas (5 requests/s per subscription filter API, 10/s
DescribeLogGroups). The floor of one account-Region is its describes at the audit's pace
(GROUPS / RATE s: 2/s by default, what the function leaves of the quota, and 5/s with `--rate 5`);
a parallel audit's wall time is set against the busiest account-Region's floor, the sequential one
(at 5/s; SEQUENTIAL=0 leaves it out) against the sum of the floors.

Usage: audit_bench.py [ACCOUNTS] [GROUPS]   (default 20 100; needs AUDIT_BIN or
target/release/audit)
"""

import json
import os
import sys
import time

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import backfill_bench as common  # noqa: E402  (Account, run, the local AWS spawn)

AUDIT = os.environ.get("AUDIT_BIN", os.path.join(common.ROOT, "target/release/audit"))
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
ROLE = "aws-controltower-ReadOnlyExecutionRole"
PARAMETER = "/central-logging/destination-arn"


def client(account, service, region):
    return boto3.session.Session(
        aws_access_key_id=f"LOCAL{account.id}", aws_secret_access_key="local-secret", region_name=region
    ).client(service, endpoint_url=account.endpoint)


def central(endpoint, senders):
    """A central destination in each Region, allowing every sender."""
    owner = common.Account(endpoint)
    arns = {}
    for region in REGIONS:
        logs = client(owner, "logs", region)
        arn = logs.put_destination(
            destinationName="central-logging",
            targetArn=f"arn:aws:kinesis:{region}:{owner.id}:stream/central",
            roleArn=f"arn:aws:iam::{owner.id}:role/CWLtoKinesisRole",
        )["destination"]["arn"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": senders}, "Action": "logs:PutSubscriptionFilter", "Resource": arn}],
        }
        logs.put_destination_policy(destinationName="central-logging", accessPolicy=json.dumps(policy))
        arns[region] = arn
    return arns


def main():
    accounts_n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    groups = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    proc, endpoint = common.local_aws.spawn()
    try:
        started = time.monotonic()
        management = common.Account(endpoint)
        accounts = [common.Account(endpoint) for _ in range(accounts_n)]
        destinations = central(endpoint, [a.id for a in accounts])
        for account in accounts:
            account.control("/_fixture/roles", {"account": account.id, "roleName": ROLE})
            for region in REGIONS:
                client(account, "ssm", region).put_parameter(Name=PARAMETER, Value=destinations[region], Type="String")
                logs = client(account, "logs", region)
                for i in range(groups):
                    name = f"/bench/app-{i:04d}"
                    logs.create_log_group(logGroupName=name)
                    logs.put_subscription_filter(
                        logGroupName=name, filterName="central-logging", filterPattern="", destinationArn=destinations[region]
                    )
                # Created two days ago: no group is waiting for its event.
                account.control(
                    "/_fixture/creation-time",
                    {"account": account.id, "region": region, "logGroupNamePrefix": "/bench/",
                     "creationTime": int(time.time() * 1000) - 2 * 24 * 3600 * 1000},
                )
            account.behave("aws")
        print(
            f"{accounts_n} accounts x {len(REGIONS)} Regions x {groups} groups, each subscribed, set up in "
            f"{time.monotonic() - started:.0f} s; AWS's quotas emulated in every account"
        )
        ids = ",".join(a.id for a in accounts)
        rows = []
        runs = [
            ("parallel, default pace (2/s)", 2.0, []),
            ("parallel, --rate 5", 5.0, ["--rate", "5"]),
        ]
        if os.environ.get("SEQUENTIAL", "1") != "0":
            runs.append(("one at a time, --rate 5", 5.0, ["--rate", "5", "--parallel", "1"]))
        for label, rate, extra in runs:
            throttled_before = sum(sum(a.counters()["throttled"].values()) for a in accounts)
            seconds, rss, code, out, err = common.run(
                [AUDIT, "--accounts", ids, "--regions", ",".join(REGIONS), "--output", "json", *extra], management.env
            )
            try:
                report = json.loads(out.strip().splitlines()[-1])
            except (ValueError, IndexError):
                raise SystemExit(f"audit printed no report (exit {code}): {err[-800:]}")
            throttled = sum(sum(a.counters()["throttled"].values()) for a in accounts) - throttled_before
            calls_made = sum(sum(a.counters()["calls"].values()) for a in accounts)
            rows.append((label, rate, seconds, rss, code, report["summary"], throttled))
            print(f"    {calls_made} calls served so far in the audited accounts", flush=True)
            account_regions = report["summary"]["accountRegions"]
            print(f"  {label}: {seconds:.1f} s, exit {code}", flush=True)
        print(f"  {'run':<32} {'wall s':>8} {'floor s':>8} {'floor/wall':>10} {'peak RSS MB':>11} {'throttled':>9} {'account-Regions':>15} {'subscribed':>10}")
        for label, rate, seconds, rss, code, summary, throttled in rows:
            floor = groups / rate
            this_floor = floor if label.startswith("parallel") else floor * account_regions
            print(
                f"  {label:<32} {seconds:8.1f} {this_floor:8.1f} {this_floor / seconds:10.2f} {rss:11.1f} {throttled:9d} "
                f"{summary['covered']:>6d} / {summary['accountRegions']:<6d} {summary['subscribed']:>10d}"
            )
        print(f"  default pace / --rate 5, both parallel: {rows[0][2] / rows[1][2]:.2f}x wall time")
        if len(rows) > 2:
            print(f"  one at a time / parallel, both at --rate 5: {rows[2][2] / rows[1][2]:.1f}x wall time")
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
