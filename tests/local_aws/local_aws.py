#!/usr/bin/env python3
"""The local AWS for tests, the demo and the benchmarks: moto's server, plus what moto lacks and
auto-subscribe depends on.

Added to moto's CloudWatch Logs (CONTRIBUTING.md, "The local AWS"):
- PutSubscriptionFilter to a CloudWatch Logs *destination* ARN (moto looks it up as a log group),
  with the destination's access policy checked across accounts (Principal account IDs or root ARNs,
  "*", and an aws:PrincipalOrgID condition against organizations registered here);
- a put of an existing filter name updates it in place, even when the group already holds two;
- `distribution` is stored and described; `logGroupClass` is stored on create and described;
- the newer filter attributes, `applyOnTransformedLogs`, `fieldSelectionCriteria` and
  `emitSystemFields`, are stored and described, and a put that leaves one out keeps the value the
  filter had, as AWS does (an empty `fieldSelectionCriteria` or `emitSystemFields` clears it);
- a destination in another Region, a malformed destination ARN, or a group of a class other than
  STANDARD is an InvalidParameterException (moto answers HTTP 500 or accepts it);
- the quotas on regular expressions in filter patterns: two per pattern, five per log group over
  its metric and subscription filters (answered as a full group is: LimitExceededException);
- account-level subscription filter policies: PutAccountPolicy, DescribeAccountPolicies,
  DeleteAccountPolicy (type SUBSCRIPTION_FILTER_POLICY; stored, not delivered).
Added to moto's EventBridge: TestEventPattern, with moto's own rule matcher (moto only stubs it).

Added around moto, as WSGI middleware:
- asynchronous Lambda invocations are kept, not run (moto would need Docker), for the tests to
  deliver: `GET /_fixture/invocations?account=ID`;
- the account is chosen by the access key: `LOCAL<12 digits>` acts as that account, so every test
  isolates itself in a fresh account and the binaries under test need no special header;
- per-account call counters, `GET /_fixture/calls?account=ID`;
- ListTagsForResource refusing an ARN with DescribeLogGroups' trailing `:*`, and not finding a
  group that does not exist, as AWS does;
- AWS's quotas per account and Region (token buckets per API, answering ThrottlingException "Rate exceeded") and
  injected ServiceUnavailable / OperationAborted faults, `POST /_fixture/behaviour`;
- organizations for aws:PrincipalOrgID, `POST /_fixture/organizations`;
- a log group's `creationTime` set in the past, `POST /_fixture/creation-time
  {"account", "region", "logGroupName", "creationTime"}` (epoch milliseconds), or of every group
  whose name starts with `logGroupNamePrefix` (the benchmark ages 10,000 groups in one call);
- Lambda's PutFunctionConcurrency, refused as AWS refuses it when the reservation would leave the
  account less than its minimum unreserved concurrency; an account's quota set by a test,
  `POST /_fixture/lambda-concurrency {"account", "quota"}` (the answer also lists reservations);
- CloudTrail's event history: every CloudWatch Logs change call served (CreateLogGroup, Put/
  DeleteSubscriptionFilter, Tag/UntagResource, Tag/UntagLogGroup), successful or not, recorded as
  CloudTrail records it (`userIdentity`, `requestParameters`, `errorCode`, ...), and LookupEvents
  answering from it (one `EventName` lookup attribute, `StartTime`/`EndTime`, newest first, 50 a
  page with `NextToken`, 2 requests/s with AWS's quotas). The caller is the access key's IAM user,
  or, with a session token `session:ROLE/SESSION` (the tests' function), that role's session.
  `POST /_fixture/event-history/shift {"account", "seconds", "logGroupName"?}` moves recorded
  events back in time (a change made long ago); `GET /_fixture/event-history?account=ID` lists them;
- for `audit`: STS AssumeRole into another account, answered with that account's `LOCAL<id>`
  credentials and a `session:ROLE/SESSION` token when the role was registered with
  `POST /_fixture/roles {"account", "roleName"}`, AccessDenied as AWS answers otherwise; Account's
  ListRegions, and a Region disabled for an account (its calls answered
  UnrecognizedClientException, as AWS answers a Region not opted in), `POST /_fixture/regions
  {"account", "enabled": [...], "disabled": [...]}` (moto's Organizations serves the accounts);
- CloudFormation's DescribeStacks for a stack whose status a test sets (faults injected into it as
  into the other APIs, CloudFormation's `Throttling` included),
  `POST /_fixture/stacks {"account", "stackId", "status"}` (moto would need the stack's whole
  lifecycle, and finishes a deletion at once).

Prints "Running on http://127.0.0.1:PORT" once listening. With --exit-with-stdin it exits when its
standard input closes, so a test process that dies cannot leave it behind.
"""

import argparse
import json
import os
import random
import re
import sys
import threading
import time
from collections import defaultdict
from urllib.parse import parse_qs

