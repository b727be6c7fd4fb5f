"""Silhouette clustering (core.clustering, `python -m core cluster`, benchmarks.clustering) on tiny drawn photos."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from core.clustering import (
    FEATURE_KINDS,
    centre_image,
    check_kinds,
    cluster,
    features,
    group_keys,
    kmeans,
    load_photos,
    select,
    write_report,
    write_selection,
)
from core.data.folder import USER_IMAGES, decode_image
from core.errors import UserError

SHAPES = ("bar", "disc", "square")


def garment(shape: str, variant: int, size: int = 64) -> Image.Image:
    """A light garment-like shape on a dark, slightly coloured background; `variant` moves and tints it a little."""
    image = Image.new("RGB", (size, size), (20 + 3 * variant, 25, 30))
    draw = ImageDraw.Draw(image)
    shift, fill = variant % 3 - 1, (230 - 5 * variant, 220, 200 + 4 * variant)
    if shape == "square":
        draw.rectangle((16 + shift, 16, 47 + shift, 47), fill=fill)
    elif shape == "disc":
        draw.ellipse((12 + shift, 12, 51 + shift, 51), fill=fill)
    else:  # a wide horizontal bar
        draw.rectangle((4, 26 + shift, 59, 37 + shift), fill=fill)
    return image


def shapes_folder(root: Path, per_class: int = 5, name=lambda shape, i: f"{shape}-{i}.png") -> Path:
    """One class folder per shape, `per_class` drawn photos in each."""
    for shape in SHAPES:
        (root / shape).mkdir(parents=True)
        for i in range(per_class):
            garment(shape, i).save(root / shape / name(shape, i))
    return root


def mask_of(image: Image.Image, path: Path) -> np.ndarray:
    """The clustering mask [64, 64] in {0, 1} of `image`, decoded from a file as a folder's images are."""
    image.save(path)
    decoded = decode_image(path, 64, 3, USER_IMAGES)
    return features(decoded[None], "mask", progress=False).reshape(64, 64)


# --------------------------------------------------------------------------- features


def test_the_mask_of_a_white_square_on_a_dark_background_is_that_square(tmp_path) -> None:
    photo = Image.new("RGB", (128, 128), (15, 15, 15))
    ImageDraw.Draw(photo).rectangle((32, 32, 95, 95), fill=(250, 250, 250))  # 64 px square -> 32 px at 64 px
    mask = mask_of(photo, tmp_path / "square.png")
    assert set(np.unique(mask)) == {0.0, 1.0}
    rows, cols = np.nonzero(mask)
    assert abs(int(mask.sum()) - 32 * 32) <= 64  # the blur may move the border by a pixel
    assert rows.min() in (15, 16, 17) and rows.max() in (46, 47, 48) and cols.min() in (15, 16, 17)
    assert abs(rows.mean() - 31.5) < 0.5 and abs(cols.mean() - 31.5) < 0.5
    assert mask[:10].sum() == 0 and mask[31, 31] == 1


def test_the_mask_is_taken_after_the_centre_crop_and_a_dark_garment_on_white_is_white(tmp_path) -> None:
    wide = Image.new("RGB", (160, 128), (10, 10, 10))
    draw = ImageDraw.Draw(wide)
    draw.rectangle((0, 0, 12, 127), fill=(255, 255, 255))  # a stripe the centre crop cuts away
    draw.ellipse((40, 24, 119, 103), fill=(240, 240, 240))  # a disc of radius 40 -> 20 at 64 px
    mask = mask_of(wide, tmp_path / "disc.png")
    assert abs(mask.sum() / (math.pi * 20**2) - 1) < 0.08
    assert mask[:, :10].sum() == 0  # nothing of the stripe is left
    rows, cols = np.nonzero(mask)
    assert abs(rows.mean() - 31.5) < 0.7 and abs(cols.mean() - 31.5) < 0.7

    dark_on_white = Image.new("RGB", (64, 64), (245, 245, 245))
    ImageDraw.Draw(dark_on_white).rectangle((20, 8, 43, 55), fill=(30, 30, 60))
    mask = mask_of(dark_on_white, tmp_path / "dark.png")
    assert mask[30, 32] == 1 and mask[2, 2] == 0 and abs(mask.sum() - 24 * 48) <= 80


