#!/usr/bin/env python3
"""Checks the SAM template's IAM against the code, both ways.

For each function, the AWS SDK operations its code calls are found in the source of the
trailsight-aws modules its main.rs uses (calls on `self.client`, `self.s3`, ... clients), and
mapped to IAM actions. The template must grant every one of them, no wildcard action, and no
action the code does not use, except the few that Lambda itself uses with the function's role
(reading the SQS event source, sending to the on-failure destination) and the few grants that
no SDK call accounts for (CONDITIONAL_GRANTS), each accepted only in exactly its declared form.

Usage: check_iam.py [template.yaml]        exit 1 and print the differences on a mismatch
       check_iam.py --self-test             shows the check fails on a missing or extra action,
                                            and on a conditional grant in any other form
"""
import copy
import pathlib
import re
import sys

from cfnlint.decode import decode

ROOT = pathlib.Path(__file__).resolve().parents[2]
FUNCTIONS = {
    "IngestFunction": "functions/ingest",
    "RemediateFunction": "functions/remediate",
    "BackfillFunction": "functions/backfill",
}
# The client each module calls through `self.client`.
MODULE_CLIENT = {"archive": "s3", "claims": "dynamodb", "dynamo": "dynamodb", "eventbridge": "events", "s3": "s3"}
MODULES = r"(admin|archive|claims|dynamo|eventbridge|s3)"
# Operations whose IAM action is not `service:PascalCaseName`.
SPECIAL = {
    ("s3", "get_public_access_block"): ["s3:GetBucketPublicAccessBlock"],
    ("s3", "put_public_access_block"): ["s3:PutBucketPublicAccessBlock"],
    ("s3control", "get_public_access_block"): ["s3:GetAccountPublicAccessBlock"],
    ("s3control", "put_public_access_block"): ["s3:PutAccountPublicAccessBlock"],
    ("s3", "list_buckets"): ["s3:ListAllMyBuckets"],
    # Listing a bucket's keys is authorised as ListBucket.
    ("s3", "list_objects_v2"): ["s3:ListBucket"],
    # An object's ACL may be read and written for one version (PutObjectAcl with versionId).
    ("s3", "get_object_acl"): ["s3:GetObjectAcl", "s3:GetObjectVersionAcl"],
    ("s3", "put_object_acl"): ["s3:PutObjectAcl", "s3:PutObjectVersionAcl"],
    # A transaction is authorised per item: the store's transactions only put items.
    ("dynamodb", "transact_write_items"): ["dynamodb:PutItem"],
    # GetFunction returns a function's tags only to a caller that may also call ListTags.
    ("lambda", "get_function"): ["lambda:GetFunction", "lambda:ListTags"],
    # RDS spells "DB" in capitals.
    ("rds", "describe_db_instances"): ["rds:DescribeDBInstances"],
    ("rds", "modify_db_instance"): ["rds:ModifyDBInstance"],
    ("rds", "describe_db_snapshots"): ["rds:DescribeDBSnapshots"],
    ("rds", "describe_db_snapshot_attributes"): ["rds:DescribeDBSnapshotAttributes"],
    ("rds", "modify_db_snapshot_attribute"): ["rds:ModifyDBSnapshotAttribute"],
    ("rds", "describe_db_cluster_snapshots"): ["rds:DescribeDBClusterSnapshots"],
    ("rds", "describe_db_cluster_snapshot_attributes"): ["rds:DescribeDBClusterSnapshotAttributes"],
    ("rds", "modify_db_cluster_snapshot_attribute"): ["rds:ModifyDBClusterSnapshotAttribute"],
}
PREFIX = {
    "s3": "s3",
    "s3control": "s3",
    "dynamodb": "dynamodb",
    "events": "events",
    "ec2": "ec2",
    "cloudtrail": "cloudtrail",
    "sts": "sts",
    "kms": "kms",
    "sqs": "sqs",
    "sns": "sns",
    "ecr": "ecr",
    "secretsmanager": "secretsmanager",
    "iam": "iam",
    "lambda": "lambda",
    "rds": "rds",
    "guardduty": "guardduty",
    "config": "config",
}
# Used by Lambda with the function's role, not by the code.
LAMBDA_SERVICE = {
    "sqs:ReceiveMessage": "SQS event source mapping",
    "sqs:DeleteMessage": "SQS event source mapping",
    "sqs:GetQueueAttributes": "SQS event source mapping",
    "sqs:SendMessage": "on-failure destination",
}
# Grants that no SDK call of the code accounts for. Each is accepted only in exactly this form:
# its action alone in a statement that sits in an Fn::If on the named condition (so nothing is
# granted while the parameter is empty), on exactly this resource, with exactly this condition.
CONDITIONAL_GRANTS = {
    "IngestFunction": {
        # SSE-KMS log files: S3 decrypts them with the trail's key on the function's behalf.
        "kms:Decrypt": {
            "if": "TrailLogsEncrypted",
            "Resource": {"Ref": "TrailKmsKeyArn"},
            "Condition": {"StringEquals": {"kms:ViaService": {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}}},
        },
    },
    "BackfillFunction": {
        # The same SSE-KMS log files, read by the backfill worker.
        "kms:Decrypt": {
            "if": "TrailLogsEncrypted",
            "Resource": {"Ref": "TrailKmsKeyArn"},
            "Condition": {"StringEquals": {"kms:ViaService": {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}}},
        },
    },
    "RemediateFunction": {
        # Remediation in other accounts: the role of member-role.yaml, by its configured name.
        "sts:AssumeRole": {
            "if": "MemberRoleGiven",
            "Resource": {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}"},
            "Condition": None,
        },
    },
}
CLIENTS = "|".join(sorted((k for k in PREFIX), key=len, reverse=True))
CALL = re.compile(rf"self\s*\.\s*(client|{CLIENTS})\s*\.\s*([a-z][a-z0-9_]*)\s*\(\s*\)", re.S)