ACCESS_KEY = re.compile(r"Credential=LOCAL(\d{12})/")
LOCK = threading.Lock()
CALLS = defaultdict(lambda: defaultdict(int))  # account -> action -> accepted calls
THROTTLED = defaultdict(lambda: defaultdict(int))  # account -> action -> throttled answers
FAULTED = defaultdict(lambda: defaultdict(int))  # account -> action -> injected faults
BEHAVIOUR = {}  # account -> {"quotas": {action: rate}, "faults": {action: {code: share}}}
BUCKETS = {}  # (account, region, action) -> [tokens, last refill]
RANDOM = {}  # account -> random.Random, seeded for repeatable fault injection
ORGANIZATIONS = {}  # account -> organization ID
INVOCATIONS = defaultdict(list)  # account -> asynchronous Lambda invocations, until collected
STACKS = defaultdict(dict)  # account -> stack ID -> status, for DescribeStacks
CONCURRENCY = {}  # account -> its Lambda concurrency quota, when a test sets one (else 1000)
RESERVED = defaultdict(dict)  # account -> function -> reserved concurrency, as PutFunctionConcurrency set it
ROLES = defaultdict(set)  # account -> role names that may be assumed (for audit's STS AssumeRole)
REGIONS = {}  # account -> {"enabled": [...], "disabled": [...]}, when a test sets them
HISTORY = defaultdict(list)  # (account, region) -> CloudTrail records of the calls served, oldest first
CHANGE_CALLS = {
    "CreateLogGroup",
    "PutSubscriptionFilter",
    "DeleteSubscriptionFilter",
    "TagResource",
    "UntagResource",
    "TagLogGroup",
    "UntagLogGroup",
}
CREDENTIAL_REGION = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/")
LAMBDA_INVOKE = re.compile(r"^/2015-03-31/functions/(?P<function>[^/]+)/invocations$")
LAMBDA_CONCURRENCY = re.compile(r"^/2017-10-31/functions/(?P<function>[^/]+)/concurrency$")

# AWS's per-account, per-Region quotas for the calls auto-subscribe makes (requests per second).
AWS_QUOTAS = {
    "PutSubscriptionFilter": 5,
    "DeleteSubscriptionFilter": 5,
    "DescribeSubscriptionFilters": 5,
    "DescribeLogGroups": 10,
    "ListTagsForResource": 5,
    "DescribeMetricFilters": 5,
    "LookupEvents": 2,
}