def test_every_feature_kind_is_a_flat_vector_in_the_unit_interval(tmp_path, fgl_cache) -> None:
    photos = load_photos(str(shapes_folder(tmp_path / "shapes", per_class=2)), image_size=32)
    for kind in FEATURE_KINDS:
        feats = features(photos.images, kind, progress=False)
        assert feats.shape == (6, 32 * 32) and feats.dtype == np.float32
        assert feats.min() >= 0 and feats.max() <= 1
    assert set(np.unique(features(photos.images, "edges", progress=False))) == {0.0, 1.0}
    with pytest.raises(UserError, match="unknown feature kind 'sobel'; known: edges, grayscale, mask"):
        check_kinds(["mask", "sobel"])


# --------------------------------------------------------------------------- K-Means and the report


@pytest.fixture
def shapes(tmp_path, fgl_cache):
    return load_photos(str(shapes_folder(tmp_path / "shapes")))


def test_kmeans_with_a_seed_is_deterministic_and_its_report_is_complete(shapes, tmp_path) -> None:
    first = cluster(shapes, FEATURE_KINDS, k=3, seed=7, progress=False)
    again = cluster(shapes, FEATURE_KINDS, k=3, seed=7, progress=False)
    for a, b in zip(first, again):
        assert np.array_equal(a.assignments, b.assignments) and np.array_equal(a.centres, b.centres)
    by_kind = {result.kind: result for result in first}
    for result in first:
        assert sum(result.sizes) == len(shapes) == 15 and len(result.sizes) == 3
        assert result.sizes == sorted(result.sizes, reverse=True)  # numbered by size
        assert np.bincount(result.assignments, minlength=3).tolist() == result.sizes
        assert -1 <= result.silhouette <= 1 and 0 <= result.nmi <= 1
        # every image is assigned to its nearest centre
        assert np.array_equal(result.distances.argmin(1), result.assignments)
    mask = by_kind["mask"]
    assert mask.nmi == pytest.approx(1.0) and mask.sizes == [5, 5, 5]  # the silhouettes are the classes
    assert mask.silhouette > 0.5

    paths = write_report(shapes, first, tmp_path / "report", nearest=4, settings={"k": 3})
    for result in first:
        grid = np.asarray(Image.open(paths[result.kind]))
        assert grid.shape == (2 * (3 * 66 + 2), 2 * (5 * 66 + 2), 3)  # 3 rows of centre + 4 members, 2x
        for c in range(3):  # the first cell of each row is the centre, rendered
            cell = grid[2 * (2 + 66 * c) : 2 * (2 + 66 * c + 64) : 2, 4 : 4 + 128 : 2]
            assert np.array_equal(cell, centre_image(result, c))
    record = json.loads(paths["json"].read_text())
    assert record["images"] == 15 and record["settings"] == {"k": 3}
    assert [f["feature"] for f in record["features"]] == list(FEATURE_KINDS)
    for feature in record["features"]:
        assert sum(feature["sizes"]) == 15 and len(feature["clusters"]) == 3
        assert all(1 <= len(c["nearest"]) <= 4 for c in feature["clusters"])
    mask_clusters = record["features"][0]["clusters"]
    assert sorted(c["top_class"] for c in mask_clusters) == list(SHAPES)
    assert all(c["top_class_share"] == 1.0 for c in mask_clusters)
    text = paths["markdown"].read_text()
    assert all(f"| {kind} |" in text for kind in FEATURE_KINDS) and "NMI" in text


def test_k_must_be_between_two_and_the_number_of_images(shapes) -> None:
    feats = features(shapes.images, "mask", progress=False)
    with pytest.raises(UserError, match="k must be a whole number >= 2"):
        kmeans(feats, 1, 0)
    with pytest.raises(UserError, match="k 16 is more clusters than the 15 images"):
        kmeans(feats, 16, 0)
    with pytest.raises(UserError, match="only 1 distinct mask features"):
        kmeans(np.zeros((5, 16), np.float32), 3, 0, kind="mask")


# --------------------------------------------------------------------------- select


