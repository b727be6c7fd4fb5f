"""The retrieval index (core.retrieval), its CLI, its benchmark's measurements and its table: tiny galleries."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core import retrieval
from core.data.attributes import COLOR_NAMES
from core.errors import UserError
from core.retrieval import Gallery, RetrievalIndex, build_index, load_gallery, query_photos

CLASSES = ("coats", "hats")
PER_CLASS = 6


def photo(rng: np.random.Generator, label: int, width: int = 80, height: int = 60) -> Image.Image:
    """A synthetic photo: a class-coloured block on a noisy background, each one different."""
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    colour = (200, 40, 40) if label == 0 else (40, 60, 200)
    top, left = int(rng.integers(5, 20)), int(rng.integers(10, 30))
    pixels[top : top + 30, left : left + 35] = colour
    return Image.fromarray(pixels)


@pytest.fixture
def tiny_folder(tmp_path: Path) -> Path:
    """A class-per-subfolder gallery of 12 synthetic photos (PNG and JPEG)."""
    rng = np.random.default_rng(0)
    root = tmp_path / "gallery"
    for label, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        for i in range(PER_CLASS):
            suffix = ".png" if i % 2 else ".jpg"
            photo(rng, label).save(root / name / f"{name}-{i}{suffix}")
    return root


@pytest.fixture
def gallery(tiny_folder: Path, fgl_cache: Path) -> Gallery:
    return load_gallery(f"folder:{tiny_folder}", "train")


def retrain(folder: Path) -> None:
    """Change a classifier folder's weights slightly, in place: as if it had been retrained."""
    from safetensors.torch import load_file, save_file

    weights = load_file(folder / "model.safetensors")
    name = next(key for key, tensor in weights.items() if tensor.is_floating_point() and tensor.numel() > 1)
    weights[name] = weights[name] + 0.01
    save_file(weights, folder / "model.safetensors")


# --------------------------------------------------------------------------- searching


def test_a_gallery_keeps_paths_labels_and_colours(gallery: Gallery, tiny_folder: Path) -> None:
    assert len(gallery) == 2 * PER_CLASS and gallery.class_names == list(CLASSES)
    assert gallery.images.shape == (12, 3, 64, 64) and gallery.images.dtype == torch.uint8
    assert gallery.paths[0] == "coats/coats-0.jpg" and gallery.folder == str(tiny_folder)
    assert gallery.color_names == COLOR_NAMES and set(gallery.colors.tolist()) <= set(range(len(COLOR_NAMES)))
    assert gallery.labels.tolist() == [0] * PER_CLASS + [1] * PER_CLASS
    assert gallery.files_key and gallery.digest() == load_gallery(f"folder:{tiny_folder}").digest()


def test_exact_search_finds_each_gallery_photo_itself_first(gallery: Gallery) -> None:
    index = build_index(gallery, "classifier-clothing-64", "both")
    for kind in ("exact", "hnsw"):
        found = index.search(gallery.images, k=3, kind=kind)
        assert found.ids[:, 0].tolist() == list(range(len(gallery))), kind
        assert found.distances[:, 0].abs().max() < 1e-4
        assert (found.distances[:, 1:] >= found.distances[:, :1] - 1e-6).all()  # nearest first
    first = index.search(gallery.images[:1], k=3).matches(0)[0]
    assert (first.rank, first.id, first.class_name, first.label) == (1, 0, "coats", 0)
    assert first.color in COLOR_NAMES and first.path.endswith("coats/coats-0.jpg")
    assert index.search(gallery.images[:1], k=100).ids.shape == (1, len(gallery))  # k is at most the gallery


def test_hnsw_and_exact_agree_on_a_small_gallery() -> None:
    rng = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (300, 3, 16, 16), dtype=torch.uint8, generator=rng)
    gallery = Gallery(images, torch.arange(300) % 3, ["a", "b", "c"], torch.zeros(300, dtype=torch.long), COLOR_NAMES,
                      [""] * 300)
    index = build_index(gallery, "pixels:8", "both", hnsw_m=16, ef_search=64)
    queries = torch.randn(50, index.embeddings.shape[1], generator=rng)
    exact = index.search(queries, k=10, kind="exact")
    hnsw = index.search(queries, k=10, kind="hnsw")
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact.ids.tolist(), hnsw.ids.tolist())])
    assert overlap >= 0.95
    brute = (retrieval.normalise(queries) @ index.embeddings.T).topk(10).indices
    assert torch.equal(exact.ids, brute)  # the exact index is a brute-force cosine search