def patch_moto():
    from moto.core.exceptions import JsonRESTError
    from moto.logs import models, responses
    from moto.logs.exceptions import (
        InvalidParameterException,
        LimitExceededException,
        ResourceNotFoundException,
    )

    class AccessDeniedException(JsonRESTError):
        code = 400

        def __init__(self, msg):
            super().__init__("AccessDeniedException", msg)

    # Filters keep their distribution and the newer attributes; a put leaving one out keeps it.
    original_filter_init = models.SubscriptionFilter.__init__

    def filter_init(self, *args, distribution=None, newer=None, **kwargs):
        original_filter_init(self, *args, **kwargs)
        self.distribution = distribution or "ByLogStream"
        self.apply_on_transformed_logs = False
        self.field_selection_criteria = None
        self.emit_system_fields = []
        keep_newer(self, newer or {})

    def keep_newer(self, newer):
        if newer.get("applyOnTransformedLogs") is not None:
            self.apply_on_transformed_logs = bool(newer["applyOnTransformedLogs"])
        if newer.get("fieldSelectionCriteria") is not None:
            self.field_selection_criteria = newer["fieldSelectionCriteria"] or None
        if newer.get("emitSystemFields") is not None:
            self.emit_system_fields = list(newer["emitSystemFields"])

    def filter_update(self, filter_pattern, destination_arn, role_arn, distribution=None, newer=None):
        self.filter_pattern = filter_pattern
        self.destination_arn = destination_arn
        self.role_arn = role_arn
        self.distribution = distribution or "ByLogStream"
        keep_newer(self, newer or {})

    original_to_json = models.SubscriptionFilter.to_json

    def filter_to_json(self):
        body = original_to_json(self)
        body["distribution"] = self.distribution
        if body.get("roleArn") is None:
            body.pop("roleArn", None)
        body["applyOnTransformedLogs"] = self.apply_on_transformed_logs
        if self.field_selection_criteria:
            body["fieldSelectionCriteria"] = self.field_selection_criteria
        if self.emit_system_fields:
            body["emitSystemFields"] = self.emit_system_fields
        return body

    models.SubscriptionFilter.__init__ = filter_init
    models.SubscriptionFilter.update = filter_update
    models.SubscriptionFilter.to_json = filter_to_json

    # A put of an existing name updates in place, whatever the group holds.
    def group_put(self, filter_name, filter_pattern, destination_arn, role_arn, distribution=None, newer=None):
        check_regex_quota(self, filter_name, filter_pattern or "")
        existing = self.subscription_filters.get(filter_name)
        if existing is not None:
            existing.update(filter_pattern, destination_arn, role_arn, distribution, newer)
            return
        if len(self.subscription_filters) >= 2:
            raise LimitExceededException()
        self.subscription_filters[filter_name] = models.SubscriptionFilter(
            name=filter_name,
            log_group_name=self.name,
            filter_pattern=filter_pattern,
            destination_arn=destination_arn,
            role_arn=role_arn,
            distribution=distribution,
            newer=newer,
        )

    models.LogGroup.put_subscription_filter = group_put

    # The quotas on regular expressions in filter patterns (PutSubscriptionFilter's and
    # PutMetricFilter's API reference): two in one pattern, an InvalidParameterException; five per
    # log group over its metric and subscription filters, answered as a full group is
    # (LimitExceededException, "Resource limit exceeded."): only what the group holds tells them
    # apart.
    def check_regex_quota(group, filter_name, filter_pattern):
        adds = regex_terms(filter_pattern)
        if adds == 0:
            return
        if adds > 2:
            raise InvalidParameterException("A filter pattern can hold at most two regular expressions.")
        backend = models.logs_backends[group.account_id][group.region]
        metric = backend.filters.get_matching_filters(None, group.name, None, None)
        held = sum(regex_terms(f.get("filterPattern") or "") for f in metric)
        held += sum(
            regex_terms(f.filter_pattern or "")
            for name, f in group.subscription_filters.items()
            if name != filter_name
        )
        if held + adds > 5:
            raise LimitExceededException()

    # Account-level subscription filter policies (moto 5.2.1 has no account policies):
    # PutAccountPolicy, DescribeAccountPolicies and DeleteAccountPolicy, for the type
    # SUBSCRIPTION_FILTER_POLICY, validated as AWS documents it (a DestinationArn in the document;
    # selection criteria only `LogGroupName NOT IN [...]`). Stored, not delivered.
    def account_policies(backend):
        if not hasattr(backend, "account_policies_here"):
            backend.account_policies_here = {}
        return backend.account_policies_here

    def put_account_policy(self):
        name = self._get_param("policyName")
        policy_type = self._get_param("policyType")
        document = self._get_param("policyDocument")
        criteria = self._get_param("selectionCriteria")
        if policy_type != "SUBSCRIPTION_FILTER_POLICY":
            raise InvalidParameterException(f"policyType {policy_type} is not served by the local AWS")
        if not name or name.startswith("aws/"):
            raise InvalidParameterException("policyName is required and cannot start with aws/")
        try:
            has_destination = isinstance(json.loads(document)["DestinationArn"], str)
        except (TypeError, ValueError, KeyError):
            has_destination = False
        if not has_destination:
            raise InvalidParameterException("The policy document must hold a DestinationArn.")
        if criteria and not re.fullmatch(r"\s*LogGroupName\s+NOT\s+IN\s+\[.*\]\s*", criteria, re.S):
            raise InvalidParameterException("selectionCriteria must be LogGroupName NOT IN []")
        policy = {
            "policyName": name,
            "policyDocument": document,
            "policyType": policy_type,
            "scope": self._get_param("scope") or "ALL",
            "lastUpdatedTime": int(time.time() * 1000),
            "accountId": self.current_account,
        }
        if criteria:
            policy["selectionCriteria"] = criteria
        account_policies(self.logs_backend)[name] = policy
        return json.dumps({"accountPolicy": policy})

    def describe_account_policies(self):
        policy_type = self._get_param("policyType")
        if not policy_type:
            raise InvalidParameterException("policyType is required")
        policies = [
            p
            for p in account_policies(self.logs_backend).values()
            if p["policyType"] == policy_type
            and p["policyName"] == (self._get_param("policyName") or p["policyName"])
        ]
        return json.dumps({"accountPolicies": policies})

    def delete_account_policy(self):
        if account_policies(self.logs_backend).pop(self._get_param("policyName"), None) is None:
            raise ResourceNotFoundException("The specified policy does not exist.")
        return ""

    responses.LogsResponse.put_account_policy = put_account_policy
    responses.LogsResponse.describe_account_policies = describe_account_policies
    responses.LogsResponse.delete_account_policy = delete_account_policy

    # Log group classes.
    original_describe_dict = models.LogGroup.to_describe_dict

    def group_describe(self):
        body = original_describe_dict(self)
        body["logGroupClass"] = getattr(self, "log_group_class", "STANDARD")
        return body

    models.LogGroup.to_describe_dict = group_describe

    original_create = responses.LogsResponse.create_log_group

    def create_log_group(self):
        result = original_create(self)
        group_class = self._get_param("logGroupClass")
        if group_class:
            self.logs_backend.groups[self._get_param("logGroupName")].log_group_class = group_class
        return result

    responses.LogsResponse.create_log_group = create_log_group

    # Destinations, their policies, Regions, and bad ARNs.
    original_backend_put = models.LogsBackend.put_subscription_filter

    def backend_put(self, log_group_name, filter_name, filter_pattern, destination_arn, role_arn, distribution=None, newer=None):
        group = self.groups.get(log_group_name)
        if not group:
            raise ResourceNotFoundException()
        group_class = getattr(group, "log_group_class", "STANDARD")
        if group_class != "STANDARD":
            raise InvalidParameterException(
                f"Subscription filters are not supported for log groups of class {group_class}."
            )
        parts = (destination_arn or "").split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or not parts[3] or not re.fullmatch(r"\d{12}", parts[4]):
            raise InvalidParameterException(f"Invalid destinationArn: {destination_arn!r}")
        _, _, service, region, account, resource = parts
        if region != self.region_name:
            raise InvalidParameterException(
                f"The destination {destination_arn} is in {region}; "
                f"it must be in the same Region as the log group ({self.region_name})."
            )
        if service == "logs" and resource.startswith("destination:"):
            destination = models.logs_backends[account][region].destinations.get(destination_arn)
            if destination is None:
                raise InvalidParameterException(
                    "Could not deliver test message to specified destination. "
                    "Check if the destination is valid."
                )
            if account != self.account_id and not policy_allows(destination.access_policy, self.account_id):
                raise AccessDeniedException(
                    f"User with accountId: {self.account_id} is not authorized to perform: "
                    f"logs:PutSubscriptionFilter on resource: {destination_arn}"
                )
        else:
            check_target(service, account, region, resource, destination_arn)
        group.put_subscription_filter(filter_name, filter_pattern, destination_arn, role_arn, distribution, newer)

    def check_target(service, account, region, resource, arn):
        """moto's own existence checks for the other kinds of target."""
        try:
            if service == "lambda":
                from moto.awslambda.utils import get_backend

                get_backend(account, region).get_function(arn)
            elif service == "firehose":
                from moto.firehose import firehose_backends

                if not firehose_backends[account][region].lookup_name_from_arn(arn):
                    raise LookupError(arn)
            elif service == "kinesis":
                from moto.kinesis import kinesis_backends

                kinesis_backends[account][region].describe_stream(stream_arn=arn, stream_name=None)
            elif service == "logs" and resource.startswith("log-group:"):
                models.logs_backends[account][region]._find_log_group(log_group_name=resource.split(":")[1])
            else:
                raise LookupError(arn)
        except Exception:
            raise InvalidParameterException(f"Could not deliver test message to specified destination {arn}.")

    models.LogsBackend.put_subscription_filter = backend_put

    def response_put(self):
        self.logs_backend.put_subscription_filter(
            self._get_param("logGroupName"),
            self._get_param("filterName"),
            self._get_param("filterPattern"),
            self._get_param("destinationArn"),
            self._get_param("roleArn"),
            self._get_param("distribution"),
            {
                key: self._get_param(key)
                for key in ("applyOnTransformedLogs", "fieldSelectionCriteria", "emitSystemFields")
            },
        )
        return ""

    responses.LogsResponse.put_subscription_filter = response_put

    # ListTagsForResource as AWS answers it for log groups: the ARN DescribeLogGroups shows, with
    # its trailing ":*", is rejected, and a group that does not exist is not found (moto answers
    # an empty tag set for both).
    original_list_tags = models.LogsBackend.list_tags_for_resource

    def list_tags(self, resource_arn):
        if resource_arn.endswith(":*"):
            raise InvalidParameterException(f"Invalid resource ARN {resource_arn}: remove the trailing :*")
        marker = ":log-group:"
        if marker in resource_arn:
            name = resource_arn.split(marker, 1)[1]
            if name not in self.groups:
                raise ResourceNotFoundException(f"The specified log group does not exist: {name}")
        return original_list_tags(self, resource_arn)

    models.LogsBackend.list_tags_for_resource = list_tags

    # EventBridge's TestEventPattern is a stub in moto 5.2.1 (an empty answer); answer it with the
    # matcher moto itself uses to deliver events to rules.
    from moto.events import responses as events_responses
    from moto.events.models import EventPattern

    def test_event_pattern(self):
        pattern = EventPattern.load(self._get_param("EventPattern"))
        event = json.loads(self._get_param("Event"))
        return json.dumps({"Result": pattern.matches_event(event)})

    events_responses.EventsHandler.test_event_pattern = test_event_pattern


