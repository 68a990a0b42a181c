#!/usr/bin/env python3
"""`make bench`, part 5: the catch-up beside the listing recent sweep, at several account sizes,
in one run, under AWS's quotas.

For each size, a fresh sender account holds GROUPS log groups created two days ago (their events
long out of any window), and 20 lost changes made 20 minutes ago, whose events never reached the
function: 10 groups created, and 10 old groups whose filter of ours someone deleted by hand. The
local AWS then enforces AWS's quotas (5 requests/s per subscription filter API, 10/s for
DescribeLogGroups, 2/s for CloudTrail LookupEvents) and two runs go one after the other:

- catch-up: `backfill --changed-within 45m` (what the scheduled
  `{"sweep": {"changedWithinSeconds": 2700}}` order does, through the same lookup and engine);
- recent: `backfill --created-within 45m`, the listing recent sweep it replaces (after the 20
  changes are made again: the same work to do).

Measured for each: wall time, LookupEvents, DescribeLogGroups and DescribeSubscriptionFilters
calls (from the local AWS's counters), throttled answers, and how many of the 20 it fixed.

Usage: catch_up_bench.py [SIZE ...]   (default 1000 10000 100000; needs BACKFILL_BIN or
target/release/backfill)
"""

import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import backfill_bench as common  # noqa: E402  (Account, central, run, the local AWS spawn)
from recent_sweep_bench import calls, delta  # noqa: E402  (the local AWS's counters, before and after)

TWO_DAYS_MS = 2 * 24 * 3600 * 1000
LOST = 10  # of each kind: 10 creations and 10 hand deletions


def run(account, destination, extra):
    before, throttled_before = calls(account)
    seconds, _rss, code, out, err = common.run(
        [common.BACKFILL, "--destination-arn", destination, "--output", "json", *extra], account.env
    )
    after, throttled_after = calls(account)
    if code != 0:
        print(f"  exited {code}: {err.strip().splitlines()[-1] if err.strip() else out[-300:]}")
    actions = ("LookupEvents", "DescribeLogGroups", "DescribeSubscriptionFilters", "PutSubscriptionFilter")
    result = {action: delta(after, before, action) for action in actions}
    result.update(
        seconds=seconds,
        code=code,
        throttled=sum(throttled_after.values()) - sum(throttled_before.values()),
    )
    return result


def created(i):
    return f"/bench/lost-{i:02d}"


def deleted(i):
    return f"/bench/app-{i:06d}"


def make_changes(account, destination, first):
    """The 20 lost changes, 20 minutes ago; `first`: the 10 new groups do not exist yet."""
    for i in range(LOST):
        if first:
            account.logs.create_log_group(logGroupName=created(i))
        else:
            # The creation stays in the history; take ours off again so there is work to do.
            for f in account.logs.describe_subscription_filters(logGroupName=created(i))["subscriptionFilters"]:
                account.logs.delete_subscription_filter(logGroupName=created(i), filterName=f["filterName"])
        account.logs.delete_subscription_filter(logGroupName=deleted(i), filterName="central-logging")
    account.control("/_fixture/event-history/shift", {"account": account.id, "seconds": 20 * 60})


def fixed(account, destination):
    names = [created(i) for i in range(LOST)] + [deleted(i) for i in range(LOST)]
    return common.subscribed(account, names, destination)


def one_size(endpoint, groups):
    account = common.Account(endpoint)
    destination, _other = common.central(endpoint, [account.id])
    started = time.monotonic()
    for i in range(groups):
        account.logs.create_log_group(logGroupName=deleted(i))
    for i in range(LOST):
        account.logs.put_subscription_filter(
            logGroupName=deleted(i), filterName="central-logging", filterPattern="", destinationArn=destination
        )
    now_ms = int(time.time() * 1000)
    account.control(
        "/_fixture/creation-time",
        {"account": account.id, "logGroupNamePrefix": "/bench/app-", "creationTime": now_ms - TWO_DAYS_MS},
    )
    # Everything so far happened two days ago, as far as the event history goes.
    account.control("/_fixture/event-history/shift", {"account": account.id, "seconds": 2 * 24 * 3600})
    make_changes(account, destination, first=True)
    setup = time.monotonic() - started

    account.behave("aws")
    catch_up = run(account, destination, ["--changed-within", "45m"])
    account.behave(None)
    catch_up["fixed"] = fixed(account, destination)
    make_changes(account, destination, first=False)
    account.behave("aws")
    recent = run(account, destination, ["--created-within", "45m"])
    account.behave(None)
    recent["fixed"] = fixed(account, destination)
    return setup, catch_up, recent


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 10000, 100000]
    proc, endpoint = common.local_aws.spawn()
    try:
        print(
            f"{2 * LOST} lost changes ({LOST} creations, {LOST} hand deletions of ours), 20 minutes old, "
            "among old groups; AWS's quotas emulated"
        )
        header = (
            f"  {'groups':>7} {'run':<9} {'wall s':>7} {'LookupEvents':>12} {'DescribeLogGroups':>17} "
            f"{'DescribeSubscriptionFilters':>27} {'Put':>4} {'throttled':>9} {'fixed':>7} {'exit':>4}"
        )
        rows = []
        for groups in sizes:
            setup, catch_up, recent = one_size(endpoint, groups)
            print(f"  {groups} groups set up in {setup:.0f} s", flush=True)
            rows.append((groups, catch_up, recent))
        print(header)
        for groups, catch_up, recent in rows:
            for label, r in (("catch-up", catch_up), ("recent", recent)):
                total_calls = sum(r[a] for a in ("LookupEvents", "DescribeLogGroups", "DescribeSubscriptionFilters", "PutSubscriptionFilter"))
                print(
                    f"  {groups:>7} {label:<9} {r['seconds']:7.1f} {r['LookupEvents']:12d} {r['DescribeLogGroups']:17d} "
                    f"{r['DescribeSubscriptionFilters']:27d} {r['PutSubscriptionFilter']:4d} {r['throttled']:9d} "
                    f"{r['fixed']:>3d}/{2 * LOST:<3d} {r['code']:4d}   ({total_calls} calls)"
                )
        for groups, catch_up, recent in rows:
            print(
                f"  {groups:>7} groups: recent / catch-up wall time {recent['seconds'] / catch_up['seconds']:.1f}x, "
                f"DescribeLogGroups {recent['DescribeLogGroups']} vs {catch_up['DescribeLogGroups']}"
            )
        print(json.dumps([{"groups": g, "catchUp": c, "recent": r} for g, c, r in rows]))
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
