#!/usr/bin/env python3
"""The AWS blog sample's init script ("Stream Amazon CloudWatch Logs to a Centralized Account for
Audit and Analysis": init_account_central_logging.py with CentralLogging.py), as the post
describes it: store the destination ARN in SSM, then for every log group, sequentially, read
the destination from SSM, delete every subscription filter, and put the central one. Kept only as
the benchmark's point of comparison; it is not part of auto-subscribe.

Usage: aws_sample_backfill.py DESTINATION_ARN   (endpoint, region and credentials from the environment)
"""

import sys

import boto3

PARAMETER = "/central-logging/destination-arn"


def main():
    destination = sys.argv[1]
    ssm = boto3.client("ssm")
    logs = boto3.client("logs")
    ssm.put_parameter(Name=PARAMETER, Value=destination, Type="String", Overwrite=True)
    count = 0
    for page in logs.get_paginator("describe_log_groups").paginate():
        for group in page["logGroups"]:
            name = group["logGroupName"]
            arn = ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"]
            filters = logs.describe_subscription_filters(logGroupName=name)["subscriptionFilters"]
            for existing in filters:
                logs.delete_subscription_filter(logGroupName=name, filterName=existing["filterName"])
            logs.put_subscription_filter(
                logGroupName=name, filterName="Destination", filterPattern="", destinationArn=arn
            )
            count += 1
    print(f"subscribed {count} log groups")


if __name__ == "__main__":
    main()