def regex_terms(pattern):
    """How many regular expressions a filter pattern holds: each is enclosed in % signs, outside
    a quoted term (AWS's filter pattern syntax)."""
    quoted = opened = False
    terms = 0
    escaped = False
    for c in pattern:
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == '"' and not opened:
            quoted = not quoted
        elif c == "%" and not quoted:
            if opened:
                terms += 1
            opened = not opened
    return terms


def policy_allows(policy_text, account):
    """Whether a destination access policy lets `account` call logs:PutSubscriptionFilter."""
    if not policy_text:
        return False
    try:
        policy = json.loads(policy_text)
    except ValueError:
        return False
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    as_list = lambda v: v if isinstance(v, list) else [v]
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        actions = as_list(statement.get("Action", []))
        if not any(a in ("logs:PutSubscriptionFilter", "logs:*", "*") for a in actions):
            continue
        principal = statement.get("Principal", {})
        if principal == "*":
            principals = ["*"]
        else:
            principals = as_list(principal.get("AWS", [])) if isinstance(principal, dict) else []
        names = ("*", account, f"arn:aws:iam::{account}:root")
        if not any(p in names for p in principals):
            continue
        org_condition = statement.get("Condition", {}).get("StringEquals", {}).get("aws:PrincipalOrgID")
        if org_condition is not None and ORGANIZATIONS.get(account) not in as_list(org_condition):
            continue
        return True
    return False


def json_response(start_response, status, body):
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def aws_error(start_response, status, code, message):
    data = json.dumps({"__type": code, "message": message}).encode()
    headers = [
        ("Content-Type", "application/x-amz-json-1.1"),
        ("Content-Length", str(len(data))),
        ("x-amzn-ErrorType", code),
    ]
    start_response(status, headers)
    return [data]


