"""The feature cache: a text embedded once under an encoder signature is never embedded again under it."""

from __future__ import annotations

import dataclasses
import json
import logging
import multiprocessing
import shutil
from pathlib import Path

import numpy as np
import pytest

import cartal.encoders as encoders
from cartal import provenance
from cartal.data.datasets import load_trec_csv
from cartal.encoders import cache, embed, embed_splits, static
from cartal.encoders.signature import digest, signature
from cartal.encoders.transformer import resolve
from cartal.params import EncoderParams

ENCODER = dataclasses.replace(EncoderParams(), max_length=32, batch_size=16)
# cached vectors equal fresh ones bit for bit: encode batches texts of one word-piece length, unpadded, so a vector
# does not depend on its batch-mates (bench/feature_cache.py: 0 of TREC's 5,452 train vectors differ)


@pytest.fixture(scope="module")
def texts(shared_data) -> list[str]:
    texts = load_trec_csv(shared_data / "trec").train["text"].tolist()[:48]
    assert len(set(texts)) == len(texts)  # the counts below assume distinct texts
    return texts


@pytest.fixture(autouse=True)
def cache_root(tmp_path, monkeypatch) -> Path:
    """An empty cache for each test."""
    monkeypatch.setenv(cache.ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def seen(monkeypatch) -> list[str]:
    """Every text the transformer was given, in the order given."""
    texts = []

    def spy(batch, *args, **kwargs):
        texts.extend(batch)
        return real(batch, *args, **kwargs)

    real = encoders.encode
    monkeypatch.setattr(encoders, "encode", spy)
    return texts


def test_a_second_embed_of_the_same_texts_computes_none_of_them(texts, seen, caplog, cache_root):
    splits = {"train": texts[:40], "test": texts[40:]}
    first = embed_splits(splits, ENCODER, progress=False)
    assert sorted(seen) == sorted(texts)
    seen.clear()
    with caplog.at_level(logging.INFO, logger="cartal.encoders"):
        second = embed_splits(splits, ENCODER, progress=False)
    assert seen == []  # the model was not even asked
    for split in splits:
        assert np.array_equal(first[split], second[split])
    messages = [r.getMessage() for r in caplog.records]
    assert "train: 40 texts, 0 embedded, 40 from the feature cache" in messages
    assert "test: 8 texts, 0 embedded, 8 from the feature cache" in messages
    assert any(m.startswith(f"feature cache: {cache_root}/") for m in messages)  # where it is


def test_another_split_of_the_same_texts_embeds_only_the_new_ones(texts, seen):
    embed_splits({"train": texts[:30], "test": texts[30:40]}, ENCODER, progress=False)
    seen.clear()
    # a new split: texts move between train and test, some leave, new ones come
    again = embed_splits({"train": texts[10:35] + texts[40:44], "test": texts[:10] + texts[44:]}, ENCODER,
                         progress=False)
    assert sorted(seen) == sorted(texts[40:])
    fresh = encoders.encode(texts[10:35] + texts[40:44], ENCODER.name, max_length=32, progress=False)
    np.testing.assert_array_equal(again["train"], fresh)


def test_a_text_in_both_splits_is_embedded_once(texts, seen):
    out = embed_splits({"train": texts[:5], "test": texts[4:6]}, ENCODER, progress=False)
    assert sorted(seen) == sorted(texts[:6])
    assert np.array_equal(out["train"][4], out["test"][0])


def test_cached_vectors_agree_with_fresh_ones(texts, monkeypatch):
    monkeypatch.setenv(cache.ENV, cache.OFF)
    fresh = embed_splits({"train": texts}, ENCODER, progress=False)["train"]
    monkeypatch.undo()
    embed_splits({"train": texts[::2]}, ENCODER, progress=False)  # another run, other batches
    mixed = embed_splits({"train": texts}, ENCODER, progress=False)["train"]
    np.testing.assert_array_equal(mixed, fresh)
    assert not np.allclose(mixed[0], mixed[1], atol=1e-3)  # each row its own text's vector


def test_the_truncation_count_survives_the_cache(texts, caplog):
    splits = {"train": texts[:20] + ["a " * 40], "test": texts[20:24]}
    embed_splits(splits, ENCODER, progress=False)
    with caplog.at_level(logging.INFO, logger="cartal.encoders"):
        embed_splits(splits, ENCODER, progress=False)
    assert "train: 1 of 21 texts longer than encoder.max_length (32 word pieces) were truncated" in \
        [r.getMessage() for r in caplog.records]


def test_another_max_length_never_gets_the_vectors_of_the_first(texts, seen):
    long_text = " ".join(texts[:6])  # well over 16 word pieces: its vector depends on the limit
    first = embed_splits({"train": [long_text] + texts[6:10]}, ENCODER, progress=False)["train"]
    seen.clear()
    shorter = dataclasses.replace(ENCODER, max_length=16)
    second = embed_splits({"train": [long_text] + texts[6:10]}, shorter, progress=False)["train"]
    assert len(seen) == 5  # all of them again
    assert not np.allclose(first[0], second[0], atol=1e-3)
    assert signature(ENCODER) != signature(shorter)


def test_a_model_is_known_by_its_files_not_its_folder(tmp_path, texts, seen):
    """A copy of the model elsewhere is the same encoder; a model with another config is another one."""
    source = Path(resolve(ENCODER.name))
    copy, other = tmp_path / "copy", tmp_path / "other"
    for folder in (copy, other):
        folder.mkdir()
        for path in source.iterdir():
            if path.is_file():
                (folder / path.name).symlink_to(path)
    config = (source / "config.json").read_text()
    (other / "config.json").unlink()
    (other / "config.json").write_text(config.replace('"num_hidden_layers": 6', '"num_hidden_layers": 5'))
    assert '"num_hidden_layers": 5' in (other / "config.json").read_text()

    original = embed_splits({"train": texts[:8]}, ENCODER, progress=False)["train"]
    seen.clear()
    from_copy = embed_splits({"train": texts[:8]}, dataclasses.replace(ENCODER, name=str(copy)), progress=False)
    assert seen == [] and np.array_equal(from_copy["train"], original)
    from_other = embed_splits({"train": texts[:8]}, dataclasses.replace(ENCODER, name=str(other)), progress=False)
    assert len(seen) == 8 and not np.allclose(from_other["train"], original, atol=1e-3)


def test_the_device_and_library_versions_are_part_of_the_signature():
    sig = signature(ENCODER)
    assert sig["device"] == "cpu" and set(sig["versions"]) == {"torch", "transformers", "tokenizers"}
    assert all(v is None or v.count(".") == 1 for v in sig["versions"].values())  # major.minor
    assert "model.safetensors" in sig["model"]["files"] and "config.json" in sig["model"]["files"]


@pytest.fixture
def word2vec(tmp_path) -> Path:
    from gensim.models import Word2Vec

    corpus = [s.split() for s in ("how far is the moon from the earth", "who painted the mona lisa")] * 10
    path = tmp_path / "small.vec"
    Word2Vec(sentences=corpus, vector_size=8, min_count=1, seed=1, workers=1, epochs=2).wv.save_word2vec_format(
        str(path))
    return path


def test_a_static_encoder_loads_no_vectors_when_every_text_is_cached(word2vec, monkeypatch):
    encoder = dataclasses.replace(EncoderParams(), kind="static", vectors=str(word2vec), max_tokens=3)
    splits = {"train": ["the moon", "who painted the mona lisa"], "test": ["the earth"]}
    first = embed_splits(splits, encoder, progress=False)
    loads = []
    real = static.load
    monkeypatch.setattr(static, "load", lambda *a, **k: loads.append(a) or real(*a, **k))
    second = embed_splits(splits, encoder, progress=False)
    assert loads == [] and all(np.array_equal(first[s], second[s]) for s in splits)
    for change in ({"max_tokens": 2}, {"pooling": "mean"}):  # another setting: computed again
        again = embed_splits(splits, dataclasses.replace(encoder, **change), progress=False)
        assert not np.array_equal(again["train"][1], first["train"][1])
    assert len(loads) == 2


def test_the_vectors_file_is_known_by_its_content(word2vec, tmp_path):
    encoder = dataclasses.replace(EncoderParams(), kind="static", vectors=str(word2vec))
    copy = tmp_path / "copy" / word2vec.name
    copy.parent.mkdir()
    shutil.copy(word2vec, copy)
    assert signature(encoder) == signature(dataclasses.replace(encoder, vectors=str(copy)))
    copy.write_text(copy.read_text().replace("moon", "noom"))
    assert signature(encoder) != signature(dataclasses.replace(encoder, vectors=str(copy)))


def _signature_folder(root: Path) -> Path:
    return root / digest(signature(ENCODER))


def test_a_corrupt_or_foreign_cache_file_is_ignored_with_a_warning(texts, seen, caplog, cache_root):
    embed_splits({"train": texts[:6]}, ENCODER, progress=False)
    folder = _signature_folder(cache_root)
    (entry,) = folder.glob("*.parquet")
    entry.write_bytes(entry.read_bytes()[:-100])  # cut short, as by a full disk
    (folder / "0-garbage.parquet").write_bytes(b"not parquet at all")
    other = dataclasses.replace(ENCODER, max_length=16)
    embed_splits({"train": texts[6:8]}, other, progress=False)
    (foreign,) = (cache_root / digest(signature(other))).glob("*.parquet")
    shutil.copy(foreign, folder / "1-foreign.parquet")  # another signature's vectors, in this one's folder
    seen.clear()
    with caplog.at_level(logging.WARNING, logger="cartal.encoders.cache"):
        out = embed_splits({"train": texts[:8]}, ENCODER, progress=False)["train"]
    assert sorted(seen) == sorted(texts[:8])  # nothing read from the three files: embedded again
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3 and all("is ignored, it is not a readable entry file" in w for w in warnings)
    assert any("another encoder signature" in w for w in warnings)
    fresh = encoders.encode(texts[:8], ENCODER.name, max_length=32, progress=False)
    np.testing.assert_array_equal(out, fresh)


def test_a_partial_file_of_a_writer_is_not_read(texts, seen, cache_root):
    embed_splits({"train": texts[:4]}, ENCODER, progress=False)
    folder = _signature_folder(cache_root)
    (entry,) = folder.glob("*.parquet")
    (folder / f".{entry.name}.x1y2.tmp").write_bytes(entry.read_bytes()[:50])  # another run, mid-write
    seen.clear()
    embed_splits({"train": texts[:4]}, ENCODER, progress=False)
    assert seen == []


def _store_many(folder: str, digest_: str, worker: int) -> None:
    store = cache.FeatureCache(Path(folder), digest_)
    for i in range(20):
        store.store({f"{worker}-{i}": cache.Entry(np.full(4, worker * 100 + i, dtype=np.float32), False)},
                    {"cpu": f"worker {worker}"})


def test_concurrent_writers_never_corrupt_the_cache(tmp_path, caplog):
    folder = tmp_path / "signature"
    folder.mkdir()
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_store_many, args=(str(folder), "d", w)) for w in range(3)]
    for writer in writers:
        writer.start()
    reader = cache.FeatureCache(folder, "d")
    keys = {f"{w}-{i}" for w in range(3) for i in range(20)}
    while any(writer.is_alive() for writer in writers):
        for key, entry in reader.lookup(keys).items():  # what a reader sees mid-write is whole
            assert entry.vector[0] == int(key.split("-")[0]) * 100 + int(key.split("-")[1])
    assert all(writer.exitcode == 0 for writer in writers)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # never a half-written file in sight
    found = reader.lookup(keys)
    assert found.keys() == keys and len(list(folder.glob("*.parquet"))) == 60
    assert all(json.loads(entry.machine) == {"cpu": f"worker {key.split('-')[0]}"} for key, entry in found.items())


