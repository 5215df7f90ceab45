"""A Salesforce emulator: OAuth refresh, SOQL with nextRecordsUrl paging, getDeleted.

Records are shaped like the recorded SOQL sample (``attributes.type/url``, ``Id``,
``SystemModstamp`` as ``2026-05-01T07:25:37.000+0000``). Access tokens expire after a
number of requests and then answer ``401 INVALID_SESSION_ID``, as a real org's session
does, so refresh mid-sync is exercised. Unknown columns answer ``400 INVALID_FIELD``.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from emulators.http_server import EmulatorServer, Reply, Request

__all__ = ["SalesforceEmulator", "generate_org", "sf_time"]

_SOQL = re.compile(
    r"^SELECT (.+) FROM (\w+) WHERE SystemModstamp >= (\S+) ORDER BY SystemModstamp ASC$"
)


def sf_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


class SalesforceEmulator(EmulatorServer):
    def __init__(
        self,
        records: dict[str, list[dict[str, Any]]],
        *,
        client_id: str = "cid",
        client_secret: str = "csecret",
        refresh_token: str = "rtoken",
        version: str = "59.0",
        token_ttl_requests: int = 1000,
        batch_size: int = 2000,
    ) -> None:
        self.records = records
        self.deleted: dict[str, list[dict[str, Any]]] = {}
        self.client_id, self.client_secret, self.refresh_token = (
            client_id,
            client_secret,
            refresh_token,
        )
        self.version, self.token_ttl_requests, self.batch_size = (
            version,
            token_ttl_requests,
            batch_size,
        )
        self.access_token: str | None = None
        self.uses_left = 0
        self.refreshes = 0
        self.replication_lag = timedelta(0)  # how far getDeleted's coverage trails the clock
        self.cursors: dict[str, tuple[list[dict[str, Any]], int]] = {}
        super().__init__({}, fallback=self._serve)

    def _serve(self, request: Request) -> Reply:
        if request.path == "/services/oauth2/token":
            return self._token(request)
        header = request.headers.get("Authorization", "")
        if not self.access_token or header != f"Bearer {self.access_token}" or self.uses_left <= 0:
            return Reply(
                401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
            )
        self.uses_left -= 1
        base = f"/services/data/v{self.version}"
        if request.path == f"{base}/query":
            return self._query(request.query.get("q", ""))
        if request.path.startswith(f"{base}/query/"):
            return self._more(request.path.rsplit("/", 1)[1])
        if request.path == f"{base}/limits":
            return Reply(200, {"DailyApiRequests": {"Max": 15000, "Remaining": 14000}})
        match = re.fullmatch(rf"{base}/sobjects/(\w+)/deleted/", request.path)
        if match:
            return self._get_deleted(match.group(1), request.query)
        return Reply(
            404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]
        )

    def _get_deleted(self, sobject: str, query: dict[str, str]) -> Reply:
        """getDeleted: whole minutes only, up to what replication has covered (it lags the
        clock by ``replication_lag``), and nothing from before the last 30 days."""
        start = datetime.fromisoformat(query["start"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(query["end"].replace("Z", "+00:00"))
        now = datetime.now(UTC)
        earliest = (now - timedelta(days=30)).replace(second=0, microsecond=0)
        if start < earliest:
            return Reply(
                400,
                [
                    {
                        "errorCode": "INVALID_REPLICATION_DATE",
                        "message": "startDate cannot be more than 30 days ago",
                    }
                ],
            )
        covered = min(end, now - self.replication_lag).replace(second=0, microsecond=0)
        rows = [
            d
            for d in self.deleted.get(sobject, [])
            if start <= datetime.fromisoformat(d["deletedDate"]) < covered
        ]
        return Reply(
            200,
            {
                "deletedRecords": rows,
                "earliestDateAvailable": sf_time(earliest),
                "latestDateCovered": sf_time(covered),
            },
        )

    def _token(self, request: Request) -> Reply:
        form = {k: v[-1] for k, v in parse_qs(request.body.decode()).items()}
        if (
            form.get("grant_type"),
            form.get("client_id"),
            form.get("client_secret"),
            form.get("refresh_token"),
        ) != ("refresh_token", self.client_id, self.client_secret, self.refresh_token):
            return Reply(
                400, {"error": "invalid_grant", "error_description": "expired access/refresh token"}
            )
        self.access_token = secrets.token_hex(8)
        self.uses_left = self.token_ttl_requests
        self.refreshes += 1
        return Reply(
            200,
            {
                "access_token": self.access_token,
                "instance_url": self.url,
                "token_type": "Bearer",
                "issued_at": "1767225600000",
                "signature": "x",
            },
        )

    def _query(self, soql: str) -> Reply:
        match = _SOQL.match(soql)
        if not match:
            return Reply(
                400, [{"message": f"unexpected token: {soql[:40]}", "errorCode": "MALFORMED_QUERY"}]
            )
        fields, sobject, since_text = match.group(1).split(", "), match.group(2), match.group(3)
        rows = self.records.get(sobject, [])
        known = set().union(*(r.keys() for r in rows)) if rows else set(fields)
        missing = [f for f in fields if f not in known]
        if missing:
            return Reply(
                400,
                [
                    {
                        "message": f"No such column '{missing[0]}' on entity '{sobject}'",
                        "errorCode": "INVALID_FIELD",
                    }
                ],
            )
        since = datetime.fromisoformat(since_text.replace("Z", "+00:00"))
        hits = sorted(
            (r for r in rows if datetime.fromisoformat(r["SystemModstamp"]) >= since),
            key=lambda r: (r["SystemModstamp"], r["Id"]),
        )
        shaped = [
            {
                "attributes": {
                    "type": sobject,
                    "url": f"/services/data/v{self.version}/sobjects/{sobject}/{r['Id']}",
                },
                **{f: r.get(f) for f in fields},
            }
            for r in hits
        ]
        locator = secrets.token_hex(6)
        self.cursors[locator] = (shaped, 0)
        return self._more(f"{locator}-0")

    def _more(self, token: str) -> Reply:
        locator, _, offset_text = token.rpartition("-")
        rows, _ = self.cursors.get(locator, ([], 0))
        offset = int(offset_text)
        batch = rows[offset : offset + self.batch_size]
        done = offset + self.batch_size >= len(rows)
        body: dict[str, Any] = {"totalSize": len(rows), "done": done, "records": batch}
        if not done:
            body["nextRecordsUrl"] = (
                f"/services/data/v{self.version}/query/{locator}-{offset + self.batch_size}"
            )
        return Reply(200, body)

    def delete(self, sobject: str, record_id: str, at: datetime) -> None:
        self.records[sobject] = [r for r in self.records[sobject] if r["Id"] != record_id]
        self.deleted.setdefault(sobject, []).append({"id": record_id, "deletedDate": sf_time(at)})


def generate_org(
    accounts: int, opportunities: int, *, start: datetime | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Accounts with ARR, opportunities walking stages (with OpportunityHistory rows)."""
    start = start or datetime(2026, 3, 2, 9, tzinfo=UTC)
    stages = ["Prospecting", "Qualification", "Proposal/Price Quote", "Closed Won"]
    org: dict[str, list[dict[str, Any]]] = {
        "Account": [],
        "Opportunity": [],
        "OpportunityHistory": [],
        "Case": [],
    }
    for a in range(accounts):
        org["Account"].append(
            {
                "Id": f"001A{a:011d}",
                "Name": f"Account {a}",
                "Website": f"a{a}.example",
                "ARR__c": 10000.0 * (a + 1),
                "CreatedDate": sf_time(start),
                "SystemModstamp": sf_time(start + timedelta(minutes=a)),
            }
        )
    for o in range(opportunities):
        moment = start + timedelta(hours=o)
        walked = stages[: o % 4 + 1]
        for step, stage in enumerate(walked):
            org["OpportunityHistory"].append(
                {
                    "Id": f"008H{o:07d}{step}",
                    "OpportunityId": f"006O{o:011d}",
                    "StageName": stage,
                    "CreatedDate": sf_time(moment + timedelta(days=step)),
                    "SystemModstamp": sf_time(moment + timedelta(days=step)),
                }
            )
        org["Opportunity"].append(
            {
                "Id": f"006O{o:011d}",
                "Name": f"Deal {o}",
                "AccountId": f"001A{o % accounts:011d}",
                "StageName": walked[-1],
                "Amount": 5000 + o,
                "CloseDate": "2026-06-30",
                "IsClosed": walked[-1] == "Closed Won",
                "IsWon": walked[-1] == "Closed Won",
                "Roadmap_Item__c": f"GEN-{o % 10 + 1}; R{o % 3}" if o % 2 == 0 else None,
                "CreatedDate": sf_time(moment),
                "SystemModstamp": sf_time(moment + timedelta(days=len(walked))),
            }
        )
        if o % 5 == 0:
            org["Case"].append(
                {
                    "Id": f"500C{o:011d}",
                    "Subject": f"Problem {o}",
                    "Description": f"Since the upgrade, problem {o} stops our exports.",
                    "Status": "Closed" if o % 10 == 0 else "New",
                    "Priority": "High",
                    "AccountId": f"001A{o % accounts:011d}",
                    "IsClosed": o % 10 == 0,
                    "ClosedDate": sf_time(moment + timedelta(days=3)) if o % 10 == 0 else None,
                    "CreatedDate": sf_time(moment),
                    "SystemModstamp": sf_time(moment + timedelta(days=3)),
                    "Origin": "Web",
                }
            )
    return org
