#!/usr/bin/env python3
"""Tests of the SAM template (template.yaml) and the member role (member-role.yaml) that a
deployment would otherwise find out the hard way: alarms that cannot reach their topic, forged
trigger events, rules that accept other accounts' events, a setup command that wipes a bucket's
notifications, hard-coded partitions.

Each check is a function of the decoded template that raises AssertionError with the reason;
every check also runs against a copy broken on purpose, and must fail there.

Usage: check_template.py        prints one line per test and "N passed, M failed"; exit 1 on failure
"""
import copy
import json
import os
import pathlib
import sys
import traceback

from cfnlint.decode import decode

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
MEMBER_ROLE = ROOT / "member-role.yaml"
MANAGED_SNS_KEY = "alias/aws/sns"
ACCOUNT = {"Ref": "AWS::AccountId"}
NO_VALUE = {"Ref": "AWS::NoValue"}
# The statements that serve the function itself (its claims, decisions, failed invocations and
# member roles); member-role.yaml repeats every other (remediation) statement. By Sid, not by
# service: remediation also acts on SQS queues.
FUNCTION_ONLY_SIDS = {"ClaimTriggers", "PublishDecisions", "FailedInvocations", "AssumeMemberRole"}
# Remediation statements on regional services, which RemediationRegions scopes (S3 and IAM are
# not regional).
REGIONAL_PREFIXES = (
    "ec2:", "cloudtrail:", "kms:", "sqs:", "sns:", "ecr:", "secretsmanager:", "lambda:", "rds:", "guardduty:", "config:",
)


def load(path):
    template, matches = decode(str(path))
    if matches:
        raise SystemExit(f"check_template: cannot read {path}: {matches}")
    return json.loads(json.dumps(template))  # plain dicts and lists, safe to deep-copy and edit


def resources(t, kind):
    return {k: r for k, r in t["Resources"].items() if r["Type"] == kind}


def branches(value):
    """Every value an Fn::If may resolve to (recursively), AWS::NoValue left out."""
    if isinstance(value, dict) and "Fn::If" in value:
        for v in value["Fn::If"][1:]:
            yield from branches(v)
    elif value != NO_VALUE:
        yield value


def refs_to(value, logical_id):
    """Whether `value` refers (Ref, GetAtt, or ${...} in a Sub) to the resource `logical_id`."""
    text = json.dumps(value)
    return (
        json.dumps({"Ref": logical_id}) in text
        or f'"Fn::GetAtt": ["{logical_id}"' in text
        or f"${{{logical_id}" in text
    )


def statements(policy_document):
    for st in policy_document["Statement"]:
        yield from branches(st)


def as_list(value):
    return value if isinstance(value, list) else [value]


# ---------------------------------------------------------------- alarms reach a person
def check_alarm_topics_usable(t):
    """No alarm publishes to a topic encrypted with the AWS-managed SNS key (CloudWatch cannot
    use it: the alarm notification is silently lost); an encrypted alarm topic uses a key whose
    policy lets cloudwatch.amazonaws.com use it."""
    topics = resources(t, "AWS::SNS::Topic")
    alarms = resources(t, "AWS::CloudWatch::Alarm")
    assert alarms, "the template has no alarms"
    for name, alarm in alarms.items():
        actions = alarm["Properties"].get("AlarmActions", [])
        assert actions, f"{name} has no alarm action"
        for action in actions:
            for target in branches(action):
                if isinstance(target, dict) and "Ref" in target and target["Ref"] in topics:
                    key = topics[target["Ref"]]["Properties"].get("KmsMasterKeyId")
                    assert key != MANAGED_SNS_KEY, (
                        f"{name} publishes to {target['Ref']}, encrypted with {MANAGED_SNS_KEY}: "
                        "CloudWatch alarms cannot publish to it"
                    )
                    if key is not None:
                        assert_key_lets(t, key, "cloudwatch.amazonaws.com", f"{target['Ref']} (alarm topic)")


