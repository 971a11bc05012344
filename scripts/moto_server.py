"""The moto server, with its DynamoDB requests handled one at a time.

moto runs TransactWriteItems by deep-copying the table, applying the items, and putting the
copy back if a condition fails; a write that another request thread made meanwhile is then
lost (real DynamoDB isolates transactions per item). The ingest tests deliver the same file
from two invocations at once, so DynamoDB requests are serialised here; other services (SQS
long polls) stay concurrent. Arguments are moto_server's.
"""
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.server import main

_DYNAMODB = threading.Lock()
_dispatch = DomainDispatcherApplication.__call__


def _serialised(self, environ, start_response):
    if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
        with _DYNAMODB:
            return _dispatch(self, environ, start_response)
    return _dispatch(self, environ, start_response)


DomainDispatcherApplication.__call__ = _serialised

if __name__ == "__main__":
    main()
