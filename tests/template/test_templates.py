"""Checks on the deployable stacks: template.yaml (the sender stack) and central-account.yaml.

- cfn-lint finds nothing, on the raw templates and on template.yaml expanded by the SAM translator
  (cfn-lint alone does not see inside SAM resources); `sam validate --lint` passes;
- the EventBridge rule's pattern, read out of template.yaml, matches exactly the successful
  CreateLogGroup events in events/ (evaluated by the local AWS's TestEventPattern);
- the function's IAM is least privilege: no wildcard action, no write on "*", PassRole only on the
  configured role and only when one is configured;
- `sam build` produces an arm64 bootstrap (cargo-lambda with zig, no Docker).
"""

import copy
import glob
import json
import re
import os
import subprocess
import sys

import boto3
import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "local_aws"))
import local_aws  # noqa: E402

SENDER = os.path.join(ROOT, "template.yaml")
CENTRAL = os.path.join(ROOT, "central-account.yaml")
AWS_ENV = {
    **os.environ,
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "LOCAL111111111111",
    "AWS_SECRET_ACCESS_KEY": "local-secret",
    "SAM_CLI_TELEMETRY": "0",
}


# The SAM translator needs a Region to expand ARNs; nothing here talks to AWS.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def load(path):
    with open(path) as f:
        return yaml_parse(f.read())


class NoManagedPolicies:
    """The translator asks for managed policy ARNs only for SAM policy names; we use none."""

    def load(self):
        return {}


def expand(template):
    """The SAM transform, as CloudFormation applies it after `sam package` (which puts the code in
    S3: a placeholder URI stands in for it)."""
    template = copy.deepcopy(template)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://packaged-code/auto-subscribe.zip"
    return transform(template, {}, NoManagedPolicies())


@pytest.fixture(scope="module")
def expanded(tmp_path_factory):
    """template.yaml with the SAM transform expanded, as CloudFormation would see it."""
    template = expand(load(SENDER))
    path = tmp_path_factory.mktemp("expanded") / "template.json"
    path.write_text(json.dumps(template, indent=1))
    return template, str(path)


@pytest.fixture(scope="module")
def local_events():
    proc, endpoint = local_aws.spawn()
    yield boto3.client(
        "events",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="LOCAL111111111111",
        aws_secret_access_key="local-secret",
    )
    proc.stdin.close()
    proc.wait(timeout=10)


def cfn_lint(*paths):
    result = subprocess.run(["cfn-lint", "--format", "parseable", *paths], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_cfn_lint_raw_templates():
    cfn_lint(SENDER, CENTRAL)


def test_cfn_lint_expanded_sender_template(expanded):
    cfn_lint(expanded[1])


def test_cfn_lint_catches_a_wrong_architecture(tmp_path):
    """The lint can fail: a broken copy of the template is reported."""
    broken = load(SENDER)
    broken["Parameters"]["Architecture"]["AllowedValues"] = ["arm", "x86_64"]
    broken["Parameters"]["Architecture"]["Default"] = "arm"
    template = expand(broken)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(template))
    result = subprocess.run(["cfn-lint", str(path)], capture_output=True, text=True)
    assert result.returncode != 0, result.stdout


def test_sam_validate_lint():
    result = subprocess.run(
        ["sam", "validate", "--lint", "--template", SENDER], cwd=ROOT, capture_output=True, text=True, env=AWS_ENV
    )
    assert result.returncode == 0, result.stdout + result.stderr


def rule_pattern():
    events = load(SENDER)["Resources"]["Function"]["Properties"]["Events"]
    return events["LogGroupCalls"]["Properties"]["Pattern"]


@pytest.mark.parametrize(
    "fixture, matches",
    [
        ("create-log-group.json", True),
        # A successful CreateLogGroup: the rule delivers it, the function skips the class.
        ("create-log-group-infrequent-access.json", True),
        ("create-log-group-failed.json", False),
        ("put-retention-policy.json", False),
        # Filter changes by someone else: the function repairs the group.
        ("delete-subscription-filter.json", True),
        ("put-subscription-filter.json", True),
        ("delete-subscription-filter-failed.json", False),
        # The rule delivers the function's own change; the function skips it with no AWS call.
        ("put-subscription-filter-by-the-function.json", True),
        # Tag changes: the group is converged again under the tag rules.
        ("create-log-group-with-tags.json", True),
        ("tag-resource.json", True),
        ("untag-resource.json", True),
        ("tag-log-group.json", True),
        ("untag-log-group.json", True),
    ],
)
def test_rule_pattern_against_each_fixture(local_events, fixture, matches):
    with open(os.path.join(ROOT, "events", fixture)) as f:
        event = json.load(f)
    result = local_events.test_event_pattern(EventPattern=json.dumps(rule_pattern()), Event=json.dumps(event))
    assert result["Result"] is matches