def take_token(account, region, action, rate):
    """One request's token from the bucket of `action` in `account` and `region`: AWS's quotas
    are per account and Region."""
    now = time.monotonic()
    key = (account, region, action)
    with LOCK:
        tokens, last = BUCKETS.get(key, (rate, now))
        tokens = min(rate, tokens + (now - last) * rate)
        if tokens >= 1:
            BUCKETS[key] = (tokens - 1, now)
            return True
        BUCKETS[key] = (tokens, now)
        return False


def control(environ, start_response):
    path = environ.get("PATH_INFO", "")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
    if path == "/_fixture/calls":
        account = (query.get("account") or [""])[0]
        with LOCK:
            return json_response(
                start_response,
                "200 OK",
                {
                    "calls": dict(CALLS[account]),
                    "throttled": dict(THROTTLED[account]),
                    "faults": dict(FAULTED[account]),
                },
            )
    if path == "/_fixture/behaviour":
        account = body["account"]
        quotas = body.get("quotas")
        with LOCK:
            BEHAVIOUR[account] = {
                "quotas": AWS_QUOTAS if quotas == "aws" else (quotas or {}),
                "faults": body.get("faults") or {},
            }
            RANDOM[account] = random.Random(body.get("seed", 7))
        return json_response(start_response, "200 OK", BEHAVIOUR[account])
    if path == "/_fixture/invocations":
        account = (query.get("account") or [""])[0]
        with LOCK:
            taken, INVOCATIONS[account] = INVOCATIONS[account], []
        return json_response(start_response, "200 OK", taken)
    if path == "/_fixture/organizations":
        with LOCK:
            for org, accounts in body.items():
                for account in accounts:
                    ORGANIZATIONS[account] = org
        return json_response(start_response, "200 OK", ORGANIZATIONS)
    if path == "/_fixture/creation-time":
        from moto.logs.models import logs_backends

        groups = logs_backends[body["account"]][body.get("region", "us-east-1")].groups
        if "logGroupNamePrefix" in body:
            chosen = [g for name, g in groups.items() if name.startswith(body["logGroupNamePrefix"])]
        else:
            chosen = [groups[body["logGroupName"]]]
        for group in chosen:
            group.creation_time = int(body["creationTime"])
        return json_response(start_response, "200 OK", {"creationTime": int(body["creationTime"]), "groups": len(chosen)})
    if path == "/_fixture/event-history/shift":
        seconds = float(body["seconds"])
        group = body.get("logGroupName")
        moved = 0
        with LOCK:
            for (account, _), events in HISTORY.items():
                if account != body["account"]:
                    continue
                for event in events:
                    if group and not any(r["ResourceName"] in (group,) or r["ResourceName"].endswith(f":log-group:{group}") for r in event["Resources"]):
                        continue
                    event["EventTime"] -= seconds
                    event["CloudTrailEvent"]["eventTime"] = time.strftime(
                        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(event["EventTime"])
                    )
                    moved += 1
                events.sort(key=lambda e: e["EventTime"])
        return json_response(start_response, "200 OK", {"moved": moved})
    if path == "/_fixture/event-history":
        account = (query.get("account") or [""])[0]
        with LOCK:
            events = [e for (a, _), history in HISTORY.items() if a == account for e in history]
        return json_response(start_response, "200 OK", events)
    if path == "/_fixture/roles":
        with LOCK:
            ROLES[body["account"]].add(body["roleName"])
        return json_response(start_response, "200 OK", {"roles": sorted(ROLES[body["account"]])})
    if path == "/_fixture/regions":
        with LOCK:
            REGIONS[body["account"]] = {"enabled": body.get("enabled") or [], "disabled": body.get("disabled") or []}
        return json_response(start_response, "200 OK", REGIONS[body["account"]])
    if path == "/_fixture/stacks":
        with LOCK:
            STACKS[body["account"]][body["stackId"]] = body["status"]
        return json_response(start_response, "200 OK", STACKS[body["account"]])
    if path == "/_fixture/lambda-concurrency":
        account = body.get("account") or (query.get("account") or [""])[0]
        with LOCK:
            if "quota" in body:
                CONCURRENCY[account] = int(body["quota"])
            return json_response(start_response, "200 OK", {"quota": CONCURRENCY.get(account, 1000), "reserved": RESERVED[account]})
    return json_response(start_response, "404 Not Found", {"error": f"no fixture endpoint {path}"})


