"""setsel in LangChain, LlamaIndex and Haystack 2 pipelines: real framework objects, real dev
passages, in-process selectors (the remote path is tested against a live Serve app in
tests/serve/test_serve_app.py)."""

import pytest

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def pools(data_dir):
    from setsel.datasets import load_dataset

    return load_dataset("hotpotqa-ircot", data_dir / "hotpotqa_ircot500/dev.jsonl", limit=3)


def _expected(pool, method="lexical", **options):
    from setsel.selection import get_selector

    return get_selector(method, **options).select([pool])[0].selected_ids


def test_langchain_compressor_in_an_lcel_chain(pools):
    pytest.importorskip("langchain_core")
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.runnables import RunnableLambda

    from setsel.integrations.langchain import SetselCompressor

    pool = pools[0]

    class PoolRetriever(BaseRetriever):  # a real LangChain retriever over the question's own pool
        def _get_relevant_documents(self, query, *, run_manager=None):
            return [Document(page_content=p.text, metadata={"id": p.id, "title": p.title}) for p in pool.passages]

    comp = SetselCompressor.from_selector("lexical", k=2)
    chain = PoolRetriever() | RunnableLambda(lambda docs: comp.compress_documents(docs, pool.query.question))
    kept = chain.invoke(pool.query.question)
    assert [d.metadata["id"] for d in kept] == _expected(pool, k=2)
    assert [d.metadata["setsel_rank"] for d in kept] == [1, 2]
    # documents without ids: positions stand in, and the same passages come back
    bare = [Document(page_content=p.text, metadata={"title": p.title}) for p in pool.passages]
    assert [d.page_content for d in comp.compress_documents(bare, pool.query.question)] == \
        [d.page_content for d in kept]
    assert comp.compress_documents([], "q?") == []


def test_llama_index_postprocessor_after_a_real_retriever(pools):
    pytest.importorskip("llama_index.core")
    from llama_index.core import SummaryIndex
    from llama_index.core.schema import TextNode

    from setsel.integrations.llama_index import SetselPostprocessor

    pool = pools[1]
    nodes = [TextNode(text=p.text, id_=p.id, metadata={"title": p.title}) for p in pool.passages]
    retrieved = SummaryIndex(nodes).as_retriever().retrieve(pool.query.question)  # no LLM, no embeddings
    assert len(retrieved) == len(pool.passages)
    pp = SetselPostprocessor.from_selector("lexical", k=3)
    kept = pp.postprocess_nodes(retrieved, query_str=pool.query.question)
    assert [n.node.node_id for n in kept] == _expected(pool, k=3)
    with pytest.raises(ValueError, match="needs the query"):
        pp.postprocess_nodes(retrieved)


def test_haystack_pipeline_with_the_shipped_selector(pools):
    pytest.importorskip("haystack")
    from haystack import Document, Pipeline
    from haystack.components.retrievers.in_memory import InMemoryBM25Retriever
    from haystack.document_stores.in_memory import InMemoryDocumentStore

    from setsel.integrations.haystack import SetselRanker

    pool = pools[2]
    store = InMemoryDocumentStore()
    store.write_documents([Document(id=p.id, content=p.text, meta={"title": p.title}) for p in pool.passages])
    pipe = Pipeline()
    pipe.add_component("retriever", InMemoryBM25Retriever(document_store=store, top_k=len(pool.passages)))
    pipe.add_component("select", SetselRanker("llm_head"))  # the shipped trained selector
    pipe.connect("retriever.documents", "select.documents")
    out = pipe.run({"retriever": {"query": pool.query.question}, "select": {"query": pool.query.question}})
    docs = out["select"]["documents"]
    # the same set as the selector on the pool directly (llm_head reads the pool in the order given)
    retrieved = pipe.get_component("retriever").run(query=pool.query.question)["documents"]
    from setsel.types import Candidates, Passage

    by_id = {p.id: p for p in pool.passages}
    reordered = Candidates(pool.query, [by_id[d.id] for d in retrieved])
    from setsel.selection import get_selector

    assert [d.id for d in docs] == get_selector("llm_head").select([reordered])[0].selected_ids
    assert 1 <= len(docs) <= 5 and [d.meta["setsel_rank"] for d in docs] == list(range(1, len(docs) + 1))
