#!/usr/bin/env python3
"""Checks the SAM template's IAM against the code, both ways.

For each function, the AWS SDK operations its code calls are found in the source of the
trailsight-aws modules its main.rs uses (calls on `self.client`, `self.s3`, ... clients), and
mapped to IAM actions. The template must grant every one of them, no wildcard action, and no
action the code does not use, except the few that Lambda itself uses with the function's role
(reading the SQS event source, sending to the on-failure destination).

Usage: check_iam.py [template.yaml]        exit 1 and print the differences on a mismatch
       check_iam.py --self-test             shows the check fails on a missing or extra action
"""
import copy
import pathlib
import re
import sys

from cfnlint.decode import decode

ROOT = pathlib.Path(__file__).resolve().parents[2]
FUNCTIONS = {"IngestFunction": "functions/ingest", "RemediateFunction": "functions/remediate"}
# The client each module calls through `self.client`.
MODULE_CLIENT = {"dynamo": "dynamodb", "eventbridge": "events", "s3": "s3"}
# Operations whose IAM action is not `service:PascalCaseName`.
SPECIAL = {
    ("s3", "get_public_access_block"): ["s3:GetBucketPublicAccessBlock"],
    ("s3", "put_public_access_block"): ["s3:PutBucketPublicAccessBlock"],
    ("s3control", "get_public_access_block"): ["s3:GetAccountPublicAccessBlock"],
    ("s3control", "put_public_access_block"): ["s3:PutAccountPublicAccessBlock"],
    # A transaction is authorised per item: the store's transactions only put items.
    ("dynamodb", "transact_write_items"): ["dynamodb:PutItem"],
}
PREFIX = {"s3": "s3", "s3control": "s3", "dynamodb": "dynamodb", "events": "events", "ec2": "ec2", "cloudtrail": "cloudtrail"}
# Used by Lambda with the function's role, not by the code.
LAMBDA_SERVICE = {
    "sqs:ReceiveMessage": "SQS event source mapping",
    "sqs:DeleteMessage": "SQS event source mapping",
    "sqs:GetQueueAttributes": "SQS event source mapping",
    "sqs:SendMessage": "on-failure destination",
}
CALL = re.compile(r"self\s*\.\s*(client|s3control|s3|ec2|cloudtrail)\s*\.\s*([a-z][a-z0-9_]*)\s*\(\s*\)", re.S)


def pascal(name):
    return "".join(p.capitalize() for p in name.split("_"))


def modules_used(function_dir):
    main = (ROOT / function_dir / "src" / "main.rs").read_text()
    mods = set(re.findall(r"trailsight_aws::\{?([^;]*)", main))
    found = set()
    for chunk in mods:
        found.update(m for m in re.findall(r"\b(admin|dynamo|eventbridge|s3)::", chunk + "::") if m)
        found.update(m for m in re.findall(r"\b(admin|dynamo|eventbridge|s3)\b", chunk))
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
    for policy in policies or []:
        if not isinstance(policy, dict):
            continue  # SAM policy templates by name are not used here
        for st in policy.get("Statement", []):
            if isinstance(st, dict) and "Fn::If" in st:
                st = st["Fn::If"][1]
            if isinstance(st, dict):
                yield st


def template_actions(template, logical_id):
    props = template["Resources"][logical_id]["Properties"]
    actions = set()
    for st in statements(props.get("Policies")):
        if st.get("Effect") != "Allow":
            continue
        acts = st.get("Action", [])
        actions.update([acts] if isinstance(acts, str) else acts)
    return actions


def check(template):
    problems = []
    for logical_id, function_dir in FUNCTIONS.items():
        granted = template_actions(template, logical_id)
        used = code_actions(function_dir)
        for action in sorted(granted):
            if "*" in action:
                problems.append(f"{logical_id}: wildcard action {action}")
        for action, where in sorted(used.items()):
            if action not in granted:
                problems.append(f"{logical_id}: code calls {where} but the template does not grant {action}")
        for action in sorted(granted - set(used) - set(LAMBDA_SERVICE)):
            problems.append(f"{logical_id}: template grants {action}, which the code never calls")
    return problems


def load(path):
    template, matches = decode(str(path))
    if matches:
        raise SystemExit(f"check_iam: cannot read {path}: {matches}")
    return template


def self_test(template):
    # Given the real template, when one needed action is removed, then the check must fail.
    broken = copy.deepcopy(template)
    for st in statements(broken["Resources"]["RemediateFunction"]["Properties"]["Policies"]):
        if "ec2:RevokeSecurityGroupIngress" in st.get("Action", []):
            st["Action"] = [a for a in st["Action"] if a != "ec2:RevokeSecurityGroupIngress"]
    missing = check(broken)
    assert any("RevokeSecurityGroupIngress" in p for p in missing), missing
    # And when an unused action is added, the check must fail too.
    extra = copy.deepcopy(template)
    first = next(statements(extra["Resources"]["IngestFunction"]["Properties"]["Policies"]))
    first["Action"] = list(first["Action"]) + ["dynamodb:DeleteTable"]
    assert any("DeleteTable" in p for p in check(extra)), "an extra action went unnoticed"
    print("check_iam: self-test ok (missing and extra actions are caught)")


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