def assume_role(environ, start_response, account):
    """STS AssumeRole (awsQuery) into a role a test registered; `None` for any other STS call."""
    import io
    from xml.sax.saxutils import escape

    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(raw)
    form = parse_qs(raw.decode())
    if (form.get("Action") or [""])[0] != "AssumeRole":
        return None
    role_arn = (form.get("RoleArn") or [""])[0]
    session = (form.get("RoleSessionName") or ["session"])[0]
    match = re.fullmatch(r"arn:aws[a-z-]*:iam::(\d{12}):role/(.+)", role_arn)
    with LOCK:
        CALLS[account]["AssumeRole"] += 1
        allowed = bool(match) and match.group(2) in ROLES[match.group(1)]
    if not allowed:
        data = (
            '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
            "<Code>AccessDenied</Code>"
            f"<Message>User: arn:aws:iam::{account}:user/local-tester is not authorized to perform: "
            f"sts:AssumeRole on resource: {escape(role_arn)}</Message></Error>"
            "<RequestId>local</RequestId></ErrorResponse>"
        ).encode()
        start_response("403 Forbidden", [("Content-Type", "text/xml"), ("Content-Length", str(len(data)))])
        return [data]
    target, role = match.group(1), match.group(2)
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    data = (
        '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>'
        f"<Credentials><AccessKeyId>LOCAL{target}</AccessKeyId><SecretAccessKey>local-secret</SecretAccessKey>"
        f"<SessionToken>session:{escape(role)}/{escape(session)}</SessionToken><Expiration>{expires}</Expiration></Credentials>"
        f"<AssumedRoleUser><AssumedRoleId>AROALOCAL:{escape(session)}</AssumedRoleId>"
        f"<Arn>arn:aws:sts::{target}:assumed-role/{escape(role)}/{escape(session)}</Arn></AssumedRoleUser>"
        "</AssumeRoleResult><ResponseMetadata><RequestId>local</RequestId></ResponseMetadata></AssumeRoleResponse>"
    ).encode()
    start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(data)))])
    return [data]


def list_regions(start_response, account):
    """Account ListRegions: the Regions a test set for the account (us-east-1 alone otherwise)."""
    with LOCK:
        CALLS[account]["ListRegions"] += 1
        regions = REGIONS.get(account) or {}
    enabled = regions.get("enabled") or ["us-east-1"]
    body = {"Regions": [{"RegionName": r, "RegionOptStatus": "ENABLED_BY_DEFAULT"} for r in enabled]}
    return json_response(start_response, "200 OK", body)


def describe_stacks(environ, start_response, account):
    """CloudFormation (awsQuery) DescribeStacks for a stack registered with `/_fixture/stacks`;
    `None` for any other CloudFormation request, which then goes to moto."""
    import io
    from xml.sax.saxutils import escape

    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(raw)
    form = parse_qs(raw.decode())
    if (form.get("Action") or [""])[0] != "DescribeStacks":
        return None
    stack_id = (form.get("StackName") or [""])[0]
    behaviour = BEHAVIOUR.get(account) or {}
    for code, share in (behaviour.get("faults") or {}).get("DescribeStacks", {}).items():
        with LOCK:
            hit = RANDOM[account].random() < share
            if hit:
                FAULTED[account]["DescribeStacks"] += 1
        if hit:
            data = (
                '<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error>'
                f"<Type>Sender</Type><Code>{escape(code)}</Code><Message>Rate exceeded</Message></Error>"
                "<RequestId>local</RequestId></ErrorResponse>"
            ).encode()
            start_response("400 Bad Request", [("Content-Type", "text/xml"), ("Content-Length", str(len(data)))])
            return [data]
    with LOCK:
        CALLS[account]["DescribeStacks"] += 1
        status = STACKS[account].get(stack_id)
    if status is None:
        data = (
            '<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error>'
            "<Type>Sender</Type><Code>ValidationError</Code>"
            f"<Message>Stack with id {escape(stack_id)} does not exist</Message></Error>"
            "<RequestId>local</RequestId></ErrorResponse>"
        ).encode()
        start_response("400 Bad Request", [("Content-Type", "text/xml"), ("Content-Length", str(len(data)))])
        return [data]
    name = stack_id.split("/")[1] if "/" in stack_id else stack_id
    data = (
        '<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">'
        "<DescribeStacksResult><Stacks><member>"
        f"<StackId>{escape(stack_id)}</StackId><StackName>{escape(name)}</StackName>"
        f"<CreationTime>2026-11-24T00:00:00Z</CreationTime><StackStatus>{escape(status)}</StackStatus>"
        "</member></Stacks></DescribeStacksResult>"
        "<ResponseMetadata><RequestId>local</RequestId></ResponseMetadata></DescribeStacksResponse>"
    ).encode()
    start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(data)))])
    return [data]


def record_invocation(environ, start_response, account, function):
    """Lambda Invoke: moto would run the function in Docker, which is not here. An asynchronous
    invocation (how a sweep hands itself on) is kept for the test to deliver through its Runtime
    API emulator: `GET /_fixture/invocations?account=ID` takes them."""
    from urllib.parse import unquote

    length = int(environ.get("CONTENT_LENGTH") or 0)
    payload = json.loads(environ["wsgi.input"].read(length) or b"null")
    kind = environ.get("HTTP_X_AMZ_INVOCATION_TYPE", "RequestResponse")
    if kind != "Event":
        return aws_error(start_response, "400 Bad Request", "InvalidParameterValueException",
                         "the local AWS only takes asynchronous (Event) invocations")
    with LOCK:
        CALLS[account]["Invoke"] += 1
        INVOCATIONS[account].append({"function": unquote(function), "payload": payload})
    start_response("202 Accepted", [("Content-Length", "0")])
    return [b""]