def test_select_picks_the_images_nearest_the_centre_in_every_group(shapes, tmp_path) -> None:
    result = cluster(shapes, ["grayscale"], k=2, seed=0, progress=False)[0]
    feats = features(shapes.images, "grayscale", progress=False).astype(np.float64)
    groups = group_keys(shapes)
    for target in (0, 1):
        distance = np.linalg.norm(feats - result.centres[target], axis=1)
        expected = sorted(int(np.flatnonzero(shapes.labels.numpy() == label)[distance[shapes.labels.numpy() == label]
                                                                              .argmin()]) for label in range(3))
        assert select(result, target, groups, 1) == expected
        two = select(result, target, groups, 2)
        assert len(two) == 6 and set(expected) <= set(two)
        for label in range(3):  # the two chosen are the group's two nearest
            inside = np.flatnonzero(shapes.labels.numpy() == label)
            nearest = set(inside[np.argsort(distance[inside], kind="stable")[:2]].tolist())
            assert nearest == {i for i in two if shapes.labels[i] == label}
    with pytest.raises(UserError, match="--select must be a whole number from 0 to 1"):
        select(result, 2, groups)

    out = write_selection(shapes, expected, tmp_path / "picked", {"cluster": 1})
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert files == sorted(shapes.relative(i) for i in expected)  # class/name, as in the source
    assert all(os.path.samefile(out / shapes.relative(i), shapes.files[i]) for i in expected)  # hard links
    manifest = json.loads((out / "selection.json").read_text())
    assert manifest["cluster"] == 1 and len(manifest["images"]) == 3
    with pytest.raises(UserError, match="already exists and is not an empty folder"):
        write_selection(shapes, expected, out)


def test_group_by_takes_a_product_id_from_the_file_name(tmp_path, fgl_cache) -> None:
    root = shapes_folder(tmp_path / "products", per_class=4, name=lambda shape, i: f"{shape}{i // 2}_view{i % 2}.png")
    Image.new("RGB", (64, 64)).save(root / "bar" / "stray.png")
    photos = load_photos(str(root))
    with pytest.warns(UserWarning, match="does not match 1 of the 13 file names"):
        keys = group_keys(photos, r"^(\w+?)_view")
    assert sorted({k for k in keys if k}) == ["bar0", "bar1", "disc0", "disc1", "square0", "square1"]
    result = cluster(photos, ["mask"], k=3, seed=0, progress=False)[0]
    chosen = select(result, 0, keys, 1)
    assert len(chosen) == 6 and {keys[i] for i in chosen} == {k for k in keys if k}
    with pytest.raises(UserError, match="matches none of the 13 file names"):
        group_keys(photos, r"^nothing")


def test_all_splits_of_a_folder_are_joined_with_the_union_of_their_classes(tmp_path, fgl_cache) -> None:
    for split, classes in (("train", ("bar", "disc")), ("validation", ("bar", "square"))):
        for shape in classes:
            (tmp_path / "tree" / split / shape).mkdir(parents=True)
            garment(shape, 0).save(tmp_path / "tree" / split / shape / f"{split}.png")
    photos = load_photos(str(tmp_path / "tree"))
    assert photos.class_names == list(SHAPES) and len(photos) == 4 and "all splits (train, validation)" in photos.title
    assert all(photos.class_names[int(label)] == file.parent.name for label, file in zip(photos.labels, photos.files))
    assert [photos.relative(i) for i in range(4)] == ["train/bar/train.png", "train/disc/train.png",
                                                      "validation/bar/validation.png", "validation/square/validation.png"]
    assert len(load_photos(str(tmp_path / "tree"), "validation")) == 2


def test_the_built_in_clothing_photos_come_with_their_files(real_data_env) -> None:
    photos = load_photos("clothing", "validation")
    assert len(photos) == len(photos.files) == 341 and len(photos.class_names) == 10
    assert photos.relative(0).startswith("validation/") and photos.images.shape[1:] == (3, 64, 64)
    for i in (0, 200, 340):  # each image is its file, decoded as the clothing set decodes it
        assert torch.equal(decode_image(photos.files[i], 64, 3), photos.images[i])
        assert photos.class_names[int(photos.labels[i])] == photos.files[i].parent.name
    with pytest.raises(UserError, match="has no split 'dev'"):
        load_photos("clothing", "dev")
    with pytest.raises(UserError, match="stored as arrays"):
        load_photos("fashion-mnist")


# --------------------------------------------------------------------------- command line


