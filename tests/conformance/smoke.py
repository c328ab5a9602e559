"""Drives a running Kaifang through a client generated, unedited, from openapi/openapi.json.

Usage: smoke.py CLIENT_PARENT_DIR BASE_URL ADMIN_TOKEN USER_TOKEN
Fails (exit 1) on the first answer that is not what a client of the spec expects.
"""

import sys

sys.path.insert(0, sys.argv[1])

from client import AuthenticatedClient, Client  # noqa: E402
from client.api.access import create_access_request  # noqa: E402
from client.api.audit import list_audit_records  # noqa: E402
from client.api.catalog import get_dataset, list_datasets  # noqa: E402
from client.api.data import export_rows, query_dataset, query_rows  # noqa: E402
from client.api.policy import add_policy_rules, remove_policy_rules  # noqa: E402
from client.models import (  # noqa: E402
    Aggregate,
    AggregateFn,
    AuditPage,
    DatasetDetail,
    DatasetList,
    Direction,
    ExportRowsFormat,
    ExprEq,
    ExprEqOp,
    NewAccessRequest,
    OrderItem,
    QueryBody,
    RevisionInfo,
    RowsPage,
    RuleAllow,
    RuleAllowKind,
    RuleEdit,
)

base, admin_token, user_token = sys.argv[2], sys.argv[3], sys.argv[4]
anonymous = Client(base_url=base)
admin = AuthenticatedClient(base_url=base, token=admin_token)
user = AuthenticatedClient(base_url=base, token=user_token)
FLIGHTS = "nyc-flights-2013"


def expect(response, status, kind, what):
    if response.status_code != status or not isinstance(response.parsed, kind):
        print(f"FAIL {what}: {response.status_code} {response.content[:300]!r}")
        sys.exit(1)
    print(f"ok   {what}")
    return response.parsed


listing = expect(list_datasets.sync_detailed(client=anonymous), 200, DatasetList, "list datasets")
assert listing.total >= 4, listing.total
found = expect(list_datasets.sync_detailed(client=anonymous, q="flights"), 200, DatasetList, "search datasets")
assert any(d.slug == FLIGHTS for d in found.data), [d.slug for d in found.data]

meta = expect(get_dataset.sync_detailed(FLIGHTS, client=anonymous), 200, DatasetDetail, "read metadata")
assert any(c.name == "carrier" for c in meta.columns)

page = expect(
    query_rows.sync_detailed(FLIGHTS, client=anonymous, filter_="carrier = 'UA'", limit=5),
    200,
    RowsPage,
    "query rows with a filter",
)
assert len(page.data) == 5 and all(r["carrier"] == "UA" for r in page.data)

seen, cursor = [], None
for n in range(3):
    kwargs = {"limit": 100, "order": "flight"}
    if cursor:
        kwargs["cursor"] = cursor
    walked = expect(query_rows.sync_detailed(FLIGHTS, client=anonymous, **kwargs), 200, RowsPage, f"page {n + 1} by cursor")
    seen.extend(r["flight"] for r in walked.data)
    cursor = walked.next_cursor
    assert cursor, "a next cursor"
assert len(seen) == 300 and seen == sorted(seen), "three ordered pages"

body = QueryBody(
    filter_=ExprEq(column="carrier", op=ExprEqOp.EQ, value="UA"),
    group_by=["origin"],
    aggregates=[Aggregate(function=AggregateFn.COUNT, as_="flights")],
    order=[OrderItem(column="flights", direction=Direction.DESC)],
)
grouped = expect(query_dataset.sync_detailed(FLIGHTS, client=anonymous, body=body), 200, RowsPage, "aggregate with the typed query")
assert grouped.data and all("flights" in r for r in grouped.data), grouped.data

export = export_rows.sync_detailed(FLIGHTS, client=anonymous, format_=ExportRowsFormat.CSV, select="carrier,flight")
lines = export.content.decode().splitlines()
if export.status_code != 200 or lines[0] != "carrier,flight" or len(lines) < 1000:
    print(f"FAIL export csv: {export.status_code} {lines[:2]}")
    sys.exit(1)
print(f"ok   export csv ({len(lines) - 1} rows)")

asked = create_access_request.sync_detailed(
    "us-census-acs-2012-sample",
    client=user,
    body=NewAccessRequest(purpose="commuting study for the smoke test", duration_days=30, accept_terms=True),
)
expect(asked, 201, type(asked.parsed), "file an access request")
assert asked.parsed.status.value == "pending", asked.parsed

rule = RuleAllow(kind=RuleAllowKind.ALLOW, sub="role:smoke-tester", obj="tier:conditional", act="data:query")
edit = RuleEdit(rules=[rule], reason="smoke test", new_roles=["smoke-tester"])
revision = expect(add_policy_rules.sync_detailed(client=admin, body=edit), 201, RevisionInfo, "add a policy rule as admin")
assert revision.added == 1
expect(remove_policy_rules.sync_detailed(client=admin, body=edit), 200, RevisionInfo, "remove it again")

audit = expect(list_audit_records.sync_detailed(client=admin, limit=50), 200, AuditPage, "read the audit log as admin")
assert audit.data, "audit records"
print("smoke: every step passed")