def test_off_turns_the_cache_off(texts, seen, monkeypatch, cache_root):
    monkeypatch.setenv(cache.ENV, "off")
    embed_splits({"train": texts[:4]}, ENCODER, progress=False)
    embed_splits({"train": texts[:4]}, ENCODER, progress=False)
    assert len(seen) == 8 and not cache_root.exists()


def test_the_default_place_is_the_user_cache_folder(monkeypatch, tmp_path):
    monkeypatch.delenv(cache.ENV)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache.root() == tmp_path / ".cache" / "cartal" / "features"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.root() == tmp_path / "xdg" / "cartal" / "features"


def test_an_unwritable_cache_costs_time_not_features(texts, monkeypatch, tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(cache.ENV, str(blocker / "cache"))  # a folder cannot be made under a file
    with caplog.at_level(logging.WARNING, logger="cartal.encoders.cache"):
        out = embed_splits({"train": texts[:3]}, ENCODER, progress=False)
    assert out["train"].shape == (3, 384)
    assert any("cannot be written" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_dvc_reruns_embed_after_a_new_subsample_and_takes_the_known_texts_from_the_cache(tmp_path, shared_data,
                                                                                         cache_root):
    import re

    import yaml

    from cartal.io import artifacts as art
    from projects import new_project, run, stages_run

    def features(repo: Path) -> dict[str, np.ndarray]:
        table = art.read_table(repo / "data/features/train.parquet", art.FEATURES)
        return dict(zip(art.ids(table), art.vectors(table, "vector")))

    (tmp_path / "project").mkdir()
    repo = new_project(tmp_path / "project", shared_data, rounds=1, epochs=2)
    first = run(["dvc", "repro", "embed"], repo)
    assert "train: 300 texts, 300 embedded, 0 from the feature cache" in first.stderr
    before = features(repo)

    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["data"]["max_train"] = 330  # another stratified subsample: most of its texts were embedded already
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    second = run(["dvc", "repro", "embed"], repo)
    assert {"prepare", "embed"} <= stages_run(second.stdout)
    embedded, cached = map(int, re.search(r"train: 330 texts, (\d+) embedded, (\d+) from the feature cache",
                                          second.stderr).groups())
    after = features(repo)
    common = before.keys() & after.keys()
    assert cached == len(common) >= 250 and embedded == 330 - len(common)
    assert all(np.array_equal(before[i], after[i]) for i in common)
    assert "test: 120 texts, 0 embedded, 120 from the feature cache" in second.stderr
    assert f"feature cache: {cache_root}/" in second.stderr
    # DVC tracks the features as before: the outputs are in the lock and up to date
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    assert {o["path"] for o in lock["stages"]["embed"]["outs"]} == {"data/features/train.parquet",
                                                                    "data/features/test.parquet"}
    assert "embed" not in run(["dvc", "status", "embed"], repo).stdout


# ---------------------------------------------------------------- where the vectors were computed

def test_vectors_embedded_here_are_recorded_as_this_machines(texts, cache_root):
    import torch

    out = embed({"train": texts[:6], "test": texts[6:8]}, ENCODER, progress=False)
    here = provenance.machine("transformer")
    assert out.computed_on == {"train": [here], "test": [here]}
    assert here["instructions"] == torch.backends.cpu.get_cpu_capability() and here["torch"] == torch.__version__
    (entry,) = _signature_folder(cache_root).glob("*.parquet")
    assert provenance.read(entry) == [here]
    assert embed({"train": texts[:6]}, ENCODER, progress=False).computed_on == {"train": [here]}  # from the cache


def test_vectors_from_the_cache_keep_the_machine_that_computed_them(word2vec, cache_root):
    """A cache shared with another machine hands out that machine's vectors, and says so."""
    encoder = dataclasses.replace(EncoderParams(), kind="static", vectors=str(word2vec))
    elsewhere = {"cpu": "Intel Xeon", "arch": "x86_64", "numpy": "2.0.0"}
    theirs = np.full(8, 0.5, dtype=np.float32)  # not what this machine would compute: proof it was read
    store = cache.FeatureCache.open(cache_root, signature(encoder))
    store.store({cache.text_key("the moon"): cache.Entry(theirs, False)}, elsewhere)
    out = embed({"train": ["the moon", "the earth"], "test": ["the moon"]}, encoder, progress=False)
    here = provenance.machine("static")
    assert out.computed_on == {"train": provenance.distinct([here, elsewhere]), "test": [elsewhere]}
    assert np.array_equal(out.vectors["train"][0], theirs) and np.array_equal(out.vectors["test"][0], theirs)
    assert not np.array_equal(out.vectors["train"][1], theirs)
    assert "Intel Xeon (x86_64), numpy 2.0.0" in provenance.words(out.computed_on["test"])


def test_a_cache_file_from_before_machines_were_recorded_says_so(word2vec, cache_root):
    import pyarrow.parquet as pq

    encoder = dataclasses.replace(EncoderParams(), kind="static", vectors=str(word2vec))
    embed({"train": ["the moon"]}, encoder, progress=False)
    (entry,) = (cache_root / digest(signature(encoder))).glob("*.parquet")
    table = pq.read_table(entry)
    metadata = {k: v for k, v in table.schema.metadata.items() if k != provenance.KEY}
    pq.write_table(table.replace_schema_metadata(metadata), entry)  # as cartal wrote it before this record
    out = embed({"train": ["the moon"]}, encoder, progress=False)
    assert out.computed_on == {"train": [provenance.UNRECORDED]}
    assert provenance.words(out.computed_on["train"]).startswith("a machine not recorded")


def test_the_cpu_is_named_as_linux_names_it(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9B14\n"
                       "flags\t\t: fpu sse2 avx fma avx2 avx512f avx512bw\n\n"
                       "processor\t: 1\nmodel name\t: another\nflags\t\t: amx_tile\n")  # only the first counts
    fields = provenance.first_processor(cpuinfo)
    assert provenance.cpu_model(fields) == "AMD EPYC 9B14"
    assert provenance.vector_flags(fields) == ["avx", "avx2", "fma", "avx512f"]  # what MKL and oneDNN may use
    assert provenance.vector_flags(provenance.first_processor(tmp_path / "absent")) == []
    assert provenance.cpu_model(provenance.first_processor(tmp_path / "absent"))  # what the platform says
    record = {"cpu": "AMD EPYC 9B14", "arch": "x86_64", "instructions": "AVX2", "torch": "2.13.0",
              "transformers": "5.25.0"}
    assert provenance.words([record]) == ("AMD EPYC 9B14 (x86_64, torch kernels AVX2), torch 2.13.0, "
                                         "transformers 5.25.0")
    forced = {**record, "instructions": "DEFAULT",
              "forced": {"MKL_CBWR": "COMPATIBLE", "ATEN_CPU_CAPABILITY": "default"}}
    assert provenance.words([{**record, "flags": ["avx2", "avx512f"]}]).startswith(
        "AMD EPYC 9B14 (x86_64 with avx2/avx512f, torch kernels AVX2)")
    assert provenance.words([forced]) == ("AMD EPYC 9B14 (x86_64, torch kernels DEFAULT, ATEN_CPU_CAPABILITY=default "
                                          "MKL_CBWR=COMPATIBLE), torch 2.13.0, transformers 5.25.0")