def test_every_fixture_is_covered():
    fixtures = {os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "events", "*.json"))}
    assert fixtures == {
        "create-log-group.json",
        "create-log-group-infrequent-access.json",
        "create-log-group-failed.json",
        "put-retention-policy.json",
        "delete-subscription-filter.json",
        "put-subscription-filter.json",
        "delete-subscription-filter-failed.json",
        "put-subscription-filter-by-the-function.json",
        "create-log-group-with-tags.json",
        "tag-resource.json",
        "untag-resource.json",
        "tag-log-group.json",
        "untag-log-group.json",
    }


@pytest.mark.parametrize(
    "fixture",
    [
        "create-log-group.json",
        "delete-subscription-filter.json",
        "put-subscription-filter.json",
        "tag-resource.json",
        "untag-log-group.json",
    ],
)
def test_a_failed_call_never_matches_whatever_its_code(local_events, fixture):
    with open(os.path.join(ROOT, "events", fixture)) as f:
        event = json.load(f)
    for code in ["AccessDenied", "ResourceAlreadyExistsException", "ResourceNotFoundException", "ThrottlingException"]:
        failed = copy.deepcopy(event)
        failed["detail"]["errorCode"] = code
        result = local_events.test_event_pattern(EventPattern=json.dumps(rule_pattern()), Event=json.dumps(failed))
        assert result["Result"] is False, code


def statements(policy_document):
    """Every statement, both branches of any Fn::If, with the condition that guards it."""
    found = []

    def walk(node, guard):
        if isinstance(node, dict) and "Fn::If" in node:
            condition, yes, no = node["Fn::If"]
            walk(yes, guard + [condition])
            walk(no, guard + [f"!{condition}"])
        elif isinstance(node, list):
            for item in node:
                walk(item, guard)
        elif isinstance(node, dict) and "Effect" in node:
            found.append((node, guard))

    walk(policy_document.get("Statement", []), [])
    return found


def as_list(value):
    return value if isinstance(value, list) else [value]


READ_ONLY = ("Describe", "Get", "List", "Lookup")
# The reads that name no resource (the Service Authorization Reference gives them none), the only
# actions allowed on Resource "*", each in its own statement.
ON_ANY_RESOURCE = {
    "ReadTheAccountPolicy": {"logs:DescribeAccountPolicies", "logs:DescribeSubscriptionFilters"},
    "ReadTheEventHistory": {"cloudtrail:LookupEvents"},
}


def check_least_privilege(template):
    """No wildcard action, no write on Resource "*", in any IAM role or policy of the template."""
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        documents = [p["PolicyDocument"] for p in properties.get("Policies", [])]
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append(properties["PolicyDocument"])
        if resource["Type"] == "AWS::IAM::Role":
            assert not properties.get("ManagedPolicyArns"), f"{name} attaches managed policies"
        for document in documents:
            for statement, _ in statements(document):
                if statement["Effect"] != "Allow":
                    continue
                actions = as_list(statement["Action"])
                assert not any("*" in a for a in actions), f"{name}: wildcard action in {actions}"
                writes = [a for a in actions if not a.split(":")[1].startswith(READ_ONLY)]
                if writes:
                    assert "*" not in as_list(statement["Resource"]), f"{name}: {writes} on Resource *"
                if "*" in as_list(statement["Resource"]):
                    allowed = ON_ANY_RESOURCE.get(statement.get("Sid"), set())
                    assert set(actions) <= allowed, f"{name}: {actions} on Resource * (only {allowed})"


def test_least_privilege_in_both_stacks(expanded):
    check_least_privilege(expanded[0])
    check_least_privilege(load(CENTRAL))