def assert_key_lets(t, key_ref, service, what):
    """The topic key `key_ref` is a key of this template whose policy lets `service` encrypt
    and decrypt (what SNS needs from a publisher)."""
    assert isinstance(key_ref, dict), f"{what} is encrypted with {key_ref}, not the template's key"
    logical_id = key_ref.get("Ref") or key_ref.get("Fn::GetAtt", [None])[0]
    key = t["Resources"].get(logical_id, {})
    assert key.get("Type") == "AWS::KMS::Key", f"{what} is encrypted with {key_ref}, not a key of the template"
    props = key["Properties"]
    assert props.get("EnableKeyRotation") is True, f"{logical_id} does not rotate"
    allowed = set()
    for st in statements(props["KeyPolicy"]):
        principals = as_list(st.get("Principal", {}).get("Service", []))
        if st["Effect"] == "Allow" and service in principals:
            allowed.update(as_list(st["Action"]))
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= allowed, f"{logical_id} does not let {service} use it: {allowed}"


def check_topic_key_policy(t):
    """The topic key: the account administers it; CloudWatch and EventBridge may only use it."""
    (name, key), = resources(t, "AWS::KMS::Key").items()
    root = {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    sts = list(statements(key["Properties"]["KeyPolicy"]))
    assert any(st["Principal"] == root and st["Action"] == "kms:*" for st in sts), f"{name}: the account does not administer it"
    for st in sts:
        if st["Principal"] != root:
            assert set(as_list(st["Action"])) <= {"kms:Decrypt", "kms:GenerateDataKey*"}, st
            assert set(as_list(st["Principal"]["Service"])) <= {"cloudwatch.amazonaws.com", "events.amazonaws.com"}, st
    assert_key_lets(t, {"Ref": name}, "events.amazonaws.com", name)


# ---------------------------------------------------------------- findings
FINDINGS_RULES = {
    "FindingsInsightRule": "AWS Insight via CloudTrail",
    "FindingsRiskyChangeRule": "Trailsight Risky Change",
    "FindingsRemediationRule": "Trailsight Remediation",
}
FINDINGS_FIELDS = {
    "FindingsInsightRule": [
        "$.detail-type",
        "$.detail.insightDetails.eventSource",
        "$.detail.insightDetails.eventName",
        "$.detail.insightDetails.state",
        "$.detail.trailsight.explanation",
    ],
    "FindingsRiskyChangeRule": ["$.detail-type", "$.detail.rule", "$.detail.severity", "$.detail.reason", "$.detail.actor.arn"],
    "FindingsRemediationRule": ["$.detail-type", "$.detail.decision", "$.detail.rule", "$.detail.reason"],
}


def check_findings_route(t):
    """Three rules (one per detail-type) on trailsight's bus, checking the account, send a
    readable message to the findings topic (new and encrypted with the topic key, or given), and
    the new topic's policy lets EventBridge publish from exactly those rules."""
    topic = t["Resources"]["FindingsTopic"]
    assert topic["Properties"]["KmsMasterKeyId"] != MANAGED_SNS_KEY
    assert_key_lets(t, topic["Properties"]["KmsMasterKeyId"], "events.amazonaws.com", "FindingsTopic")
    for name, detail_type in FINDINGS_RULES.items():
        rule = t["Resources"][name]
        assert rule.get("Condition") == "FindingsRoute", f"{name} is not conditional on a findings route"
        props = rule["Properties"]
        assert props["EventBusName"] == {"Fn::If": ["NewBus", {"Ref": "EventBus"}, "default"]}, name
        pattern = props["EventPattern"]
        # Risky changes also take `trailsight test-event`'s events (source trailsight.test,
        # which the bus policy leaves open and no remediation rule matches).
        sources = ["trailsight", "trailsight.test"] if name == "FindingsRiskyChangeRule" else ["trailsight"]
        assert pattern["source"] == sources and pattern["detail-type"] == [detail_type], f"{name}: {pattern}"
        assert pattern.get("account") == [ACCOUNT], f"{name} does not check the account"
        (target,) = props["Targets"]
        assert target["Arn"] == {"Fn::If": ["NewFindingsTopic", {"Ref": "FindingsTopic"}, {"Ref": "FindingsTopicArn"}]}, name
        transformer = target["InputTransformer"]
        paths = transformer["InputPathsMap"]
        for field in FINDINGS_FIELDS[name]:
            assert field in paths.values(), f"{name}'s message lacks {field}"
        assert "$.account" in paths.values() or "$.detail.account" in paths.values() or "$.detail.recipientAccountId" in paths.values(), name
        rendered = transformer["InputTemplate"]
        for var, path in paths.items():
            assert f"<{var}>" in rendered, f"{name}: {var} ({path}) is not in the message"
            rendered = rendered.replace(f"<{var}>", "x")
        assert "<" not in rendered, f"{name}: the message names an undefined variable: {rendered}"
        assert isinstance(json.loads(rendered), str), f"{name}: the message is not one JSON string"
    policy = t["Resources"]["FindingsTopicPolicy"]["Properties"]
    assert policy["Topics"] == [{"Ref": "FindingsTopic"}]
    (st,) = statements(policy["PolicyDocument"])
    assert st["Principal"] == {"Service": "events.amazonaws.com"} and st["Action"] == "sns:Publish", st
    sources = st["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert sorted(s["Fn::GetAtt"][0] for s in sources) == sorted(FINDINGS_RULES), sources


# ---------------------------------------------------------------- only genuine triggers act
def check_bus_policy(t):
    """The bus the functions publish on denies PutEvents of source "trailsight" events to every
    principal but the ingest and remediation functions' roles."""
    policies = resources(t, "AWS::Events::EventBusPolicy")
    bus = t["Resources"]["IngestFunction"]["Properties"]["Environment"]["Variables"]["EVENT_BUS_NAME"]
    guards = [p for p in policies.values() if p["Properties"]["EventBusName"] == bus]
    assert guards, f"no bus policy on the functions' bus {bus}"
    roles = {"IngestFunctionRole", "RemediateFunctionRole"}
    for guard in guards:
        st = guard["Properties"]["Statement"]
        assert guard["Properties"]["StatementId"], "the bus policy has no StatementId"
        assert st["Effect"] == "Deny" and st["Principal"] == "*", st
        assert as_list(st["Action"]) == ["events:PutEvents"], st
        assert st["Condition"]["StringEquals"] == {"events:source": "trailsight"}, st["Condition"]
        assert set(st["Condition"]) == {"StringEquals", "ArnNotEquals"}, st["Condition"]
        exempt = st["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
        named = set()
        for arn in exempt:
            for value in branches(arn):
                assert value.get("Fn::GetAtt", [None, None])[1] == "Arn", f"exempt principal {value} is not a role ARN"
                named.add(value["Fn::GetAtt"][0])
        assert named == roles, f"the bus policy exempts {named}, not exactly {roles}"
        assert t["Resources"]["RemediateFunction"].get("Condition") in (None, "RemediationOn")
    generated = transformed_resources(t)
    for role in roles:
        assert generated.get(role, {}).get("Type") == "AWS::IAM::Role", f"SAM generates no {role}"


def transformed_resources(t):
    """The resources after the SAM transform (offline; code locations replaced)."""
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        def load(self):
            return {}

    t = copy.deepcopy(t)
    for r in resources(t, "AWS::Serverless::Function").values():
        r["Properties"]["CodeUri"] = "s3://bucket/key"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return transform(t, {}, NoManagedPolicies())["Resources"]


def check_remediation_rules_check_account(t):
    """Every rule that triggers remediation requires the event's account to be this account."""
    triggering = 0
    for name, rule in resources(t, "AWS::Events::Rule").items():
        props = rule["Properties"]
        if any(refs_to(target["Arn"], "RemediateFunction") for target in props.get("Targets", [])):
            triggering += 1
            assert props["EventPattern"].get("account") == [ACCOUNT], f"{name} triggers remediation for any account"
    assert triggering >= 2, "fewer rules trigger remediation than expected"


# EventBridge's default quota on an event pattern's size, in characters.
EVENT_PATTERN_MAX = 2048


def check_event_pattern_sizes(t):
    """Every rule's event pattern fits EventBridge's default size quota (2,048 characters, with
    the account id in place of the AWS::AccountId reference), so a deployment does not fail on
    a rule that watches one call too many."""
    for name, rule in resources(t, "AWS::Events::Rule").items():
        pattern = rule["Properties"].get("EventPattern")
        if pattern is None:
            continue
        text = json.dumps(pattern).replace(json.dumps(ACCOUNT), json.dumps("123456789012"))
        size = len(json.dumps(json.loads(text), separators=(",", ":")))
        assert size <= EVENT_PATTERN_MAX, f"{name}'s event pattern has {size} characters (quota {EVENT_PATTERN_MAX})"


def check_remediation_off(t):
    """With RemediationMode=off, nothing of remediation is created: every resource that names
    the remediation function, its role, its DLQ or its rules is conditional on RemediationOn."""
    parts = ["RemediateFunction", "RemediateLogGroup", "RemediationDeadLetterQueue", "RiskyChangeRule", "NativeApiCallRule"]
    for name, r in t["Resources"].items():
        body = {k: v for k, v in r.items() if k != "Condition"}
        if name in parts or any(refs_to(body, p) for p in parts):
            if name == "TrailsightSourcePolicy":
                continue  # names the role inside an Fn::If on RemediationOn (check_bus_policy)
            assert r.get("Condition") == "RemediationOn", f"{name} exists with RemediationMode=off"


# ---------------------------------------------------------------- log delivery
def check_setup_output_keeps_notifications(t):
    """No output suggests put-bucket-notification-configuration, which replaces a bucket's
    whole notification configuration (another tool's notifications with it)."""
    text = json.dumps(t.get("Outputs", {}))
    assert "put-bucket-notification-configuration" not in text, "an output would wipe the bucket's other notifications"
    assert "trailsight setup-notifications" in text


def check_eventbridge_delivery(t):
    """LogDelivery=eventbridge: a default-bus rule for the trail bucket's Object Created events
    under the prefix targets the ingest queue, whose policy admits exactly that rule."""
    rule = t["Resources"]["LogObjectCreatedRule"]
    props = rule["Properties"]
    assert props["EventBusName"] == "default"
    pattern = props["EventPattern"]
    assert pattern["source"] == ["aws.s3"] and pattern["detail-type"] == ["Object Created"], pattern
    assert pattern["detail"]["object"]["key"] == [{"prefix": {"Fn::Sub": "${TrailPrefix}AWSLogs/"}}], pattern
    assert [t_["Arn"] for t_ in props["Targets"]] == [{"Fn::GetAtt": ["IngestQueue", "Arn"]}]
    policy = t["Resources"]["IngestQueuePolicy"]["Properties"]["PolicyDocument"]
    sts = list(statements(policy))
    events = [st for st in sts if st["Principal"] == {"Service": "events.amazonaws.com"}]
    assert events and all(
        st["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["LogObjectCreatedRule", "Arn"]}}} for st in events
    ), events
    s3 = [st for st in sts if st["Principal"] == {"Service": "s3.amazonaws.com"}]
    assert s3 and all(refs_to(st["Condition"]["StringEquals"]["aws:SourceAccount"], "TrailBucketAccountId") for st in s3), s3


def check_self_monitoring(t):
    """Alarms on silence (no Files ingested for IngestSilenceMinutes, missing data breaching) and
    on the ingest queue's oldest message."""
    alarms = resources(t, "AWS::CloudWatch::Alarm").values()
    silence = [
        a["Properties"] for a in alarms
        if a["Properties"]["Namespace"] == "trailsight" and a["Properties"]["MetricName"] == "Files"
    ]
    assert silence, "no alarm on ingest silence"
    for p in silence:
        assert p["Dimensions"] == [{"Name": "function", "Value": "ingest"}], p["Dimensions"]
        assert p["Statistic"] == "Sum" and p["TreatMissingData"] == "breaching", p
        assert p["ComparisonOperator"] == "LessThanThreshold" and p["Threshold"] == 1, p
        assert p["EvaluationPeriods"] == {"Ref": "IngestSilenceMinutes"} and p["Period"] == 60, p
    age = [a["Properties"] for a in alarms if a["Properties"]["MetricName"] == "ApproximateAgeOfOldestMessage"]
    assert age and age[0]["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["IngestQueue", "QueueName"]}}], age


# ---------------------------------------------------------------- what a team tunes
def check_function_settings(t):
    """Parameters reach the functions' environments; JSON logs; reservations only when asked."""
    ingest = t["Resources"]["IngestFunction"]["Properties"]
    env = ingest["Environment"]["Variables"]
    assert env["DETECTOR_CONFIG"] == {
        "Fn::If": ["DetectorConfigInSsm", {"Fn::Sub": "{{resolve:ssm:${DetectorConfigParameter}}}"}, {"Ref": "DetectorConfig"}]
    }, env["DETECTOR_CONFIG"]
    assert env["RISKY_CHANGES"] == {"Ref": "RiskyChanges"} and env["EXEMPT_TAG_KEY"] == {"Ref": "ExemptTagKey"}, env
    remediate = t["Resources"]["RemediateFunction"]["Properties"]
    renv = remediate["Environment"]["Variables"]
    assert renv["REMEDIATION_REGIONS"] == {"Ref": "RemediationRegions"}, renv
    assert renv["MEMBER_ROLE_NAME"] == {"Ref": "MemberRoleName"}, renv
    assert renv["TABLE_NAME"] == {"Ref": "Table"}, renv
    assert renv["REMEDIATE_RULES"] == {"Ref": "RemediateRules"}, renv
    assert t["Parameters"]["RemediateRules"]["Default"] == "default", t["Parameters"]["RemediateRules"]
    assert t["Parameters"]["RemediationMode"]["AllowedValues"] == ["off", "dry-run", "enforce"]
    for props in (ingest, remediate):
        logging = props["LoggingConfig"]
        assert (logging["LogFormat"], logging["ApplicationLogLevel"], logging["SystemLogLevel"]) == ("JSON", "INFO", "WARN"), logging
        reserved = props["ReservedConcurrentExecutions"]
        assert isinstance(reserved, dict) and reserved["Fn::If"][2] == NO_VALUE, f"always reserved: {reserved}"
    scaling = t["Resources"]["IngestQueueMapping"]["Properties"]["ScalingConfig"]
    assert scaling["Fn::If"][0] == "IngestSourceCapped" and scaling["Fn::If"][2] == NO_VALUE, scaling
    capped = t["Conditions"]["IngestSourceCapped"]
    assert {"Fn::Not": [{"Fn::Equals": [{"Ref": "IngestConcurrency"}, "1"]}]} in capped["Fn::And"], capped


def check_region_scope(t):
    """With RemediationRegions set, remediation's statements on regional services (all but S3 and
    IAM) hold only in them."""
    doc = t["Resources"]["RemediateFunction"]["Properties"]["Policies"][0]
    scoped = {
        "Fn::If": [
            "RegionsScoped",
            {"StringEquals": {"aws:RequestedRegion": {"Fn::Split": [",", {"Ref": "RemediationRegions"}]}}},
            NO_VALUE,
        ]
    }
    for st in statements(doc):
        if st["Sid"] in FUNCTION_ONLY_SIDS:
            continue
        if any(a.startswith(REGIONAL_PREFIXES) for a in as_list(st["Action"])):
            assert st.get("Condition") == scoped, f"{st.get('Sid')} is not scoped to RemediationRegions"


def check_tags(t):
    """Every taggable resource of the template carries app=trailsight."""
    tag = {"Key": "app", "Value": "trailsight"}
    assert t["Globals"]["Function"]["Tags"] == {"app": "trailsight"}
    taggable = {
        "AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::SNS::Topic", "AWS::KMS::Key", "AWS::Events::EventBus",
        "AWS::Logs::LogGroup", "AWS::CloudWatch::Alarm", "AWS::S3::Bucket", "AWS::CloudTrail::Trail",
        "AWS::Lambda::EventSourceMapping",
    }
    for name, r in t["Resources"].items():
        if r["Type"] in taggable:
            assert tag in r["Properties"].get("Tags", []), f"{name} is not tagged"


def check_partition(t):
    """No hard-coded aws partition (GovCloud and China use aws-us-gov and aws-cn)."""
    for path in (TEMPLATE, MEMBER_ROLE):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            assert "arn:aws:" not in code, f"{path.name}:{n}: hard-coded partition: {line.strip()}"


def check_member_role(t):
    """member-role.yaml grants exactly the remediation statements of the function (without what
    serves only the function), region-scoped the same way, and trusts only the given role."""
    member = load(MEMBER_ROLE)
    role = member["Resources"]["MemberRole"]["Properties"]
    (trust,) = statements(role["AssumeRolePolicyDocument"])
    assert trust["Principal"] == {"AWS": {"Ref": "RemediationRoleArn"}} and trust["Action"] == "sts:AssumeRole", trust
    assert role["RoleName"] == {"Ref": "RoleName"}
    (policy,) = role["Policies"]
    theirs = {st["Sid"]: st for st in statements(policy["PolicyDocument"])}
    ours = {
        st["Sid"]: st
        for st in statements(t["Resources"]["RemediateFunction"]["Properties"]["Policies"][0])
        if st["Sid"] not in FUNCTION_ONLY_SIDS
    }
    assert sorted(theirs) == sorted(ours), f"member role statements {sorted(theirs)} != {sorted(ours)}"
    for sid, st in ours.items():
        assert theirs[sid] == st, f"member role statement {sid} differs: {theirs[sid]} != {st}"


# ---------------------------------------------------------------- the backfill's contract
FIXTURES = ROOT / "tests" / "fixtures" / "backfill"
WORKER = ROOT / "functions" / "backfill" / "src" / "handler.rs"


def fixture_keys(name):
    return set(json.loads((FIXTURES / name).read_text()))


def check_backfill_contract(t):
    """The state machine sends the worker the inputs the worker's tests take
    (tests/fixtures/backfill), reads back the fields it returns, loops on its `done`, retries
    only errors the worker names, and may start its own map children."""
    machine = t["Resources"]["BackfillStateMachine"]
    assert machine.get("Condition") == "BackfillOn", "the backfill is not optional"
    states = machine["Properties"]["Definition"]["States"]
    payload = states["ListStreams"]["Parameters"]["Payload"]
    assert {k.removesuffix(".$") for k in payload} == fixture_keys("list-streams-input.json"), payload
    selected = states["ListStreams"]["ResultSelector"]
    assert {v.removeprefix("$.Payload.") for v in selected.values()} == fixture_keys("list-streams-output.json"), selected
    target = states["ListStreams"]["ResultPath"].removeprefix("$.")
    reader = states["Streams"]["ItemReader"]
    assert reader["ReaderConfig"]["InputType"] == "JSON", reader
    assert reader["Parameters"] == {"Bucket.$": f"$.{target}.manifest_bucket", "Key.$": f"$.{target}.manifest_key"}, reader
    assert "ItemSelector" not in states["Streams"], "map items must reach the worker as the manifest holds them"
    processor = states["Streams"]["ItemProcessor"]
    assert processor["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, processor
    assert "MaxConcurrencyPath" in states["Streams"] or "MaxConcurrency" in states["Streams"], "unbounded map"
    step = processor["States"]["BackfillStream"]
    assert step["Parameters"]["Payload.$"] == "$" and step["OutputPath"] == "$.Payload", step
    assert fixture_keys("stream-output.json") == fixture_keys("stream-item.json"), "a call's output must be its next input"
    choice = processor["States"][step["Next"]]
    (loop,) = choice["Choices"]
    assert loop["Variable"].removeprefix("$.") in fixture_keys("stream-output.json"), loop
    assert loop["BooleanEquals"] is True and choice["Default"] == "BackfillStream", choice
    worker = WORKER.read_text()
    for state in (states["ListStreams"], step):
        for retry in state["Retry"]:
            for error in retry["ErrorEquals"]:
                if not error.startswith(("Lambda.", "States.")):
                    assert f'"{error}"' in worker, f"retries {error}, which the worker never returns"
    name = machine["Properties"]["Name"]
    children = [
        st for policy in machine["Properties"]["Policies"] if "Statement" in policy
        for st in policy["Statement"] if "states:StartExecution" in as_list(st["Action"])
    ]
    assert children and all(name["Fn::Sub"].replace("${AWS::StackName}", "") in st["Resource"]["Fn::Sub"] for st in children), children


def broken_backfill_payload(t):
    payload = t["Resources"]["BackfillStateMachine"]["Properties"]["Definition"]["States"]["ListStreams"]["Parameters"]["Payload"]
    payload["bucket_name"] = payload.pop("bucket")


def broken_backfill_loop(t):
    states = t["Resources"]["BackfillStateMachine"]["Properties"]["Definition"]["States"]
    states["Streams"]["ItemProcessor"]["States"]["StreamDone"]["Choices"][0]["Variable"] = "$.finished"


def broken_backfill_retry(t):
    states = t["Resources"]["BackfillStateMachine"]["Properties"]["Definition"]["States"]
    states["Streams"]["ItemProcessor"]["States"]["BackfillStream"]["Retry"][0]["ErrorEquals"].append("StoreDown")


TESTS = [
    check_alarm_topics_usable,
    check_topic_key_policy,
    check_findings_route,
    check_bus_policy,
    check_remediation_rules_check_account,
    check_remediation_off,
    check_event_pattern_sizes,
    check_setup_output_keeps_notifications,
    check_eventbridge_delivery,
    check_self_monitoring,
    check_function_settings,
    check_region_scope,
    check_tags,
    check_partition,
    check_member_role,
    check_backfill_contract,
]


# ---------------------------------------------------------------- the checks catch what they guard
def broken_alarm_topic(t):
    t["Resources"]["AlarmTopic"]["Properties"]["KmsMasterKeyId"] = MANAGED_SNS_KEY


def broken_key_policy(t):
    t["Resources"]["TopicKey"]["Properties"]["KeyPolicy"]["Statement"][1]["Principal"]["Service"] = ["events.amazonaws.com"]


def broken_bus_policy_extra_principal(t):
    exempt = t["Resources"]["TrailsightSourcePolicy"]["Properties"]["Statement"]["Condition"]["ArnNotEquals"]
    exempt["aws:PrincipalArn"].append({"Fn::GetAtt": ["SomeoneElseRole", "Arn"]})


def broken_bus_policy_missing(t):
    del t["Resources"]["TrailsightSourcePolicy"]


def broken_bus_policy_allow(t):
    t["Resources"]["TrailsightSourcePolicy"]["Properties"]["Statement"]["Effect"] = "Allow"


def broken_rule_any_account(t):
    del t["Resources"]["NativeApiCallRule"]["Properties"]["EventPattern"]["account"]


def broken_pattern_too_big(t):
    names = t["Resources"]["NativeApiCallRule"]["Properties"]["EventPattern"]["detail"]["eventName"]
    names.extend(f"SomeVeryLongEventNameNumber{i}" for i in range(60))


def broken_findings_rule_any_account(t):
    del t["Resources"]["FindingsRiskyChangeRule"]["Properties"]["EventPattern"]["account"]


def broken_findings_message(t):
    target = t["Resources"]["FindingsRemediationRule"]["Properties"]["Targets"][0]
    target["InputTransformer"]["InputTemplate"] += " <nowhere>"


def broken_wiping_output(t):
    t["Outputs"]["SetupNotificationsCommand"]["Value"] = (
        "aws s3api put-bucket-notification-configuration --bucket b --notification-configuration '{}'"
    )


def broken_queue_policy(t):
    policy = t["Resources"]["IngestQueuePolicy"]["Properties"]["PolicyDocument"]
    policy["Statement"][0]["Fn::If"][1]["Condition"] = {}


def broken_silence_alarm(t):
    t["Resources"]["IngestSilenceAlarm"]["Properties"]["TreatMissingData"] = "notBreaching"


def broken_remediation_off(t):
    del t["Resources"]["RemediationDeadLetterQueue"]["Condition"]


def broken_region_scope(t):
    for st in statements(t["Resources"]["RemediateFunction"]["Properties"]["Policies"][0]):
        if st["Sid"] == "RevokeWorldOpenRules":
            del st["Condition"]


def broken_region_scope_new_service(t):
    for st in statements(t["Resources"]["RemediateFunction"]["Properties"]["Policies"][0]):
        if st["Sid"] == "KeyPolicyRemediation":
            del st["Condition"]


def broken_member_role_queue(t):
    """The function may fix queue policies, the member role may not (an SQS-only statement)."""
    doc = t["Resources"]["RemediateFunction"]["Properties"]["Policies"][0]
    doc["Statement"].append(
        {"Sid": "ExtraQueueRemediation", "Effect": "Allow", "Action": ["sqs:SetQueueAttributes"], "Resource": "*"}
    )


def broken_member_role(t):
    for st in statements(t["Resources"]["RemediateFunction"]["Properties"]["Policies"][0]):
        if st["Sid"] == "BucketRemediation":
            st["Action"].append("s3:PutBucketVersioning")


def broken_reserved_concurrency(t):
    t["Resources"]["RemediateFunction"]["Properties"]["ReservedConcurrentExecutions"] = 5


def broken_untagged_queue(t):
    del t["Resources"]["IngestQueue"]["Properties"]["Tags"]


BROKEN = [
    (broken_alarm_topic, check_alarm_topics_usable),
    (broken_key_policy, check_alarm_topics_usable),
    (broken_bus_policy_extra_principal, check_bus_policy),
    (broken_bus_policy_missing, check_bus_policy),
    (broken_bus_policy_allow, check_bus_policy),
    (broken_rule_any_account, check_remediation_rules_check_account),
    (broken_findings_rule_any_account, check_findings_route),
    (broken_findings_message, check_findings_route),
    (broken_wiping_output, check_setup_output_keeps_notifications),
    (broken_queue_policy, check_eventbridge_delivery),
    (broken_silence_alarm, check_self_monitoring),
    (broken_remediation_off, check_remediation_off),
    (broken_pattern_too_big, check_event_pattern_sizes),
    (broken_region_scope, check_region_scope),
    (broken_region_scope_new_service, check_region_scope),
    (broken_member_role, check_member_role),
    (broken_member_role_queue, check_member_role),
    (broken_reserved_concurrency, check_function_settings),
    (broken_untagged_queue, check_tags),
    (broken_backfill_payload, check_backfill_contract),
    (broken_backfill_loop, check_backfill_contract),
    (broken_backfill_retry, check_backfill_contract),
]


def caught_when_broken(template, breaks, check):
    def test(_):
        broken = copy.deepcopy(template)
        breaks(broken)
        try:
            check(broken)
        except AssertionError:
            return
        raise AssertionError(f"{check.__name__} passed on a template broken by {breaks.__name__}")

    test.__name__ = f"{check.__name__} catches {breaks.__name__}"
    return test


def main():
    template = load(TEMPLATE)
    tests = TESTS + [caught_when_broken(template, b, c) for b, c in BROKEN]
    passed = failed = 0
    for test in tests:
        try:
            test(template)
        except Exception as e:  # a failed assertion, or a template without what the test reads
            failed += 1
            print(f"FAIL {test.__name__}: {e!r}")
            if not isinstance(e, AssertionError):
                traceback.print_exc()
        else:
            passed += 1
            print(f"ok   {test.__name__}")
    print(f"check_template: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
