"""setsel inside RAG frameworks: a LangChain document compressor, a LlamaIndex node
postprocessor and a Haystack 2 ranker, each wrapping any setsel selector in-process or a
remote Serve endpoint (:class:`setsel.client.SetselClient`). Each module imports its
framework only when used (optional extras ``langchain``, ``llama-index``, ``haystack``).

- :class:`setsel.integrations.langchain.SetselCompressor`
- :class:`setsel.integrations.llama_index.SetselPostprocessor`
- :class:`setsel.integrations.haystack.SetselRanker`
"""
