#!/usr/bin/env python3
"""`make bench`, part 4: what tag rules cost a sweep, side by side in one run, under AWS's quotas.

A fresh sender account holds GROUPS log groups, every one tagged `team=platform` and already
subscribed (a converged account: backfill subscribed them, without quotas, before the clock
starts). The local AWS then enforces CloudWatch Logs' quotas (5 requests/s for
DescribeSubscriptionFilters, and 5/s for ListTagsForResource, each its own) and backfill runs
twice over the same groups:

- without tag rules: one describe per group, so the floor is GROUPS / 5 s;
- with `--include-tag team=platform`: one tag read and one describe per group. The two calls have
  separate quotas, so when they are pipelined side by side the floor stays GROUPS / 5 s; one after
  the other it would be twice that.

Measured for each: wall time against the floor, calls of each kind, throttled answers.

Usage: tag_sweep_bench.py [GROUPS]   (needs BACKFILL_BIN or target/release/backfill)
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import backfill_bench as common  # noqa: E402  (Account, central, run, the local AWS spawn)
from recent_sweep_bench import sweep  # noqa: E402


def main():
    groups = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    proc, endpoint = common.local_aws.spawn()
    try:
        account = common.Account(endpoint)
        destination, _other = common.central(endpoint, [account.id])
        for i in range(groups):
            account.logs.create_log_group(logGroupName=f"/bench/app-{i:05d}", tags={"team": "platform"})
        seconds, _, code, _, err = common.run(
            [common.BACKFILL, "--destination-arn", destination, "--output", "json", "--rate", "1000"], account.env
        )
        if code != 0:
            raise SystemExit(f"converging the account failed: {err[-500:]}")
        floor = groups / 5.0
        print(f"{groups} converged log groups tagged team=platform; AWS's quotas emulated; floor {floor:.0f} s (groups / 5 per s)")
        account.behave("aws")
        rows = []
        for label, extra in (("no tag rules", []), ("--include-tag team=platform", ["--include-tag", "team=platform"])):
            r = sweep(account, destination, extra)
            rows.append((label, r["seconds"], r["tags"], r["describe"], r["throttled"], r["code"]))
            time.sleep(1)  # let the buckets refill between the runs
        print(f"  {'run':<30} {'wall s':>8} {'floor/wall':>10} {'ListTags':>8} {'Describe':>8} {'throttled':>9} {'exit':>4}")
        for label, seconds, tags, describes, throttled, code in rows:
            print(f"  {label:<30} {seconds:8.1f} {floor / seconds:10.2f} {tags:8d} {describes:8d} {throttled:9d} {code:4d}")
        print(f"  with tag rules / without: {rows[1][1] / rows[0][1]:.2f}x the wall time")
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
