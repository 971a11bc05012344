#!/usr/bin/env python3
"""The stack's EventBridge schema registry entries, generated from schemas/*.json.

EventBridge schema registries accept OpenAPI 3 or JSON Schema draft 4, and a schema there
describes the whole event: this wraps each detail schema (draft 2020-12, in schemas/) in an
event envelope and writes it as draft 4 (`const` becomes a one-value `enum`).

  python3 scripts/event_schemas.py --write   # update template.yaml between the markers
  python3 scripts/event_schemas.py --check   # exit 1 when template.yaml is out of date
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
BEGIN = "  # BEGIN generated event schemas (scripts/event_schemas.py --write)\n"
END = "  # END generated event schemas\n"
SCHEMAS = [
    ("InsightEventSchema", "insight", "AWS Insight via CloudTrail", "trailsight@AWSInsightViaCloudTrail"),
    ("RiskyChangeEventSchema", "risky-change", "Trailsight Risky Change", "trailsight@TrailsightRiskyChange"),
    ("RemediationEventSchema", "remediation", "Trailsight Remediation", "trailsight@TrailsightRemediation"),
]


def draft4(node):
    """A draft 2020-12 schema node as draft 4."""
    if isinstance(node, list):
        return [draft4(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        if k in ("$schema", "$id"):
            continue
        if k == "const":
            out["enum"] = [v]
        else:
            out[k] = draft4(v)
    return out


def event_schema(name, detail_type):
    detail = json.loads((ROOT / "schemas" / f"{name}.schema.json").read_text())
    return {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": detail_type,
        "description": f"An EventBridge event from source trailsight with detail-type {detail_type}.",
        "type": "object",
        "required": ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"],
        "properties": {
            "version": {"type": "string", "description": "Always 0."},
            "id": {"type": "string", "description": "The event id (deterministic for one finding)."},
            "detail-type": {"enum": [detail_type], "description": "The kind of event."},
            "source": {"enum": ["trailsight"], "description": "Always trailsight."},
            "account": {"type": "string", "description": "The account the event is about."},
            "time": {"type": "string", "description": "When it happened (RFC 3339)."},
            "region": {"type": "string", "description": "The region it is about."},
            "resources": {"type": "array", "items": {"type": "string"}, "description": "ARNs of the resources involved."},
            "detail": draft4(detail),
        },
    }


def generated():
    out = [BEGIN]
    out.append("  EventSchemaRegistry:\n")
    out.append("    Type: AWS::EventSchemas::Registry\n")
    out.append("    Properties:\n")
    out.append("      RegistryName: !Sub trailsight-${AWS::StackName}\n")
    out.append("      Description: The events trailsight emits (source trailsight), for code bindings.\n")
    for logical, name, detail_type, schema_name in SCHEMAS:
        content = json.dumps(event_schema(name, detail_type), separators=(",", ":"), sort_keys=True)
        out.append(f"\n  {logical}:\n")
        out.append("    Type: AWS::EventSchemas::Schema\n")
        out.append("    Properties:\n")
        out.append("      RegistryName: !GetAtt EventSchemaRegistry.RegistryName\n")
        out.append(f"      SchemaName: {schema_name}\n")
        out.append("      Type: JSONSchemaDraft4\n")
        out.append(f"      Description: The {detail_type} event (generated from schemas/{name}.schema.json).\n")
        out.append("      Content: |\n")
        out.append(f"        {content}\n")
    out.append(END)
    return "".join(out)


def main():
    path = ROOT / "template.yaml"
    text = path.read_text()
    if BEGIN not in text or END not in text:
        sys.exit(f"{path}: the generated event schema markers are missing")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    want = head + generated() + tail
    if "--write" in sys.argv:
        path.write_text(want)
        return
    if want != text:
        sys.exit("template.yaml's event schemas differ from schemas/*.json: run python3 scripts/event_schemas.py --write")
    print("event schemas: template.yaml matches schemas/*.json")


if __name__ == "__main__":
    main()