def pascal(name):
    return "".join(p.capitalize() for p in name.split("_"))


def modules_used(function_dir):
    main = (ROOT / function_dir / "src" / "main.rs").read_text()
    mods = set(re.findall(r"trailsight_aws::\{?([^;]*)", main))
    found = set()
    for chunk in mods:
        found.update(m for m in re.findall(rf"\b{MODULES}::", chunk + "::") if m)
        found.update(m for m in re.findall(rf"\b{MODULES}\b", chunk))
    return found


def code_actions(function_dir):
    actions = {}
    for module in sorted(modules_used(function_dir)):
        for path in module_files(module):
            collect(actions, module, path)
    return actions


def module_files(module):
    """The files of one trailsight-aws module: `name.rs`, or every file under `name/`."""
    src = ROOT / "shared" / "aws" / "src"
    single = src / f"{module}.rs"
    files = [single] if single.exists() else sorted((src / module).rglob("*.rs"))
    if not files:
        raise SystemExit(f"check_iam: no source for trailsight_aws::{module} under {src}")
    return files


def collect(actions, module, path):
    """Adds the IAM actions of every SDK call in `path` (a file of `module`) to `actions`."""
    for client, op in CALL.findall(path.read_text()):
        service = MODULE_CLIENT.get(module) if client == "client" else client
        if service is None:
            raise SystemExit(f"check_iam: cannot tell which service self.client is in {path}")
        for action in SPECIAL.get((service, op), [f"{PREFIX[service]}:{pascal(op)}"]):
            actions.setdefault(action, f"{path.relative_to(ROOT)}: {op}()")


def statements(policies):
    """Yields (statement, condition) for every statement of the inline policies: condition is the
    name of the Fn::If a statement sits in ("!name" for its else branch), or None."""
    for policy in policies or []:
        if not isinstance(policy, dict):
            continue  # SAM policy templates by name are not used here
        for st in policy.get("Statement", []):
            if isinstance(st, dict) and "Fn::If" in st:
                name, then, other = st["Fn::If"]
                for branch, cond in ((then, name), (other, f"!{name}")):
                    if isinstance(branch, dict) and branch != {"Ref": "AWS::NoValue"}:
                        yield branch, cond
            elif isinstance(st, dict):
                yield st, None


def as_list(value):
    return [value] if isinstance(value, str) else list(value)


def conditional_problem(logical_id, action, st, cond):
    """Why `st` (inside the Fn::If `cond`) is not the declared form of `action`, or None."""
    spec = CONDITIONAL_GRANTS[logical_id][action]
    if cond != spec["if"]:
        return f"{action} must be granted only inside Fn::If {spec['if']}"
    if as_list(st.get("Action", [])) != [action]:
        return f"{action} must be alone in its statement"
    if st.get("Resource") != spec["Resource"]:
        return f"{action} must be granted on {spec['Resource']} only, not {st.get('Resource')}"
    if st.get("Condition") != spec["Condition"]:
        return f"{action} must carry the condition {spec['Condition']}, not {st.get('Condition')}"
    if "NotAction" in st or "NotResource" in st:
        return f"{action} must not be granted with NotAction or NotResource"
    return None


def template_actions(template, logical_id):
    """The actions the function's policies allow, the conditional grants accepted in their
    declared form, and the problems of conditional grants in any other form."""
    props = template["Resources"][logical_id]["Properties"]
    actions, accepted, problems = set(), set(), []
    conditional = CONDITIONAL_GRANTS.get(logical_id, {})
    for st, cond in statements(props.get("Policies")):
        if st.get("Effect") != "Allow":
            continue
        for action in as_list(st.get("Action", [])):
            if action in conditional:
                why = conditional_problem(logical_id, action, st, cond)
                if why:
                    problems.append(f"{logical_id}: {why}")
                else:
                    accepted.add(action)
            else:
                actions.add(action)
    return actions, accepted, problems