def test_save_load_round_trip_gives_the_same_results(gallery: Gallery, tmp_path: Path) -> None:
    built = build_index(gallery, "classifier-clothing-64", "both", tmp_path / "index")
    assert sorted(p.name for p in (tmp_path / "index").iterdir()) == sorted(
        ["index.json", "embeddings.safetensors", "gallery.safetensors", "exact.faiss", "hnsw.faiss"])
    meta = json.loads((tmp_path / "index" / "index.json").read_text())
    assert meta["gallery"]["class_names"] == list(CLASSES) and meta["color_names"] == COLOR_NAMES
    assert meta["extractor"]["fingerprint"] == built.extractor.fingerprint and "python -m core index" in meta["rebuild"]
    loaded = RetrievalIndex.load(tmp_path / "index")
    assert torch.equal(loaded.embeddings, built.embeddings) and torch.equal(loaded.colors, gallery.colors)
    assert torch.equal(loaded.thumbnails, gallery.images)
    for kind in ("exact", "hnsw"):
        a, b = built.search(gallery.images, k=5, kind=kind), loaded.search(gallery.images, k=5, kind=kind)
        assert torch.equal(a.ids, b.ids) and torch.allclose(a.distances, b.distances)
        assert a.paths == b.paths and a.colors == b.colors and a.class_names == b.class_names


def test_one_kind_only_and_a_rebuild_in_place(gallery: Gallery, tmp_path: Path) -> None:
    build_index(gallery, "pixels:8", "both", tmp_path / "index")
    build_index(gallery, "pixels:8", "exact", tmp_path / "index")  # the old hnsw.faiss goes
    loaded = RetrievalIndex.load(tmp_path / "index")
    assert loaded.kinds == ["exact"] and not (tmp_path / "index" / "hnsw.faiss").exists()
    with pytest.raises(UserError, match="no 'hnsw' index.*--kind both"):
        loaded.search(gallery.images[:1], kind="hnsw")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="other files in it"):
        build_index(gallery, "pixels:8", "exact", tmp_path / "other")


# --------------------------------------------------------------------------- refusing stale and mismatched indexes


def test_an_index_of_a_changed_extractor_is_refused(gallery: Gallery, tmp_path: Path) -> None:
    from core.paths import PRETRAINED_DIR

    extractor = shutil.copytree(PRETRAINED_DIR / "classifier-clothing-64", tmp_path / "extractor")
    build_index(gallery, str(extractor), "exact", tmp_path / "index")
    RetrievalIndex.load(tmp_path / "index")  # unchanged: fine
    retrain(extractor)
    with pytest.raises(UserError) as stale:
        RetrievalIndex.load(tmp_path / "index")
    message = str(stale.value)
    assert "\n" not in message and "is stale" in message and "weights changed" in message
    assert f"rebuild it with `python -m core index --data folder:{gallery.folder}" in message
    with pytest.raises(UserError, match="is mismatched: it holds embeddings of extractor, not of pixels-8"):
        RetrievalIndex.load(tmp_path / "index", extractor="pixels:8")


def test_an_index_of_a_changed_gallery_is_refused(gallery: Gallery, tiny_folder: Path, tmp_path: Path) -> None:
    build_index(gallery, "pixels:8", "both", tmp_path / "index")
    with pytest.raises(UserError, match=r"is stale: it was built on other photos than .*rebuild it with"):
        RetrievalIndex.load(tmp_path / "index", gallery=Gallery(
            gallery.images.flip(0), gallery.labels, gallery.class_names, gallery.colors, gallery.color_names,
            gallery.paths, description="the flipped gallery"))
    photo(np.random.default_rng(1), 1).save(tiny_folder / "hats" / "hats-new.png")  # a photo added since
    with pytest.raises(UserError, match=r"is stale: the photos in .*gallery changed since it was built.*rebuild it with"):
        RetrievalIndex.load(tmp_path / "index")
    assert len(RetrievalIndex.load(tmp_path / "index", check_files=False)) == len(gallery)


