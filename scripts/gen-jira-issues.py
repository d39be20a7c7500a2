#!/usr/bin/env python3
"""Writes N realistic Jira Cloud issues (about 3 KB each) as JSON lines, deterministically.

usage: scripts/gen-jira-issues.py N [OUT]   (OUT defaults to standard output)
Used by the mapping and resync benchmarks; the shape follows Jira's REST v3 search response.
"""
import json
import random
import sys


def issue(n, rng):
    project = f"PRJ{n % 40}"
    key = f"{project}-{n}"
    statuses = ["To Do", "In Progress", "In Review", "Done", "Blocked"]
    user = lambda i: {
        "self": f"https://example.atlassian.net/rest/api/3/user?accountId=5b10ac8d82e05b22cc7d{i:04d}",
        "accountId": f"5b10ac8d82e05b22cc7d{i:04d}",
        "emailAddress": f"user{i}@example.com",
        "avatarUrls": {s: f"https://avatar.example.com/{i}/{s}.png" for s in ("48x48", "24x24", "16x16", "32x32")},
        "displayName": f"Üser Nümber {i}",
        "active": True,
        "timeZone": "Europe/Berlin",
        "accountType": "atlassian",
    }
    fields = {
        "summary": f"Issue {n}: fix the thing — ünïcode ✓ {rng.randint(0, 10**6)}",
        "status": {"self": "https://example.atlassian.net/rest/api/3/status/3", "name": rng.choice(statuses),
                   "id": str(rng.randint(1, 9)), "statusCategory": {"key": "indeterminate", "name": "In Progress"}},
        "issuetype": {"name": rng.choice(["Bug", "Story", "Task", "Sub-task"]), "subtask": False, "id": "10001"},
        "priority": {"name": rng.choice(["High", "Medium", "Low"]), "id": "3"},
        "labels": rng.sample(["backend", "frontend", "infra", "security", "ux", "tech-debt"], 2),
        "components": [{"name": "api", "id": "10000"}],
        "created": "2024-03-01T10:00:00.000+0000",
        "updated": "2024-03-05T12:30:00.000+0000",
        "resolutiondate": None if n % 3 else "2024-03-06T09:00:00.000+0000",
        "creator": user(n % 97),
        "reporter": user(n % 89),
        "assignee": None if n % 7 == 0 else user(n % 83),
        "project": {"key": project, "name": f"Project {n % 40}", "id": str(10000 + n % 40)},
        "subtasks": [{"key": f"{project}-{n * 10 + i}", "id": str(n * 10 + i)} for i in range(n % 3)],
        "description": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
            {"type": "text", "text": "Steps to reproduce: " + "lorem ipsum dolor sit amet " * 12}]}]},
        "customfield_10020": None,
        "watches": {"watchCount": rng.randint(0, 9), "isWatching": False},
    }
    if n % 5 == 0:
        fields["parent"] = {"key": f"{project}-{max(1, n - 1)}", "id": str(n - 1)}
    return {"expand": "renderedFields,names,schema", "id": str(10000 + n),
            "self": f"https://example.atlassian.net/rest/api/3/issue/{10000 + n}", "key": key, "fields": fields}


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    count = int(sys.argv[1])
    out = open(sys.argv[2], "w", encoding="utf-8") if len(sys.argv) > 2 else sys.stdout
    rng = random.Random(42)
    for n in range(1, count + 1):
        out.write(json.dumps(issue(n, rng), ensure_ascii=False, separators=(",", ":")) + "\n")
    if out is not sys.stdout:
        out.close()


if __name__ == "__main__":
    main()