def check(template):
    problems = []
    for logical_id, function_dir in FUNCTIONS.items():
        granted, accepted, grant_problems = template_actions(template, logical_id)
        problems.extend(grant_problems)
        used = code_actions(function_dir)
        for action in sorted(granted):
            if "*" in action:
                problems.append(f"{logical_id}: wildcard action {action}")
        for action, where in sorted(used.items()):
            if action not in granted and action not in accepted:
                problems.append(f"{logical_id}: code calls {where} but the template does not grant {action}")
        for action in sorted(granted - set(used) - set(LAMBDA_SERVICE)):
            problems.append(f"{logical_id}: template grants {action}, which the code never calls")
    return problems


def load(path):
    template, matches = decode(str(path))
    if matches:
        raise SystemExit(f"check_iam: cannot read {path}: {matches}")
    return template


def policy_statements(template, logical_id):
    """The function's raw statement list (statements in an Fn::If stay wrapped)."""
    return template["Resources"][logical_id]["Properties"]["Policies"][0]["Statement"]


def wrapped(template, logical_id, sid):
    """The Fn::If wrapper around the statement `sid` and the statement itself."""
    for st in policy_statements(template, logical_id):
        if isinstance(st, dict) and "Fn::If" in st and st["Fn::If"][1].get("Sid") == sid:
            return st, st["Fn::If"][1]
    raise AssertionError(f"{logical_id} has no conditional statement {sid}")


def caught(template, needle):
    return any(needle in p for p in check(template))


def self_test(template):
    # Given the real template, when one needed action is removed, then the check must fail.
    broken = copy.deepcopy(template)
    for st, _ in statements(broken["Resources"]["RemediateFunction"]["Properties"]["Policies"]):
        if "ec2:RevokeSecurityGroupIngress" in st.get("Action", []):
            st["Action"] = [a for a in st["Action"] if a != "ec2:RevokeSecurityGroupIngress"]
    missing = check(broken)
    assert any("RevokeSecurityGroupIngress" in p for p in missing), missing
    # And when an unused action is added, the check must fail too.
    extra = copy.deepcopy(template)
    first, _ = next(statements(extra["Resources"]["IngestFunction"]["Properties"]["Policies"]))
    first["Action"] = list(first["Action"]) + ["dynamodb:DeleteTable"]
    assert caught(extra, "DeleteTable"), "an extra action went unnoticed"
    # The conditional grants of the real template are accepted as declared...
    real = check(template)
    for grants in CONDITIONAL_GRANTS.values():
        for action in grants:
            assert not any(action in p for p in real), real
    # ...and refused in any other form: on every key, without kms:ViaService, unconditionally,
    # with another action beside it, on every role, or in a function not declared for it.
    for mutate, needle in [
        (lambda t: wrapped(t, "IngestFunction", "DecryptLogFiles")[1].update(Resource="*"), "kms:Decrypt"),
        (lambda t: wrapped(t, "IngestFunction", "DecryptLogFiles")[1].pop("Condition"), "kms:Decrypt"),
        (lambda t: wrapped(t, "IngestFunction", "DecryptLogFiles")[1].update(Action=["kms:Decrypt", "kms:Encrypt"]), "kms:Decrypt"),
        (unwrap_decrypt, "kms:Decrypt"),
        (lambda t: wrapped(t, "RemediateFunction", "AssumeMemberRole")[1].update(Resource="*"), "sts:AssumeRole"),
        (lambda t: wrapped(t, "RemediateFunction", "AssumeMemberRole")[0]["Fn::If"].__setitem__(0, "RemediationOn"), "sts:AssumeRole"),
        (decrypt_in_remediation, "RemediateFunction: template grants kms:Decrypt"),
    ]:
        bad = copy.deepcopy(template)
        mutate(bad)
        assert caught(bad, needle), f"a changed conditional grant went unnoticed ({needle})"
    print("check_iam: self-test ok (missing, extra and malformed conditional grants are caught)")


def unwrap_decrypt(template):
    """The kms:Decrypt statement granted whether or not a key is given."""
    statements_ = policy_statements(template, "IngestFunction")
    wrapper, st = wrapped(template, "IngestFunction", "DecryptLogFiles")
    statements_[statements_.index(wrapper)] = st


def decrypt_in_remediation(template):
    _, st = wrapped(template, "IngestFunction", "DecryptLogFiles")
    policy_statements(template, "RemediateFunction").append(copy.deepcopy(st))


def main(argv):
    path = ROOT / "template.yaml"
    args = [a for a in argv if not a.startswith("--")]
    if args:
        path = pathlib.Path(args[0])
    template = load(path)
    if "--self-test" in argv:
        self_test(template)
    problems = check(template)
    for p in problems:
        print(f"check_iam: {p}")
    if problems:
        return 1
    for logical_id, function_dir in FUNCTIONS.items():
        print(f"check_iam: {logical_id}: {len(code_actions(function_dir))} SDK actions, all granted, nothing extra")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