def test_bad_input_is_a_one_line_error(tmp_path, fgl_cache, capsys) -> None:
    from core.cli import main

    root = str(shapes_folder(tmp_path / "shapes", per_class=2))
    (tmp_path / "empty").mkdir()
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "old.txt").write_text("x")
    cases = {
        ("--data", root, "--features", "mask", "sobel"): "unknown feature kind 'sobel'",
        ("--data", root, "--k", "1"): "--k must be a whole number >= 2",
        ("--data", root, "--k", "7"): "k 7 is more clusters than the 6 images",
        ("--data", str(tmp_path / "empty")): "no images in",
        ("--data", str(tmp_path / "missing")): "does not exist",
        ("--data", root, "--k", "3", "--select", "3"): "--select must be a whole number from 0 to 2",
        ("--data", root, "--k", "3", "--select", "0", "--group-by", "(x"): "is not a regular expression",
        ("--data", root, "--k", "3", "--group-by", "x"): "give --select CLUSTER too",
        ("--data", root, "--k", "3", "--select", "0", "--select-out", str(tmp_path / "busy")): "not an empty folder",
        ("--data", root, "--split", "test"): "has no split 'test'; choose from: all, train",
    }
    for arguments, message in cases.items():
        assert main(["cluster", *arguments, "--out", str(tmp_path / "out"), "--no-progress"]) == 2, arguments
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1, (arguments, err)


def test_a_selection_from_the_cli_trains_a_mask_to_clothing_translator(tmp_path, fgl_cache, capsys) -> None:
    from core.cli import main

    root = shapes_folder(tmp_path / "shapes", per_class=6)
    out = tmp_path / "clusters"
    assert main(["cluster", "--data", f"folder:{root}", "--features", "mask", "edges", "--k", "3", "--seed", "1",
                 "--select", "0", "--per-group", "4", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "| mask |" in printed and "| edges |" in printed and "--recipe pix2pix-mask2clothing-64" in printed
    assert {p.name for p in out.iterdir()} == {"clusters-mask.png", "clusters-edges.png", "report.json", "report.md",
                                               "selected-mask-0"}
    selected = out / "selected-mask-0"
    assert sorted(p.name for p in selected.iterdir() if p.is_dir()) == list(SHAPES)
    assert all(len(list((selected / shape).iterdir())) == 4 for shape in SHAPES)

    run = tmp_path / "run"
    assert main(["train", "--recipe", "pix2pix-mask2clothing-64", "--preset", "smoke", "--steps", "2",
                 "--dataset", f"folder:{selected}", "--run-dir", str(run), "--no-progress"]) == 0
    assert (run / "translator" / "model.safetensors").is_file()
    config = json.loads((run / "config.json").read_text())
    assert config["dataset"] == f"folder:{selected}" and config["mode_options"] == {"source": "mask"}


# --------------------------------------------------------------------------- benchmark


def test_the_benchmark_writes_rows_for_every_feature_kind(tmp_path, fgl_cache) -> None:
    from benchmarks import clustering

    root = str(shapes_folder(tmp_path / "shapes", per_class=3))
    plan = clustering.scenarios(root, kinds=("mask", "grayscale"), k=3)
    assert [s.name for s in plan] == ["decode", "kmeans-mask-k3", "kmeans-grayscale-k3"]
    rows = [row for scenario in plan for row in clustering.run(scenario)]
    assert not [row.error for row in rows if row.error]
    metrics = {(row.model, row.metric): row for row in rows}
    assert metrics["decode", "decode_seconds"].value > 0 and metrics["decode", "decode_seconds"].params["images"] == 9
    assert os.environ["FGL_CACHE"] == str(fgl_cache)  # the fresh cache was only borrowed
    for kind in ("mask", "grayscale"):
        seconds = metrics[f"kmeans-{kind}-k3", "seconds"]
        assert seconds.value > 0 and sum(seconds.params["sizes"]) == 9 and seconds.params["images"] == 9
        assert metrics[f"kmeans-{kind}-k3", "images_per_s"].value == pytest.approx(9 / seconds.value)
        assert -1 <= metrics[f"kmeans-{kind}-k3", "silhouette"].value <= 1
    assert metrics["kmeans-mask-k3", "nmi"].value == pytest.approx(1.0)
    table = clustering.format_table(rows)
    assert "kmeans-mask-k3" in table and "1.000" in table
    broken = clustering.run(clustering.Scenario("mask", str(tmp_path / "missing")))
    assert len(broken) == 1 and broken[0].value is None and "does not exist" in broken[0].error


def test_cpu_threads_are_set_for_the_duration_only() -> None:
    from core.clustering import cpu_threads

    before = torch.get_num_threads()
    with cpu_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with cpu_threads(0):
        assert torch.get_num_threads() == before
