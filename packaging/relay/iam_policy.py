"""Generate the relay's least-privilege IAM policies from `app.relay.tables.SPECS`.

    python packaging/relay/iam_policy.py            # runtime policy (task role)
    python packaging/relay/iam_policy.py --admin    # init-tables / admin CLI policy

The checked-in `iam-policy.json` / `iam-policy-admin.json` are this script's
output for the PROD prefix with `${AWS_REGION}` / `${AWS_ACCOUNT_ID}`
placeholders; a test fails when they drift from the table specs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.relay import tables as t

#: Item-level actions the relay process performs at run time (no table management).
DATA_ACTIONS = [
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
]
#: Tables read in full: `/Admin/bulk` with a filter (LeadStates), `admin migrate-keys`,
#: and the open conversations (the reconcile and the idle close).
SCAN_TABLES = {t.LEAD_STATES, t.API_KEYS, t.CONVERSATIONS}
#: (Nexus's Secrets Manager secret is read with its own keys, NEXUS_AUTH_AWS_*, not
#: the task role.)
#: `/healthz` describes the API keys table to prove DynamoDB is reachable.
DESCRIBE_TABLES = {t.API_KEYS}
ADMIN_ACTIONS = [
    "dynamodb:CreateTable",
    "dynamodb:DescribeTable",
    "dynamodb:DescribeTimeToLive",
    "dynamodb:UpdateTable",  # init-tables adds an index a newer release needs
    "dynamodb:UpdateTimeToLive",
]


def _arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:dynamodb:{region}:{account}:table/{name}"


def runtime_policy(prefix: str, region: str, account: str) -> dict[str, Any]:
    tables = [t.table_name(prefix, s.suffix) for s in t.SPECS]
    indexed = [t.table_name(prefix, s.suffix) for s in t.SPECS if s.indexes]
    statements: list[dict[str, Any]] = [
        {
            "Sid": "RelayItems",
            "Effect": "Allow",
            "Action": DATA_ACTIONS,
            "Resource": [_arn(region, account, n) for n in tables],
        },
        {
            "Sid": "RelayIndexQueries",
            "Effect": "Allow",
            "Action": ["dynamodb:Query"],
            "Resource": [_arn(region, account, n) + "/index/*" for n in indexed],
        },
        {
            "Sid": "RelayScans",
            "Effect": "Allow",
            "Action": ["dynamodb:Scan"],
            "Resource": [
                _arn(region, account, t.table_name(prefix, s)) for s in sorted(SCAN_TABLES)
            ],
        },
        {
            "Sid": "RelayHealthCheck",
            "Effect": "Allow",
            "Action": ["dynamodb:DescribeTable"],
            "Resource": [
                _arn(region, account, t.table_name(prefix, s)) for s in sorted(DESCRIBE_TABLES)
            ],
        },
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def admin_policy(prefix: str, region: str, account: str) -> dict[str, Any]:
    policy = runtime_policy(prefix, region, account)
    tables = [t.table_name(prefix, s.suffix) for s in t.SPECS]
    policy["Statement"].append(
        {
            "Sid": "RelayTableManagement",
            "Effect": "Allow",
            "Action": ADMIN_ACTIONS,
            "Resource": [_arn(region, account, n) for n in tables],
        }
    )
    # init-tables lists the account's tables to find the missing ones.
    policy["Statement"].append(
        {"Sid": "ListTables", "Effect": "Allow", "Action": ["dynamodb:ListTables"], "Resource": "*"}
    )
    return policy


def render(policy: dict[str, Any]) -> str:
    return json.dumps(policy, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", default="PROD")
    parser.add_argument("--region", default="${AWS_REGION}")
    parser.add_argument("--account", default="${AWS_ACCOUNT_ID}")
    parser.add_argument("--admin", action="store_true", help="add table management (init-tables)")
    args = parser.parse_args(argv)
    make = admin_policy if args.admin else runtime_policy
    sys.stdout.write(render(make(args.prefix, args.region, args.account)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