def test_least_privilege_check_can_fail():
    template = load(SENDER)
    role = template["Resources"]["FunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    role["Statement"].append({"Effect": "Allow", "Action": "logs:*", "Resource": "*"})
    with pytest.raises(AssertionError):
        check_least_privilege(template)
    # A read is no exception: only the reads that name no resource may go on "*".
    template = load(SENDER)
    role = template["Resources"]["FunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    role["Statement"].append({"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*"})
    with pytest.raises(AssertionError):
        check_least_privilege(template)


def test_function_role_is_exactly_what_it_needs(expanded):
    template = expanded[0]
    function = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function")
    role_name = function["Properties"]["Role"]["Fn::GetAtt"][0]
    role = template["Resources"][role_name]["Properties"]
    documents = [policy["PolicyDocument"] for policy in role["Policies"]]
    documents += [
        r["Properties"]["PolicyDocument"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_name} in r["Properties"]["Roles"]
    ]
    granted = {}
    for document in documents:
        for statement, guard in statements(document):
            for action in as_list(statement["Action"]):
                granted.setdefault(action, []).append((statement["Resource"], guard))
    assert set(granted) == {
        "logs:DescribeLogGroups",
        "lambda:InvokeFunction",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:DescribeSubscriptionFilters",
        "logs:PutSubscriptionFilter",
        "logs:DeleteSubscriptionFilter",
        "logs:ListTagsForResource",
        "ssm:GetParameter",
        "sqs:SendMessage",
        "iam:PassRole",
        "cloudformation:DescribeStacks",
        "lambda:PutFunctionConcurrency",
        "logs:DescribeMetricFilters",
        "logs:DescribeAccountPolicies",
        "cloudtrail:LookupEvents",
    }
    assert granted["logs:DescribeAccountPolicies"] == [("*", [])], "names no resource"
    assert granted["cloudtrail:LookupEvents"] == [("*", [])], "names no resource"
    assert granted["cloudformation:DescribeStacks"] == [({"Ref": "AWS::StackId"}, [])], "its own stack only"
    assert granted["lambda:PutFunctionConcurrency"] == [
        ({"Fn::GetAtt": [role_name.replace("Role", ""), "Arn"]}, ["ReserveWhereAffordable"])
    ], "its own reservation only, and only with ReservedConcurrency=auto"
    this_accounts_groups = {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"}
    assert granted["lambda:InvokeFunction"] == [({"Fn::GetAtt": [role_name.replace("Role", ""), "Arn"]}, [])], "itself only"
    for action in (
        "logs:DescribeLogGroups",
        "logs:DeleteSubscriptionFilter",
        "logs:ListTagsForResource",
        "logs:DescribeMetricFilters",
    ):
        assert granted[action] == [(this_accounts_groups, [])], action
    assert granted["logs:DescribeSubscriptionFilters"] == [(this_accounts_groups, []), ("*", [])]
    put = granted["logs:PutSubscriptionFilter"]
    assert (this_accounts_groups, []) in put and len(put) == 2
    # Without a DestinationArn, only the destinations of DestinationAccountId, never of any account.
    destinations = {"Fn::If": ["CreateParameter", {"Ref": "DestinationArn"},
                               {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${DestinationAccountId}:destination:*"}]}
    assert (destinations, []) in put
    assert granted["logs:CreateLogStream"] == [({"Fn::GetAtt": ["FunctionLogGroup", "Arn"]}, [])]
    assert granted["ssm:GetParameter"] == [
        ({"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${DestinationArnParameter}"}, [])
    ]
    passed_role = {"Fn::If": ["GivenRole", {"Ref": "RoleArn"}, {"Fn::GetAtt": ["SenderRole", "Arn"]}]}
    assert granted["iam:PassRole"] == [(passed_role, ["HasRole"])], "PassRole only when a role is configured"


def test_rule_and_invoke_settings(expanded):
    template = expanded[0]
    types = [r["Type"] for r in template["Resources"].values()]
    assert "AWS::Events::Rule" in types
    function = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function")
    # One environment by default (the function's pacing then holds account-wide); none when the
    # account's concurrency quota is too low to reserve any.
    assert function["Properties"]["ReservedConcurrentExecutions"] == {
        "Fn::If": ["ReserveConcurrency", 1, {"Ref": "AWS::NoValue"}]
    }
    assert template["Conditions"]["ReserveConcurrency"] == {"Fn::Equals": [{"Ref": "ReservedConcurrency"}, "1"]}
    reserved = load(SENDER)["Parameters"]["ReservedConcurrency"]
    # Deploys into an account vended a minute ago: by default the reservation is not part of the
    # template (Lambda would refuse it there); the custom resource makes it where it can.
    assert (reserved["Default"], reserved["AllowedValues"]) == ("auto", ["auto", "1", "0"])
    assert template["Conditions"]["ReserveWhereAffordable"] == {"Fn::Equals": [{"Ref": "ReservedConcurrency"}, "auto"]}
    assert template["Resources"]["Sweep"]["Properties"]["ReservedConcurrency"] == {"Ref": "ReservedConcurrency"}
    [self_policy] = [
        r for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy" and r["Properties"]["PolicyName"] == "continue-sweeps"
    ]
    reserve = self_policy["Properties"]["PolicyDocument"]["Statement"][1]
    assert reserve["Fn::If"][0] == "ReserveWhereAffordable"
    assert reserve["Fn::If"][1]["Action"] == "lambda:PutFunctionConcurrency"
    assert reserve["Fn::If"][1]["Resource"] == {"Fn::GetAtt": ["Function", "Arn"]}
    assert function["Properties"]["LoggingConfig"]["LogFormat"] == "JSON"
    # Lambda never drops the metrics line (it has no level); the function filters at LOG_LEVEL.
    assert function["Properties"]["LoggingConfig"]["ApplicationLogLevel"] == "TRACE"
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["LOG_LEVEL"] == {"Ref": "LogLevel"}
    assert variables["STACK_ID"] == {"Ref": "AWS::StackId"}
    assert variables["FUNCTION_ROLE_NAME"] == {"Ref": "FunctionRole"}
    assert variables["INCLUDE_TAGS"] == {"Ref": "IncludeTags"}
    assert variables["EXCLUDE_TAGS"] == {"Ref": "ExcludeTags"}
    assert variables["EMIT_SYSTEM_FIELDS"] == {"Ref": "EmitSystemFields"}
    # Sweeps continue by invoking the function itself, guarded by the function's own bound.
    assert function["Properties"]["RecursiveLoop"] == "Allow"
    alarms = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert any(a["Namespace"] == "AutoSubscribe" and a["MetricName"] == "Failed" for a in alarms), "alarm on failed > 0"
    assert any(a["Namespace"] == "AWS/SQS" for a in alarms), "alarm on the failure queue"
    assert any(a["Namespace"] == "AutoSubscribe" and a["MetricName"] == "SweepsStopped" for a in alarms)
    assert any(a["Namespace"] == "AutoSubscribe" and a["MetricName"] == "RepairsStopped" for a in alarms)
    # Lost events alarm when they keep happening: 2 of 3 hours.
    lost = next(a for a in alarms if a["Namespace"] == "AutoSubscribe" and a["MetricName"] == "LostEvents")
    assert (lost["Period"], lost["EvaluationPeriods"], lost["DatapointsToAlarm"], lost["Threshold"]) == (3600, 3, 2, 1)
    assert any(
        a["Namespace"] == "AWS/Lambda" and a["MetricName"] == "RecursiveInvocationsDropped" and a["Threshold"] == 0
        for a in alarms
    ), "alarm on a dropped recursive invocation"
    # Nothing dropped without a trace: the rule's target has the failure queue as its dead-letter
    # queue, EventBridge may send to it (only this stack's rule), and two alarms watch what is lost.
    rule = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Events::Rule" and "EventPattern" in r["Properties"])
    stack_named = {"Fn::Sub": ["auto-subscribe-${Id}", {"Id": {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}}]}
    assert rule["Properties"]["Name"] == stack_named
    [target] = rule["Properties"]["Targets"]
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["FailureQueue", "Arn"]}}
    policy = template["Resources"]["FailureQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    [dead_letters] = [s for s in policy if s.get("Sid") == "RuleDeadLetters"]
    assert dead_letters["Principal"] == {"Service": "events.amazonaws.com"}
    assert dead_letters["Action"] == "sqs:SendMessage"
    source = dead_letters["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::Sub"]
    assert source[0].endswith(":rule/auto-subscribe-${Id}") and source[1] == stack_named["Fn::Sub"][1]
    delivery = [a for a in alarms if a["Namespace"] == "AWS/Events" and a["MetricName"] == "FailedInvocations"]
    assert [a["Dimensions"] for a in delivery] == [[{"Name": "RuleName", "Value": stack_named}]]
    dropped = [a for a in alarms if a["Namespace"] == "AWS/Lambda" and a["MetricName"] == "AsyncEventsDropped"]
    assert [a["Threshold"] for a in dropped] == [0]
    invoke = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::EventInvokeConfig")
    assert invoke["Properties"]["MaximumRetryAttempts"] == 2
    assert invoke["Properties"]["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["FailureQueue", "Arn"]}


def test_the_organization_role_is_the_one_aws_documents():
    """CreateSubscriptionFilter-IAMrole: trust logs.amazonaws.com with no condition (the page adds
    none), allow logs:PutLogEvents on the sender's own log groups, and nothing else."""
    template = load(SENDER)
    role = template["Resources"]["SenderRole"]
    assert role["Condition"] == "CreateSenderRole"
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == {"Effect": "Allow", "Principal": {"Service": "logs.amazonaws.com"}, "Action": "sts:AssumeRole"}
    [policy] = role["Properties"]["Policies"]
    [statement] = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "logs:PutLogEvents"
    assert statement["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"}
    with open(SENDER) as f:
        assert "CreateSubscriptionFilter-IAMrole.html" in f.read(), "the template cites the page"


def test_sender_account_ids_are_twelve_digits_each():
    parameter = load(CENTRAL)["Parameters"]["SenderAccountIds"]
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.fullmatch("111111111111") and pattern.fullmatch("")
    for bad in ["*", "11111111111", "arn:aws:iam::111111111111:root", "1111111111111"]:
        assert not pattern.fullmatch(bad), bad


def test_convergence_resources():
    """The sweep's custom resource changes (so a sweep starts) whenever the destination, filter or
    selection does; the schedule can be turned off; removal on delete is a parameter."""
    template = load(SENDER)
    sweep = template["Resources"]["Sweep"]
    assert sweep["Type"] == "Custom::AutoSubscribeSweep"
    properties = sweep["Properties"]
    for name in [
        "DestinationArnParameter",
        "DestinationArn",
        "FilterName",
        "FilterPattern",
        "Include",
        "Exclude",
        "IncludeTags",
        "ExcludeTags",
        "EmitSystemFields",
    ]:
        assert name in properties, name
    assert properties["RemoveFiltersOnDelete"] == {"Ref": "RemoveFiltersOnDelete"}
    # The removal on delete answers within this (the function reads it from the request).
    assert properties["ServiceTimeout"] == 3600
    events = template["Resources"]["Function"]["Properties"]["Events"]
    full = events["FullSweep"]
    assert full["Type"] == "Schedule"
    assert full["Properties"]["State"] == {"Fn::If": ["FullSweeps", "ENABLED", "DISABLED"]}
    # The schedules send exactly the orders the tests drive the function with (events/stack/).
    def stack_fixture(name):
        with open(os.path.join(ROOT, "events", "stack", name)) as f:
            return json.load(f)

    assert json.loads(full["Properties"]["Input"]) == stack_fixture("sweep-order.json")
    assert template["Parameters"]["FullSweepSchedule"]["Default"] == "rate(7 days)"
    recent = events["RecentSweep"]
    assert recent["Properties"]["State"] == {"Fn::If": ["RecentSweeps", "ENABLED", "DISABLED"]}
    assert template["Parameters"]["RecentSweepMinutes"]["Default"] == 15
    # Every period's window is twice the period (one lost run loses nothing) plus the event
    # history's 15 minutes of delay.
    for minutes, row in template["Mappings"]["RecentSweep"].items():
        if minutes != "0":
            assert row["Rate"] in (f"rate({minutes} minutes)", "rate(1 hour)"), row
            assert row["Window"] == 2 * int(minutes) * 60 + 900, (minutes, row)
    assert set(template["Mappings"]["RecentSweep"]) == {str(m) for m in template["Parameters"]["RecentSweepMinutes"]["AllowedValues"]}
    body, variables = recent["Properties"]["Input"]["Fn::Sub"]
    window = variables["Window"]["Fn::FindInMap"]
    assert window == ["RecentSweep", {"Ref": "RecentSweepMinutes"}, "Window"]
    assert json.loads(body.replace("${Window}", "2700")) == stack_fixture("changed-sweep-order.json")


def test_sam_build_makes_an_arm64_bootstrap():
    result = subprocess.run(["sam", "build"], cwd=ROOT, capture_output=True, text=True, env=AWS_ENV)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    bootstrap = os.path.join(ROOT, ".aws-sam", "build", "Function", "bootstrap")
    with open(bootstrap, "rb") as f:
        header = f.read(20)
    assert header[:4] == b"\x7fELF"
    assert int.from_bytes(header[18:20], "little") == 0xB7, "EM_AARCH64"
