"""Real benchmark rows for tests."""


def hotpot_rows(data_dir, n):
    import json

    rows = []
    with open(data_dir / "hotpotqa_ircot500" / "dev.jsonl", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            rows.append((r["question_text"], [{"title": c["title"], "text": c["paragraph_text"]} for c in r["contexts"]]))
            if len(rows) == n:
                break
    return rows


def write_jsonl(path, rows):
    """Write ``rows`` (dicts, or raw strings written as-is) one per line; returns ``path``."""
    import json

    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
    return path
