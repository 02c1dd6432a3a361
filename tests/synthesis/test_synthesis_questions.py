"""Which questions a synthesis run samples: ids that collide across datasets are kept, duplicates are not."""

from setsel.config import build_config
from setsel.datasets import load_dataset
from setsel.synthesis.job import SynthesisConfig, load_questions, source_label


def _questions(specs):
    return load_questions(build_config(SynthesisConfig, {"datasets": specs, "ray": {"enabled": False}}))


def test_row_numbered_ids_from_two_datasets_are_all_kept(data_dir, monkeypatch):
    # the openret pools number their questions by row, so MuSiQue and 2Wiki both have id "0"
    monkeypatch.setenv("SETSEL_DATA_DIR", str(data_dir))
    specs = [{"name": "openret", "path": "openret_bge/musique", "limit": 20},
             {"name": "openret", "path": "openret_bge/2wiki", "limit": 20}]
    musique = load_dataset("openret", "openret_bge/musique", limit=20)
    wiki = load_dataset("openret", "openret_bge/2wiki", limit=20)
    shared = {c.query.id for c in musique} & {c.query.id for c in wiki}
    assert shared, "the premise: the two pools share row ids"
    got = _questions(specs)
    usable = [c for c in musique + wiki if c.passages and c.query.answers]
    assert len(got) == len(usable) and len({c.query.id for c in got}) == len(got)
    renamed = {c.query.id for c in got if c.query.id.startswith("openret/2wiki:")}
    assert renamed == {f"openret/2wiki:{i}" for i in shared if any(c.query.id == i and c.query.answers for c in wiki)}
    # a renamed question is the 2Wiki one: same question text and pool
    by_id = {c.query.id: c for c in got}
    for c in wiki:
        if c.query.id in shared and c.query.answers:
            assert by_id[f"openret/2wiki:{c.query.id}"].query.question == c.query.question
            assert by_id[c.query.id].query.question != c.query.question
    assert source_label(build_config(SynthesisConfig, {"datasets": specs}).datasets[1]) == "openret/2wiki"


def test_the_same_dataset_twice_adds_nothing(data_dir, monkeypatch):
    monkeypatch.setenv("SETSEL_DATA_DIR", str(data_dir))
    spec = {"name": "hotpotqa", "path": "hotpotqa_train100_hipporag/train.jsonl", "limit": 10}
    once, twice = _questions([spec]), _questions([spec, dict(spec)])
    assert [c.query.id for c in twice] == [c.query.id for c in once] and len(once) == 10