def test_a_damaged_or_foreign_index_folder_is_refused(gallery: Gallery, tmp_path: Path) -> None:
    folder = tmp_path / "index"
    build_index(gallery, "pixels:8", "both", folder)
    shutil.copy(folder / "exact.faiss", folder / "hnsw.faiss")  # a file from elsewhere
    with pytest.raises(UserError, match="is mismatched: hnsw.faiss is not the file index.json was written with"):
        RetrievalIndex.load(folder)
    (folder / "hnsw.faiss").unlink()
    with pytest.raises(UserError, match=r"is incomplete \(hnsw.faiss is missing\)"):
        RetrievalIndex.load(folder)
    meta = json.loads((folder / "index.json").read_text())
    (folder / "index.json").write_text(json.dumps({**meta, "version": 99}))
    with pytest.raises(UserError, match="format version 99.*rebuild it with"):
        RetrievalIndex.load(folder)
    (folder / "index.json").write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        RetrievalIndex.load(folder)
    (folder / "index.json").unlink()
    with pytest.raises(UserError, match="is not a retrieval index"):
        RetrievalIndex.load(folder)
    with pytest.raises(UserError, match="no retrieval index at .*python -m core index"):
        RetrievalIndex.load(tmp_path / "nowhere")


def test_embedding_queries_of_the_wrong_size_are_refused(gallery: Gallery) -> None:
    index = build_index(gallery, "pixels:8", "exact")
    with pytest.raises(UserError, match="query embeddings are 5-d; this index holds 192-d embeddings of pixels-8"):
        index.search(torch.randn(2, 5))
    with pytest.raises(UserError, match="k must be"):
        index.search(gallery.images[:1], k=0)


# --------------------------------------------------------------------------- uploads


