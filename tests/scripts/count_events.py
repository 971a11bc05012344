#!/usr/bin/env python3
"""Independent count of CloudTrail records per API, by a different route than trailsight's.

Reads every *.json.gz / *.json CloudTrail log file under the given paths with Python's own
gzip and json modules, de-duplicates records by eventID, and prints one JSON object:
{"records": N, "duplicates": N, "apis": {"account|region|eventSource|eventName": [calls, errors]}}.
Account falls back from recipientAccountId to userIdentity.accountId to the file name; region
from awsRegion to the file name. Used by the replay integration test to cross-check counts.
"""
import gzip
import json
import os
import re
import sys

NAME = re.compile(r"^(\d{12})_CloudTrail_([a-z0-9-]+)_\d{8}T\d{4}Z_[^_]+\.json(\.gz)?$")


def files(paths):
    for p in paths:
        if os.path.isfile(p):
            yield p
            continue
        for root, _, names in os.walk(p):
            for n in sorted(names):
                yield os.path.join(root, n)


def main(paths):
    seen = set()
    apis = {}
    records = duplicates = 0
    for path in files(paths):
        m = NAME.match(os.path.basename(path))
        if not m:
            continue
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            doc = json.load(f)
        for r in doc["Records"]:
            eid = r.get("eventID")
            if eid is not None:
                if eid in seen:
                    duplicates += 1
                    continue
                seen.add(eid)
            records += 1
            ident = r.get("userIdentity") or {}
            account = r.get("recipientAccountId") or ident.get("accountId") or m.group(1)
            region = r.get("awsRegion") or m.group(2)
            key = "|".join([account, region, r["eventSource"], r["eventName"]])
            calls, errors = apis.get(key, (0, 0))
            apis[key] = (calls + 1, errors + (1 if r.get("errorCode") else 0))
    json.dump({"records": records, "duplicates": duplicates, "apis": apis}, sys.stdout, sort_keys=True)
    print()


if __name__ == "__main__":
    main(sys.argv[1:] or ["."])
