#!/usr/bin/env python3
"""Setup and verification for scripts/lambda-e2e.sh, against moto (boto3).

setup DIR:  creates a table, bucket, bus, queue and rule; uploads one CloudTrail log file with
            40 ListUsers calls and one StopLogging; writes DIR/env and DIR/event.json (an S3
            notification wrapped in SQS, key URL-encoded).
verify DIR: checks DIR/response.json has no batch item failures, the ledger entry is done,
            the ListUsers counts are exact, and the queue received the risky-change event.
"""
import gzip
import json
import os
import sys
import time
import urllib.parse
import zlib

import boto3

ENDPOINT = os.environ["TRAILSIGHT_MOTO_ENDPOINT"]
KW = dict(endpoint_url=ENDPOINT, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
TAG = f"e2e{os.getpid()}"
KEY = ("trail logs/AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/02/"
       "111122223333_CloudTrail_us-east-1_20240102T0005Z_e2eAAAAAAAAAAAAA.json.gz")


def record(i, name="ListUsers", source="iam.amazonaws.com", params=None):
    return {"eventVersion": "1.09", "eventTime": "2024-01-02T00:01:30Z", "eventSource": source,
            "eventName": name, "awsRegion": "us-east-1", "recipientAccountId": "111122223333",
            "eventID": f"e2e-{name}-{i}", "sourceIPAddress": "198.51.100.1", "userAgent": "aws-cli/2",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/ops", "accountId": "111122223333"},
            "requestParameters": params, "eventType": "AwsApiCall", "readOnly": name == "ListUsers"}


def setup(work):
    s3, ddb, ev, sqs = (boto3.client(s, **KW) for s in ("s3", "dynamodb", "events", "sqs"))
    table, bucket, bus = f"{TAG}-table", f"{TAG}-logs", f"{TAG}-bus"
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}])
    s3.create_bucket(Bucket=bucket)
    ev.create_event_bus(Name=bus)
    q = sqs.create_queue(QueueName=f"{TAG}-q")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    ev.put_rule(Name="risky", EventBusName=bus, EventPattern=json.dumps({"source": ["trailsight"], "detail-type": ["Trailsight Risky Change"]}))
    ev.put_targets(Rule="risky", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    records = [record(i) for i in range(40)]
    records.append(record(0, "StopLogging", "cloudtrail.amazonaws.com", {"name": "main"}))
    s3.put_object(Bucket=bucket, Key=KEY, Body=gzip.compress(json.dumps({"Records": records}).encode()))
    notification = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "awsRegion": "us-east-1",
                                 "s3": {"bucket": {"name": bucket}, "object": {"key": urllib.parse.quote_plus(KEY, safe="/"), "size": 1}}}]}
    event = {"Records": [{"messageId": "m-1", "receiptHandle": "r", "body": json.dumps(notification), "eventSource": "aws:sqs",
                          "eventSourceARN": "arn:aws:sqs:us-east-1:111122223333:ingest", "awsRegion": "us-east-1", "attributes": {}, "messageAttributes": {}}]}
    with open(os.path.join(work, "event.json"), "w") as f:
        json.dump(event, f)
    with open(os.path.join(work, "env"), "w") as f:
        f.write(f"TABLE_NAME={table}\nEVENT_BUS_NAME={bus}\nQUEUE_URL={q}\nBUCKET={bucket}\n")


def journal_calls(items, source, name):
    """Calls of one API per slot, from the journal entries (`J#{seq}#D{part}` items: deflated
    JSON, parts joined in order) that the ingest function committed."""
    parts = {}
    for i in items:
        sk = i["sk"]["S"]
        if sk.startswith("J#") and sk.split("#")[2].startswith("D"):
            parts.setdefault((i["pk"]["S"], sk.split("#")[1]), []).append((sk, bytes(i["data"]["B"])))
    for chunks in parts.values():
        entry = json.loads(zlib.decompress(b"".join(d for _, d in sorted(chunks)), -15))
        apis = [tuple(a) for a in entry["apis"]]
        for slot in entry["slots"]:
            if apis[slot["api"]] == (source, name):
                yield slot["calls"]


def verify(work):
    env = dict(line.strip().split("=", 1) for line in open(os.path.join(work, "env")) if "=" in line)
    response = json.load(open(os.path.join(work, "response.json")))
    assert response == {"batchItemFailures": []}, f"unexpected response {response}"
    ddb, sqs = boto3.client("dynamodb", **KW), boto3.client("sqs", **KW)
    items = ddb.scan(TableName=env["TABLE_NAME"])["Items"]
    ledger = [i for i in items if i["sk"]["S"] == "LEDGER"]
    assert len(ledger) == 1 and ledger[0]["status"]["S"] == "done", f"ledger: {ledger}"
    calls = sum(journal_calls(items, "iam.amazonaws.com", "ListUsers"))
    assert calls == 40, f"ListUsers calls {calls}, expected 40"
    got = []
    deadline = time.time() + 10
    while not got and time.time() < deadline:
        got = sqs.receive_message(QueueUrl=env["QUEUE_URL"], WaitTimeSeconds=1).get("Messages", [])
    assert got, "no risky-change event reached the rule's queue"
    body = json.loads(got[0]["Body"])
    assert body["detail"]["rule"] == "cloudtrail-logging-stopped", body
    print(f"lambda-e2e: DynamoDB ledger done, 40 calls counted, event {body['detail']['eventID']} delivered")


if __name__ == "__main__":
    {"setup": setup, "verify": verify}[sys.argv[1]](sys.argv[2])