def put_function_concurrency(environ, start_response, account, function):
    """Lambda PutFunctionConcurrency, as AWS answers it: a reservation that would leave the account
    fewer unreserved executions than its minimum (100, or the whole quota when the quota is lower,
    as in a freshly vended account) is refused with InvalidParameterValueException."""
    from urllib.parse import unquote

    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.loads(environ["wsgi.input"].read(length) or b"{}")
    wanted = int(body.get("ReservedConcurrentExecutions", 0))
    with LOCK:
        CALLS[account]["PutFunctionConcurrency"] += 1
        quota = CONCURRENCY.get(account, 1000)
        minimum = min(100, quota)
        others = sum(v for f, v in RESERVED[account].items() if f != unquote(function))
        if quota - others - wanted < minimum:
            return aws_error(
                start_response,
                "400 Bad Request",
                "InvalidParameterValueException",
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{minimum}].",
            )
        RESERVED[account][unquote(function)] = wanted
    return json_response(start_response, "200 OK", {"ReservedConcurrentExecutions": wanted})


def middleware(app):
    def wrapped(environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/_fixture/"):
            return control(environ, start_response)
        match = ACCESS_KEY.search(environ.get("HTTP_AUTHORIZATION", ""))
        if match and "HTTP_X_MOTO_ACCOUNT_ID" not in environ:
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = match.group(1)
        account = environ.get("HTTP_X_MOTO_ACCOUNT_ID", "123456789012")
        invoke = LAMBDA_INVOKE.match(environ.get("PATH_INFO", ""))
        if invoke and environ.get("REQUEST_METHOD") == "POST":
            return record_invocation(environ, start_response, account, invoke.group("function"))
        concurrency = LAMBDA_CONCURRENCY.match(environ.get("PATH_INFO", ""))
        if concurrency and environ.get("REQUEST_METHOD") == "PUT":
            return put_function_concurrency(environ, start_response, account, concurrency.group("function"))
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        if "/sts/aws4_request" in authorization:
            answered = assume_role(environ, start_response, account)
            if answered is not None:
                return answered
        if environ.get("PATH_INFO") == "/listRegions" and "/account/aws4_request" in authorization:
            return list_regions(start_response, account)
        region_match = CREDENTIAL_REGION.search(authorization)
        disabled = (REGIONS.get(account) or {}).get("disabled") or []
        if region_match and region_match.group(1) in disabled:
            return aws_error(start_response, "400 Bad Request", "UnrecognizedClientException",
                             "The security token included in the request is invalid.")
        if "/cloudformation/aws4_request" in environ.get("HTTP_AUTHORIZATION", ""):
            answered = describe_stacks(environ, start_response, account)
            if answered is not None:
                return answered
        action = environ.get("HTTP_X_AMZ_TARGET", "").rsplit(".", 1)[-1] or environ.get("PATH_INFO", "")
        behaviour = BEHAVIOUR.get(account)
        if behaviour:
            rate = behaviour["quotas"].get(action)
            signed_region = CREDENTIAL_REGION.search(environ.get("HTTP_AUTHORIZATION", ""))
            region = signed_region.group(1) if signed_region else "us-east-1"
            if rate and not take_token(account, region, action, rate):
                with LOCK:
                    THROTTLED[account][action] += 1
                return aws_error(start_response, "400 Bad Request", "ThrottlingException", "Rate exceeded")
            for code, share in behaviour["faults"].get(action, {}).items():
                with LOCK:
                    hit = RANDOM[account].random() < share
                    if hit:
                        FAULTED[account][action] += 1
                if hit:
                    status = "503 Service Unavailable" if code == "ServiceUnavailableException" else "400 Bad Request"
                    return aws_error(start_response, status, code, f"injected {code}")
        with LOCK:
            CALLS[account][action] += 1
        if action == "LookupEvents":
            return lookup_events(environ, start_response, account)
        if action in CHANGE_CALLS and environ.get("HTTP_X_AMZ_TARGET", "").startswith("Logs_"):
            return recorded(app, environ, start_response, account, action)
        return app(environ, start_response)

    return wrapped


def caller_identity(environ, account):
    """Who made a call, as CloudTrail's userIdentity says it: the access key's IAM user, or the
    role session a `session:ROLE/SESSION` token names (how Lambda's credentials look)."""
    token = environ.get("HTTP_X_AMZ_SECURITY_TOKEN", "")
    if token.startswith("session:") and "/" in token:
        role, session = token[len("session:"):].split("/", 1)
        return {
            "type": "AssumedRole",
            "principalId": f"AROALOCAL:{session}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
            "accountId": account,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "arn": f"arn:aws:iam::{account}:role/{role}",
                    "accountId": account,
                    "userName": role,
                }
            },
        }, session
    return {
        "type": "IAMUser",
        "principalId": "AIDALOCAL",
        "arn": f"arn:aws:iam::{account}:user/local-tester",
        "accountId": account,
        "userName": "local-tester",
    }, "local-tester"


