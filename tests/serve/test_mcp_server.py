"""``setsel mcp`` over stdio, driven by the MCP SDK's own client: tools listed, `select` on real dev
passages, `search` over a real BM25 index, bad requests as tool errors (the server keeps serving)."""

import asyncio
import sys

import pytest

mcp = pytest.importorskip("mcp")
pytestmark = pytest.mark.timeout(300)


def _call(server_args, calls):
    """Start `setsel mcp ARGS` as a subprocess and run ``calls(client)`` against it."""
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=["-m", "setsel.cli", "mcp", *server_args])

    async def main():
        async with Client(params) as client:
            return await calls(client)

    return asyncio.run(asyncio.wait_for(main(), timeout=240))


def test_select_and_bad_requests_over_stdio(data_dir):
    from setsel.datasets import load_dataset

    [c] = load_dataset("hotpotqa-ircot", data_dir / "hotpotqa_ircot500/dev.jsonl", limit=1)
    passages = [{"id": p.id, "title": p.title, "text": p.text} for p in c.passages]

    async def calls(client):
        tools = await client.list_tools()
        ok = await client.call_tool("select", {"question": c.query.question, "passages": passages})
        capped = await client.call_tool("select", {"question": c.query.question, "passages": passages, "max_passages": 1})
        empty = await client.call_tool("select", {"question": c.query.question, "passages": []})
        dup = await client.call_tool("select", {"question": "q?", "passages": passages[:1] * 2})
        after = await client.call_tool("select", {"question": c.query.question, "passages": passages[:3]})
        return tools, ok, capped, empty, dup, after

    tools, ok, capped, empty, dup, after = _call(["--method", "lexical", "--option", "k=2"], calls)
    assert [t.name for t in tools.tools] == ["select"]  # no index: no search tool
    out = ok.structured_content
    assert not ok.is_error and out["method"] == "lexical" and len(out["selected"]) == 2
    assert [p["id"] for p in out["passages"]] == out["selected"] and set(out["selected"]) <= {p["id"] for p in passages}
    assert len(capped.structured_content["selected"]) == 1
    assert empty.is_error and "passages" in empty.content[0].text
    assert dup.is_error and "unique" in dup.content[0].text
    assert not after.is_error and len(after.structured_content["selected"]) == 2  # still serving


def test_search_over_a_real_index(tmp_path):
    from setsel.cli import main

    idx = tmp_path / "idx"
    assert main(["index", "--dataset", "demo", "--out", str(idx), "--retriever", "bm25", "--no-progress"]) == 0

    async def calls(client):
        tools = await client.list_tools()
        found = await client.call_tool("search", {"question": "Who directed the film?", "k": 5})
        too_many = await client.call_tool("search", {"question": "x", "k": 10_000})
        return tools, found, too_many

    tools, found, too_many = _call(["--method", "topk", "--option", "k=3", "--index", str(idx)], calls)
    assert sorted(t.name for t in tools.tools) == ["search", "select"]
    out = found.structured_content
    assert not found.is_error and len(out["retrieved"]) == 5 and out["selected"] == out["retrieved"][:3]
    assert too_many.is_error and "k=10000 is over the limit of 100" in too_many.content[0].text


def test_readme_mcp_snippet_runs(capsys):
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    snippet = re.search(r"```python\n(import asyncio\nfrom mcp import Client.*?)```", text, re.S).group(1)
    # the README runs the installed `setsel`; here the same CLI through this interpreter
    snippet = snippet.replace('command="setsel", args=["mcp",', 'command=sys.executable, args=["-m", "setsel.cli", "mcp",')
    exec(compile("import sys\n" + snippet, "README.md", "exec"), {})
    selected = eval(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(selected) == 2 and selected[0] == "a"
