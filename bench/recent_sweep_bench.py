#!/usr/bin/env python3
"""`make bench`, part 3: a recent-groups sweep beside a full sweep, in one run, under AWS's quotas.

A fresh sender account holds GROUPS log groups already subscribed to the central destination (a
converged account: backfill subscribed them, without quotas, before the clock starts) and created
two days ago, plus LOST groups created just now with no filter (their CreateLogGroup events were
lost). The local AWS then enforces CloudWatch Logs' quotas (5 requests/s per subscription filter
API, 10/s for DescribeLogGroups) and two sweeps run one after the other:

- recent: `backfill --created-within 15m` (what the scheduled `{"sweep": {"createdWithinSeconds": 900}}`
  order does, through the same engine);
- full: `backfill`, which describes every group.

Measured for each: wall time, DescribeLogGroups and DescribeSubscriptionFilters calls (from the
local AWS's counters), throttled answers, groups subscribed, and the end state of the lost groups.

Usage: recent_sweep_bench.py [GROUPS] [LOST]   (needs BACKFILL_BIN or target/release/backfill)
"""

import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import backfill_bench as common  # noqa: E402  (Account, central, run, the local AWS spawn)

TWO_DAYS_MS = 2 * 24 * 3600 * 1000


def calls(account):
    counters = account.counters()
    return counters["calls"], counters["throttled"]


def delta(after, before, action):
    return after.get(action, 0) - before.get(action, 0)


def sweep(account, destination, extra):
    before, throttled_before = calls(account)
    seconds, rss, code, out, err = common.run(
        [common.BACKFILL, "--destination-arn", destination, "--output", "json", *extra], account.env
    )
    after, throttled_after = calls(account)
    summary = {}
    lines = out.strip().splitlines()
    if lines:
        try:
            summary = json.loads(lines[-1])
        except ValueError:
            pass
    if code != 0:
        print(f"  exited {code}: {err.strip().splitlines()[-1] if err.strip() else out[-300:]}")
    return {
        "seconds": seconds,
        "code": code,
        "list": delta(after, before, "DescribeLogGroups"),
        "describe": delta(after, before, "DescribeSubscriptionFilters"),
        "put": delta(after, before, "PutSubscriptionFilter"),
        "tags": delta(after, before, "ListTagsForResource"),
        "throttled": sum(throttled_after.values()) - sum(throttled_before.values()),
        "summary": summary,
    }


def lost_subscribed(account, lost, destination):
    return common.subscribed(account, (f"/bench/lost-{i:02d}" for i in range(lost)), destination)


def main():
    groups = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    lost = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    proc, endpoint = common.local_aws.spawn()
    try:
        account = common.Account(endpoint)
        destination, _other = common.central(endpoint, [account.id])
        started = time.monotonic()
        for i in range(groups):
            account.logs.create_log_group(logGroupName=f"/bench/app-{i:05d}")
        seconds, _, code, _, err = common.run(
            [common.BACKFILL, "--destination-arn", destination, "--output", "json", "--rate", "1000"], account.env
        )
        if code != 0:
            raise SystemExit(f"converging the account failed: {err[-500:]}")
        now_ms = int(time.time() * 1000)
        account.control(
            "/_fixture/creation-time",
            {"account": account.id, "logGroupNamePrefix": "/bench/app-", "creationTime": now_ms - TWO_DAYS_MS},
        )
        for i in range(lost):
            account.logs.create_log_group(logGroupName=f"/bench/lost-{i:02d}")
        print(
            f"{groups} converged log groups created two days ago, {lost} created now without a filter "
            f"(set up in {time.monotonic() - started:.0f} s); AWS's quotas emulated"
        )

        account.behave("aws")
        results = [
            ("recent (--created-within 15m)", sweep(account, destination, ["--created-within", "15m"])),
        ]
        recent_ok = lost_subscribed(account, lost, destination)
        # The full sweep meets the same account, converged again; so that it has the same work to
        # do, the lost groups lose their filter first (the quota is lifted for the set-up calls).
        account.behave(None)
        for i in range(lost):
            for f in account.logs.describe_subscription_filters(logGroupName=f"/bench/lost-{i:02d}")["subscriptionFilters"]:
                account.logs.delete_subscription_filter(logGroupName=f"/bench/lost-{i:02d}", filterName=f["filterName"])
        account.behave("aws")
        results.append(("full", sweep(account, destination, [])))
        account.behave(None)
        full_ok = lost_subscribed(account, lost, destination)

        print(
            f"  {'sweep':<30} {'wall s':>8} {'DescribeLogGroups':>17} {'DescribeSubscriptionFilters':>27} "
            f"{'Put':>5} {'throttled':>9} {'lost groups subscribed':>22} {'exit':>4}"
        )
        for (label, r), ok in zip(results, (recent_ok, full_ok)):
            print(
                f"  {label:<30} {r['seconds']:8.1f} {r['list']:17d} {r['describe']:27d} "
                f"{r['put']:5d} {r['throttled']:9d} {ok:>17d} / {lost:<2d} {r['code']:4d}"
            )
        recent, full = results[0][1], results[1][1]
        recent_calls = recent["list"] + recent["describe"]
        full_calls = full["list"] + full["describe"]
        print(f"  describes per recent group: {recent['describe'] / max(lost, 1):.2f}")
        print(f"  describe calls, full / recent: {full_calls / max(recent_calls, 1):.1f}x")
        print(f"  wall time, full / recent: {full['seconds'] / recent['seconds']:.1f}x")
        print(f"  recent summary: {json.dumps(recent['summary'])}")
        print(f"  full summary:   {json.dumps(full['summary'])}")
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