def encoded(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def test_odd_uploads_are_converted_as_the_data_were(gallery: Gallery, tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (50, 40), (0, 0, 0, 0))  # fully transparent: white, as the data make it
    gray = Image.fromarray(np.random.default_rng(0).integers(0, 256, (70, 90), dtype=np.uint8), "L")
    deep = Image.fromarray(np.arange(40 * 30, dtype=np.uint16).reshape(40, 30) * 50, "I;16")
    file = tmp_path / "wide.jpg"
    Image.new("RGB", (2000, 20), (10, 200, 30)).save(file)  # a huge aspect ratio
    uploads = [rgba, gray, deep, Image.new("RGB", (3, 2), (250, 10, 10)), str(file), encoded(gray),
               np.full((33, 17, 4), 128, np.uint8), np.zeros((9, 9), np.float32)]
    photos = query_photos(uploads, 64)
    assert photos.shape == (len(uploads), 3, 64, 64) and photos.dtype == torch.uint8
    assert (photos[0] == 255).all()  # transparency over white
    assert (photos[1, 0] == photos[1, 1]).all()  # grayscale stays gray
    assert photos[3, 0].float().mean() > 200 and photos[4, 1].float().mean() > 150  # colour kept, upscaled / cropped
    index = build_index(gallery, "classifier-clothing-64", "both")
    found = index.search(uploads, k=4)
    assert found.ids.shape == (len(uploads), 4) and (found.ids >= 0).all() and torch.isfinite(found.distances).all()
    batch = index.search(torch.randint(0, 256, (2, 1, 100, 30), dtype=torch.uint8), k=2)  # NCHW grayscale, any size
    assert batch.ids.shape == (2, 2)
    same = index.search(gallery.images[:2].permute(0, 2, 3, 1).numpy(), k=1)  # NHWC arrays, as pipelines return them
    assert same.ids[:, 0].tolist() == [0, 1]
    with pytest.raises(UserError, match="could not read"):
        index.search(b"not an image")


# --------------------------------------------------------------------------- command line


def test_cli_index_then_search_end_to_end(tiny_folder: Path, fgl_cache: Path, tmp_path: Path, capsys) -> None:
    from core.cli import main

    out = tmp_path / "indexes" / "tiny"
    assert main(["index", "--data", f"folder:{tiny_folder}", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert '"extractor": "classifier-clothing-64+color"' in printed and f"wrote {out}" in printed and "exact + hnsw" in printed
    grid = tmp_path / "neighbours.png"
    query = tiny_folder / "hats" / "hats-1.png"
    assert main(["search", "--image", str(query), "-k", "3", "--index", str(out), "--out", str(grid)]) == 0
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split() == ["rank", "class", "colour", "distance", "path"])
    first = lines[header + 1].split()
    assert first[0] == "1" and first[1] == "hats" and first[2] in COLOR_NAMES and first[4] == "hats/hats-1.png"
    assert float(first[3]) < 1e-3 and [line.split()[0] for line in lines[header + 1 : header + 4]] == ["1", "2", "3"]
    assert lines[-1] == f"wrote {grid}"
    with Image.open(grid) as image:
        assert image.size == (2 * (4 * 66 + 2), 2 * 68)  # query + 3 results of 64 px with 2 px padding, scaled 2x
    assert main(["search", "--image", str(query), "--index", str(tmp_path / "missing")]) == 2
    assert "no retrieval index at" in capsys.readouterr().err
    assert main(["search", "--image", str(query), "--index", str(out), "--kind", "hnsw", "-k", "2"]) == 0
    assert "hnsw search" in capsys.readouterr().out


# --------------------------------------------------------------------------- the benchmark and its table


@pytest.fixture
def bench_rows(gallery: Gallery, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list:
    """Every scenario kind of the benchmark run on the tiny gallery (queries: the gallery itself)."""
    from benchmarks import retrieval as bench
    from core.hub import save_model
    from core.models import MODELS

    extractor = retrieval.make_extractor("pixels:8")
    index = build_index(gallery, extractor, "both")
    context = bench.Context(extractor, gallery, gallery, index, extractor.embed(gallery.images))
    monkeypatch.setattr(bench, "context_of", lambda scenario: context)
    torch.manual_seed(0)  # the edit_search kind's editor: a tiny untrained Fader network of the gallery's classes
    config = MODELS.get("fader").make_config(image_size=64, width=4, max_width=8, hidden=8, num_classes=2,
                                             class_names=list(CLASSES), color_names=COLOR_NAMES)
    editor = save_model(MODELS.get("fader").build(config)["translator"], tmp_path / "fader-tiny", family="fader")
    plan = bench.scenarios(("classifier-clothing-64", "pixels:8"), identity_queries=6, repeats=2, warmup=0,
                           build_repeats=1, device="cpu", options={"editor": str(editor)})
    assert [s.kind for s in plan] == [*bench.KINDS, *bench.BASELINE_KINDS]
    return [row for scenario in plan for row in bench.run(scenario)]


def test_benchmark_kinds_on_a_tiny_gallery(bench_rows: list) -> None:
    from benchmarks import retrieval as bench
    from core import report

    rows = bench_rows
    assert not [row.error for row in rows if row.error]
    values = {(row.metric, row.params["index"]): row.value for row in rows if row.params["scenario"] == "class_recall"}
    assert values["recall_at_1", "exact"] == 1.0  # the queries are the gallery itself
    edits = {(row.metric, row.params["index"]): row.value for row in rows if row.params["scenario"] == "edit_search"}
    assert set(edits) == {(m, i) for m in ("edit_target_color_at_10", "photo_target_color_at_10", "edit_class_at_10",
                                           "edit_color_accuracy") for i in ("exact", "hnsw")}
    assert all(0 <= value <= 1 for value in edits.values())
    assert edits["edit_color_accuracy", "exact"] == edits["edit_color_accuracy", "hnsw"]  # the same edits
    assert {row.metric for row in rows} >= set(report.RETRIEVAL_METRICS)
    assert all(row.params["role"] == "baseline" and row.model == "pixels-8" for row in rows)
    table = report.retrieval_table([row.to_dict() for row in rows])
    assert list(table["index"]) == ["exact", "hnsw"] and table["n_gallery"].tolist() == [12, 12]
    assert report.retrieval_value("recall_at_1", 0.5) == "50.0 %"
    assert "recall@1" in bench.format_table(rows)
    report.retrieval_figure(table, "exact")  # draws


def test_identity_augmentation_is_light_and_seeded() -> None:
    from benchmarks.retrieval import augment

    images = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    a, flips = augment(images, 3, 0.1, torch.Generator().manual_seed(1))
    b, _ = augment(images, 3, 0.1, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.shape == images.shape and not torch.equal(a, images)
    unchanged, flips = augment(images, 0, 0.0, torch.Generator().manual_seed(1))  # no shift, no jitter: only flips
    assert 0 < flips.sum() < len(flips)
    assert all(torch.equal(x, y.flip(-1) if flip else y) for x, y, flip in zip(unchanged, images, flips))
    jittered = augment(images, 0, 0.1, torch.Generator().manual_seed(1))[0].float().mean(dim=(1, 2, 3))
    ratio = jittered / images.float().mean(dim=(1, 2, 3))  # flips keep the mean: only the brightness factor is left
    assert ((ratio > 0.89) & (ratio < 1.11)).all() and not torch.allclose(ratio, torch.ones(8), atol=1e-3)


def test_a_failing_scenario_becomes_error_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import retrieval as bench

    def broken(scenario):
        raise UserError("no photos here")

    monkeypatch.setattr(bench, "context_of", broken)
    rows = bench.run(bench.Scenario("class_recall", device="cpu"))
    assert [row.metric for row in rows] == ["recall_at_1", "recall_at_5", "recall_at_10", "precision_at_10"]
    assert all(row.error == "UserError: no photos here" and row.value is None for row in rows)


def test_open_clip_absent_is_one_line_naming_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "open_clip" else real(name, *a))
    with pytest.raises(UserError, match="needs the open_clip package, which is not installed") as err:
        retrieval.make_extractor("open_clip:ViT-B-32/laion2b_s34b_b79k")
    assert "\n" not in str(err.value)


def test_the_dashboard_page_shows_the_table_and_recall_bars(bench_rows: list, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    from core.paths import PROJECT_ROOT
    from core.results import append_rows

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("RESULTS_SOURCE", str(tmp_path / "empty"))
    (tmp_path / "empty").mkdir()
    app = PROJECT_ROOT / "apps" / "dashboard" / "app.py"
    at = AppTest.from_file(app, default_timeout=60).run()
    at.switch_page("views/retrieval.py").run()
    assert not at.exception and at.info[0].value.startswith("No retrieval results yet")
    append_rows(bench_rows, tmp_path / "results" / "retrieval.jsonl")
    monkeypatch.setenv("RESULTS_SOURCE", str(tmp_path / "results"))
    at = AppTest.from_file(app, default_timeout=60).run()
    at.switch_page("views/retrieval.py").run()
    assert not at.exception and at.title[0].value == "Retrieval"
    table = at.dataframe[0].value
    assert list(table["index"]) == ["exact", "hnsw"] and table.iloc[0]["recall_at_1"] == 100.0  # percent
    assert len(at.get("plotly_chart")) == 2  # recall@k bars per index kind


def test_the_runner_plans_retrieval_from_its_profiles() -> None:
    from benchmarks.__main__ import BENCHMARKS, PROFILES, plan_retrieval

    assert BENCHMARKS["retrieval"].kind is None and BENCHMARKS["retrieval"].default
    quick = plan_retrieval([], PROFILES["quick"], "cpu", Path("results"))
    assert {s.extractor for s in quick} == {"classifier-clothing-64", "classifier-clothing-64+color", "pixels:16", "untrained"}
    assert all(s.identity_queries == 500 and s.repeats == 50 for s in quick)
    assert all(s.identity_queries is None for s in plan_retrieval([], PROFILES["full"], "cpu", Path("results")))


def test_color_and_combined_extractors() -> None:
    """The colour histogram tells colours apart and ignores the background; a combined embedding's cosine is the
    weighted mean of its parts' cosines."""
    def block(colour, background):
        image = torch.tensor(background, dtype=torch.uint8).view(3, 1, 1).repeat(1, 64, 64)
        image[:, 16:48, 20:44] = torch.tensor(colour, dtype=torch.uint8).view(3, 1, 1)
        return image

    color = retrieval.make_extractor("color")
    assert color.dim == len(COLOR_NAMES) and color.role == "baseline"
    red_on_white, red_on_beige, blue_on_white = (block((185, 35, 45), (235, 235, 230)), block((185, 35, 45), (210, 190, 155)),
                                                 block((45, 95, 195), (235, 235, 230)))
    e = color.embed(torch.stack([red_on_white, red_on_beige, blue_on_white]))
    assert COLOR_NAMES[int(e[0].argmax())] == "red" and COLOR_NAMES[int(e[2].argmax())] == "blue"
    assert float(e[0] @ e[1]) > 0.95 and float(e[0] @ e[2]) < 0.2  # same garment, other floor: alike; other colour: not

    combined = retrieval.make_extractor("pixels:4+color@3")
    assert combined.name == "pixels-4+color@3" and combined.dim == 48 + len(COLOR_NAMES) and combined.role == "baseline"
    images = torch.stack([red_on_white, blue_on_white])
    both, pixels, colours = combined.embed(images), retrieval.make_extractor("pixels:4").embed(images), color.embed(images)
    expected = (float(pixels[0] @ pixels[1]) + 3 * float(colours[0] @ colours[1])) / 4
    assert abs(float(both[0] @ both[1]) - expected) < 1e-5
    assert combined.fingerprint != retrieval.make_extractor("pixels:4+color").fingerprint
    for bad in ("pixels:4+", "pixels:4+color@0", "pixels:4+color@x"):
        with pytest.raises(UserError, match="EXTRACTOR@WEIGHT"):
            retrieval.make_extractor(bad)