def recorded(app, environ, start_response, account, action):
    """Serves a CloudWatch Logs change call, then records it in the account's event history as
    CloudTrail does: its request parameters, who made it, and its error when it failed."""
    import io
    import uuid

    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(raw)
    seen = {}

    def capture(status, headers, exc_info=None):
        seen["status"] = status
        seen["headers"] = headers
        return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

    body = b"".join(app(environ, capture))
    try:
        params = json.loads(raw or b"{}")
    except ValueError:
        params = {}
    match = CREDENTIAL_REGION.search(environ.get("HTTP_AUTHORIZATION", ""))
    region = match.group(1) if match else "us-east-1"
    identity, username = caller_identity(environ, account)
    now = time.time()
    record = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "eventSource": "logs.amazonaws.com",
        "eventName": action,
        "awsRegion": region,
        "sourceIPAddress": environ.get("REMOTE_ADDR", "127.0.0.1"),
        "userAgent": environ.get("HTTP_USER_AGENT", ""),
        "requestParameters": params,
        "responseElements": None,
        "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    if not seen.get("status", "200").startswith("2"):
        try:
            error = json.loads(body or b"{}")
        except ValueError:
            error = {}
        code = dict(seen.get("headers") or []).get("x-amzn-ErrorType") or error.get("__type", "")
        record["errorCode"] = code.split(":")[0].split("#")[-1] or "UnknownError"
        record["errorMessage"] = error.get("message", "")
    group = params.get("logGroupName") or params.get("resourceArn") or ""
    with LOCK:
        HISTORY[(account, region)].append(
            {
                "EventId": record["eventID"],
                "EventName": action,
                "ReadOnly": "false",
                "AccessKeyId": f"LOCAL{account}",
                "EventTime": now,
                "EventSource": "logs.amazonaws.com",
                "Username": username,
                "Resources": [{"ResourceType": "AWS::Logs::LogGroup", "ResourceName": group}] if group else [],
                "CloudTrailEvent": record,
            }
        )
    return [body]


def lookup_events(environ, start_response, account):
    """CloudTrail LookupEvents over the account's event history, as AWS answers it."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    try:
        body = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
    except ValueError:
        return aws_error(start_response, "400 Bad Request", "InvalidParameterException", "malformed request")
    attributes = body.get("LookupAttributes") or []
    if len(attributes) > 1:
        return aws_error(start_response, "400 Bad Request", "InvalidLookupAttributesException",
                         "You cannot specify more than one lookup attribute.")
    keys = {"EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName", "EventSource", "AccessKeyId"}
    if attributes and attributes[0].get("AttributeKey") not in keys:
        return aws_error(start_response, "400 Bad Request", "InvalidLookupAttributesException",
                         f"Invalid attribute key {attributes[0].get('AttributeKey')!r}.")
    start = float(body.get("StartTime", 0))
    end = float(body.get("EndTime", time.time()))
    if start > end:
        return aws_error(start_response, "400 Bad Request", "InvalidTimeRangeException",
                         "The start time must be before the end time.")
    page_size = int(body.get("MaxResults") or 50)
    if not 1 <= page_size <= 50:
        return aws_error(start_response, "400 Bad Request", "InvalidMaxResultsException",
                         "MaxResults must be between 1 and 50.")
    token = body.get("NextToken")
    offset = 0
    if token:
        if not str(token).startswith("page:") or not str(token)[5:].isdigit():
            return aws_error(start_response, "400 Bad Request", "InvalidNextTokenException", "Invalid NextToken.")
        offset = int(str(token)[5:])
    match = CREDENTIAL_REGION.search(environ.get("HTTP_AUTHORIZATION", ""))
    region = match.group(1) if match else "us-east-1"

    def matches(event):
        if not start <= event["EventTime"] <= end:
            return False
        if not attributes:
            return True
        key, value = attributes[0]["AttributeKey"], attributes[0].get("AttributeValue")
        if key == "ResourceName":
            return any(r["ResourceName"] == value for r in event["Resources"])
        if key == "ResourceType":
            return any(r["ResourceType"] == value for r in event["Resources"])
        return str(event.get(key)) == value

    with LOCK:
        chosen = [e for e in reversed(HISTORY[(account, region)]) if matches(e)]
    page = chosen[offset:offset + page_size]
    answer = {"Events": [dict(e, CloudTrailEvent=json.dumps(e["CloudTrailEvent"])) for e in page]}
    if offset + page_size < len(chosen):
        answer["NextToken"] = f"page:{offset + page_size}"
    data = json.dumps(answer).encode()
    start_response("200 OK", [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(data)))])
    return [data]


def spawn():
    """Starts this server as a child process; returns (process, endpoint). For Python callers (the
    template tests, the benchmark). Closing the process's stdin stops it."""
    import subprocess

    proc = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--port", "0", "--exit-with-stdin"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline().strip()
    if not line.startswith("Running on "):
        proc.kill()
        raise RuntimeError(f"local AWS did not start: {line!r}")
    return proc, line[len("Running on "):]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--exit-with-stdin", action="store_true")
    args = parser.parse_args()

    os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "true")
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import WSGIRequestHandler, make_server

    patch_moto()
    WSGIRequestHandler.log_request = lambda *a, **k: None  # one line per request would drown the output
    app = middleware(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, args.port, app, threaded=True)
    print(f"Running on http://{args.host}:{server.server_port}", flush=True)
    if args.exit_with_stdin:

        def watch():
            sys.stdin.read()
            os._exit(0)

        threading.Thread(target=watch, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
