"""The user's own images: folder: and hf: sources, in memory and streamed, on tiny images each test makes."""

from __future__ import annotations

import gc
import io
import json
import multiprocessing
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.cli import main
from core.data import ImageData, load_dataset
from core.data import sources as sources_module
from core.data.folder import USER_IMAGES, FolderSource, decode_image
from core.data.stream import StreamingData
from core.errors import DataError, UserError
from core.train import resolve_config, train
from core.train.batches import BatchSchedule, BatchStream
from core.train.checkpoint import load_state

datasets = pytest.importorskip("datasets")


@pytest.fixture(autouse=True)
def _private_caches(fgl_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty dataset cache per test, the Hugging Face cache under tmp_path, and the Hub offline."""
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)


def picture(seed: int, size: tuple[int, int] = (24, 18), mode: str = "RGB") -> Image.Image:
    """A small image with a per-seed pattern, so every image differs from the others."""
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    return Image.fromarray(pixels[..., 0] if mode == "L" else pixels, mode)


def make_folder(root: Path, classes: dict[str, int] | None = None, flat: int = 0, fmt: str = "png") -> Path:
    """`classes` {name: count} as class subfolders, or `flat` images directly in `root`; sizes vary."""
    root.mkdir(parents=True, exist_ok=True)
    seed = 0
    for name, count in (classes or {}).items():
        (root / name).mkdir()
        for i in range(count):
            picture(seed, (20 + 4 * (i % 3), 16 + 6 * (i % 2))).save(root / name / f"{i:02d}.{fmt}")
            seed += 1
    for i in range(flat):
        picture(100 + i, (18 + 5 * (i % 4), 26)).save(root / f"{i:02d}.{fmt}")
    return root


def encoded(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def hf_dataset(n: int = 10, with_labels: bool = True):
    """An in-memory datasets.Dataset: an Image column and a ClassLabel column (two classes, alternating)."""
    features = {"image": datasets.Image()}
    columns = {"image": [{"bytes": encoded(picture(i, (16 + i % 3 * 4, 20))), "path": None} for i in range(n)]}
    if with_labels:
        features["label"] = datasets.ClassLabel(names=["boots", "shirts"])
        columns["label"] = [i % 2 for i in range(n)]
    return datasets.Dataset.from_dict(columns, features=datasets.Features(features))


def reads(stream: BatchStream, steps: list[int]) -> list[dict[str, torch.Tensor]]:
    return [stream(step, repeat) for step in steps for repeat in range(stream.per_step)]


def assert_same_batches(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert torch.equal(x["images"], y["images"]) and torch.equal(x["labels"], y["labels"])


def children() -> list:
    time.sleep(0.05)  # a stopped worker leaves the table once it is reaped
    return multiprocessing.active_children()


# --- folder: layout, labels, errors ---


def test_a_class_tree_gives_sorted_classes_and_labels(tmp_path) -> None:
    root = make_folder(tmp_path / "shop", {"shoes": 3, "bags": 2})
    (root / "bags" / "more").mkdir()
    picture(50).save(root / "bags" / "more" / "deep.jpg")  # class folders are read at any depth
    (root / "notes.txt").write_text("not an image, not in a class")
    picture(51).save(root / ".hidden.png")
    data = load_dataset(f"folder:{root}", image_size=8, loading="memory")
    assert isinstance(data, ImageData) and data.class_names == ["bags", "shoes"]
    assert data.labels.tolist() == [0, 0, 0, 1, 1, 1] and data.images.shape == (6, 3, 8, 8)
    assert data.describe() == f"folder {root}, train split, 6 images, 2 classes"
    picture(52).save(root / "loose.png")
    with pytest.warns(UserWarning, match=r"1 image\(s\) directly in .* are in no class folder"):
        load_dataset(f"folder:{root}", image_size=8, loading="memory")


def test_a_flat_folder_is_one_class_and_refuses_conditional_training(tmp_path) -> None:
    root = make_folder(tmp_path / "jewellery", flat=5)
    data = load_dataset(f"folder:{root}", image_size=8)
    assert data.class_names == ["jewellery"] and data.labels.tolist() == [0] * 5
    assert data.describe().endswith("5 images, 1 class (no labels)")
    with pytest.raises(UserError, match=r"one class \(no labels\).*pass --set conditional=false"):
        load_dataset(f"folder:{root}", image_size=8, conditional=True)


@pytest.mark.parametrize(
    "layout, message",
    [
        ("missing", r"does not exist"),
        ("file", r"is a file, not a folder"),
        ("empty", r"no images in .*empty"),
        ("empty-class", r"class folder\(s\) hats .*hold no images"),
        ("only-text", r"no images in"),
    ],
)
def test_folder_mistakes_are_one_line_data_errors(tmp_path, layout, message) -> None:
    root = tmp_path / "empty"
    if layout == "file":
        root.write_bytes(b"x")
    elif layout != "missing":
        root.mkdir()
    if layout == "empty-class":
        make_folder(root / "x", {"caps": 1})
        root = root / "x"
        (root / "hats").mkdir()
    if layout == "only-text":
        (root / "readme.txt").write_text("hello")
    with pytest.raises(DataError, match=message) as caught:
        load_dataset(f"folder:{root}", image_size=8)
    assert "\n" not in str(caught.value)


def test_splits_are_subfolders_when_there_is_a_train_folder(tmp_path) -> None:
    tree = tmp_path / "tree"
    make_folder(tree / "train", {"a": 2, "b": 2})
    make_folder(tree / "validation", {"a": 1, "b": 1})
    assert len(load_dataset(f"folder:{tree}", "validation", image_size=8)) == 2
    assert len(load_dataset(f"folder:{tree}", "train", image_size=8)) == 4
    with pytest.raises(DataError, match=r"no 'test' split in .*; its split folders: train, validation"):
        load_dataset(f"folder:{tree}", "test", image_size=8)
    flat = make_folder(tmp_path / "flat", flat=3)
    with pytest.raises(DataError, match=r"is the 'train' split alone .*--set split=train"):
        load_dataset(f"folder:{flat}", "validation", image_size=8)


def test_mixed_sizes_are_resized_on_the_shorter_side_and_centre_cropped(tmp_path) -> None:
    root = tmp_path / "sizes"
    root.mkdir()
    wide = Image.new("RGB", (40, 20), (255, 0, 0))
    wide.paste((0, 0, 255), (20, 0, 40, 20))  # left half red, right half blue
    wide.save(root / "a-wide.png")
    Image.new("RGB", (10, 30), (0, 255, 0)).save(root / "b-tall.png")
    cutout = Image.new("RGBA", (12, 12), (0, 0, 0, 0))  # transparent: becomes white, not black
    cutout.save(root / "c-cutout.png")
    data = load_dataset(f"folder:{root}", image_size=8)
    assert data.images.shape == (3, 3, 8, 8)
    red, blue = data.images[0, :, 4, 0], data.images[0, :, 4, 7]
    assert red.tolist() == [255, 0, 0] and blue.tolist() == [0, 0, 255]  # a 16 x 8 resize, its centre 8 x 8
    assert (data.images[1] == torch.tensor([0, 255, 0]).view(3, 1, 1)).all()
    assert (data.images[2] == 255).all()


def test_grayscale_folders_have_one_channel_unless_asked(tmp_path) -> None:
    root = tmp_path / "sketches"
    root.mkdir()
    for i in range(3):
        picture(i, mode="L").save(root / f"{i}.png")
    assert load_dataset(f"folder:{root}", image_size=8).channels == 1
    assert load_dataset(f"folder:{root}", image_size=8, channels=3).channels == 3
    picture(9).save(root / "colour.png")
    assert load_dataset(f"folder:{root}", image_size=8).channels == 3


def test_jpegs_decode_at_reduced_scale_close_to_the_full_decode(tmp_path) -> None:
    photo = tmp_path / "photo.jpg"
    Image.fromarray(
        np.kron(np.random.default_rng(0).integers(0, 256, (8, 8, 3)), np.ones((32, 32, 1))).astype(np.uint8)
    ).save(photo, quality=95)
    fast = decode_image(photo, 16, 3, USER_IMAGES).float()
    full = decode_image(photo, 16, 3).float()  # the built-in clothing decoding: no draft
    assert fast.shape == full.shape == (3, 16, 16) and (fast - full).abs().mean() < 4


def test_unreadable_files_are_skipped_and_counted(tmp_path, monkeypatch) -> None:
    root = make_folder(tmp_path / "mixed", {"a": 3, "b": 3})
    (root / "a" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "b" / "empty.png").write_bytes(b"")
    picture(7, (300, 300)).save(root / "b" / "poster.png")
    monkeypatch.setattr("core.data.folder.MAX_PHOTO_PIXELS", 200 * 200)  # the poster is now a "decompression bomb"
    with pytest.warns(UserWarning, match=r"skipped 3 unreadable or non-image files"):
        data = load_dataset(f"folder:{root}", image_size=8, loading="memory")
    assert len(data) == 6 and data.labels.tolist() == [0, 0, 0, 1, 1, 1]
    with pytest.warns(UserWarning, match="skipped 3"):  # a cache hit still says so
        load_dataset(f"folder:{root}", image_size=8, loading="memory")
    with pytest.warns(UserWarning, match="skipped 3"):
        streamed = load_dataset(f"folder:{root}", image_size=8, loading="stream", workers=1)
    with streamed:
        assert len(streamed) == 6
        assert_same_batches(
            reads(BatchStream(data, 4, seed=1), [0, 1, 2]), reads(BatchStream(streamed, 4, seed=1), [0, 1, 2])
        )


def test_decoded_folders_are_cached_by_their_files(tmp_path, fgl_cache, monkeypatch) -> None:
    root = make_folder(tmp_path / "cached", {"a": 2, "b": 2})
    first = load_dataset(f"folder:{root}", image_size=8)
    assert len(list(fgl_cache.glob("folder-*-8px-3ch-u1-v1.safetensors"))) == 1

    def no_decoding(*args):
        raise AssertionError("decoded again instead of reading the cache")

    with monkeypatch.context() as patch:
        patch.setattr("core.data.stream.decode_image", no_decoding)
        again = load_dataset(f"folder:{root}", image_size=8)
    assert torch.equal(again.images, first.images) and torch.equal(again.labels, first.labels)
    picture(99).save(root / "b" / "new.png")
    assert len(load_dataset(f"folder:{root}", image_size=8)) == 5  # a new file is a new key
    assert len(list(fgl_cache.glob("folder-*.safetensors"))) == 2


# --- hf: ---


@pytest.fixture
def saved_dict(tmp_path) -> Path:
    """A DatasetDict (train 10, test 4) written by save_to_disk."""
    full = hf_dataset(10)
    datasets.DatasetDict(train=full, test=hf_dataset(4)).save_to_disk(str(tmp_path / "saved"))
    return tmp_path / "saved"


def test_hf_from_save_to_disk(saved_dict) -> None:
    train_split = load_dataset(f"hf:{saved_dict}", image_size=8)
    assert len(train_split) == 10 and train_split.class_names == ["boots", "shirts"]
    assert train_split.labels.tolist() == [0, 1] * 5 and train_split.images.shape == (10, 3, 8, 8)
    assert train_split.describe() == f"hf {saved_dict}, train split, 10 images, 2 classes"
    assert len(load_dataset(f"hf:{saved_dict}", "test", image_size=8)) == 4
    with pytest.raises(DataError, match=r"unknown split 'validation'; known: train, test"):
        load_dataset(f"hf:{saved_dict}", "validation", image_size=8)
    unlabelled = load_dataset(f"hf:{saved_dict}?label=none", image_size=8)
    assert unlabelled.class_names == ["saved"] and torch.equal(unlabelled.images, train_split.images)
    with load_dataset(f"hf:{saved_dict}", image_size=8, loading="stream", workers=1) as streamed:
        assert "streamed by 1 worker" in streamed.describe()
        options = {"batch_size": 4, "seed": 3, "hflip": True}
        assert_same_batches(
            reads(BatchStream(streamed, **options), [0, 1, 2, 1]),
            reads(BatchStream(train_split, **options), [0, 1, 2, 1]),
        )


def test_hf_from_parquet_files_reads_the_same_images(saved_dict, tmp_path) -> None:
    folder = tmp_path / "parquet"
    folder.mkdir()
    hf_dataset(10).to_parquet(str(folder / "train-00000-of-00001.parquet"))
    from_parquet = load_dataset(f"hf:{folder}", image_size=8)
    from_disk = load_dataset(f"hf:{saved_dict}", image_size=8)
    assert torch.equal(from_parquet.images, from_disk.images) and from_parquet.class_names == ["boots", "shirts"]


def test_hf_single_dataset_and_named_columns(tmp_path) -> None:
    single = hf_dataset(6, with_labels=False).add_column("category", ["x", "y", "x", "z", "y", "x"])
    single = single.rename_column("image", "photo")
    single.save_to_disk(str(tmp_path / "single"))
    data = load_dataset(f"hf:{tmp_path / 'single'}?label=category", image_size=8)  # the Image feature is found by type
    assert data.class_names == ["x", "y", "z"] and data.labels.tolist() == [0, 1, 0, 2, 1, 0]
    with pytest.raises(DataError, match=r"unknown split 'test'; known: train \(a single saved Dataset\)"):
        load_dataset(f"hf:{tmp_path / 'single'}", "test", image_size=8)
    with pytest.raises(DataError, match=r"no label column 'colour'; columns: photo, category"):
        load_dataset(f"hf:{tmp_path / 'single'}?label=colour", image_size=8)


def test_hf_mistakes_are_one_line_data_errors(tmp_path) -> None:
    datasets.Dataset.from_dict({"text": ["a", "b"], "label": [0, 1]}).save_to_disk(str(tmp_path / "text"))
    with pytest.raises(DataError, match=r"no image column .*columns: text, label"):
        load_dataset(f"hf:{tmp_path / 'text'}", image_size=8)
    (tmp_path / "empty").mkdir()
    hf_dataset(0).to_parquet(str(tmp_path / "empty" / "train-00000-of-00001.parquet"))
    with pytest.raises(DataError, match=r"the 'train' split is empty"):
        load_dataset(f"hf:{tmp_path / 'empty'}", image_size=8)
    with pytest.raises(DataError, match=r"is not a folder"):
        load_dataset(f"hf:{tmp_path / 'absent'}", image_size=8)
    (tmp_path / "junk").mkdir()
    with pytest.raises(DataError, match=r"neither a data set written by save_to_disk .* nor parquet files"):
        load_dataset(f"hf:{tmp_path / 'junk'}", image_size=8)
    with pytest.raises(UserError, match=r"unknown option 'colour'"):
        load_dataset(f"hf:{tmp_path / 'text'}?colour=red", image_size=8)


def test_an_uncached_hub_id_offline_is_one_line(monkeypatch) -> None:
    started = time.monotonic()
    with pytest.raises(
        DataError, match=r"hf:someone/not-cached:small: not in the local Hugging Face cache .*HF_HUB_OFFLINE=1"
    ):
        load_dataset("hf:someone/not-cached:small", image_size=8)
    assert time.monotonic() - started < 20  # no network retries
    with pytest.raises(UserError, match=r"is not a Hub data set id"):
        load_dataset("hf:not a repo", image_size=8)


# --- streaming ---


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_streaming_reads_the_in_memory_batches_bit_for_bit(tmp_path, workers) -> None:
    root = make_folder(tmp_path / "stream", {"a": 7, "b": 6, "c": 7}, fmt="jpg")
    memory = load_dataset(f"folder:{root}", image_size=12, pad=2, loading="memory")
    if workers:
        streamed = load_dataset(f"folder:{root}", image_size=12, pad=2, loading="stream", workers=workers)
    else:  # decoded in this process (load_dataset's workers=0 means automatic)
        source = FolderSource.open(f"folder:{root}", "train")
        streamed = StreamingData(source, sources_module.readable(source), 12, 3, pad=2, workers=0)
    assert isinstance(streamed, StreamingData) and streamed.image_size == memory.image_size == 16
    assert len(streamed) == len(memory) == 20 and streamed.class_names == memory.class_names
    options = {"batch_size": 4, "seed": 5, "hflip": True, "shift": 2, "per_step": 2}
    expected = reads(BatchStream(memory, **options), list(range(8)))
    with streamed:
        assert_same_batches(reads(BatchStream(streamed, **options), list(range(8))), expected)
        # resuming at step 5 (a new stream), then random access backwards and forwards
        resumed = BatchStream(streamed, **options)
        assert_same_batches(reads(resumed, [5, 6, 7]), expected[10:])
        assert_same_batches(reads(resumed, [0, 6, 1]), [*expected[0:2], *expected[12:14], *expected[2:4]])
        assert len(children()) == workers
    assert children() == []
    with pytest.raises(UserError, match=r"is streamed .*data_loading=memory"):
        streamed.images  # noqa: B018


def test_streaming_follows_a_changing_batch_size(tmp_path) -> None:
    root = make_folder(tmp_path / "schedule", {"a": 9, "b": 9})
    memory = load_dataset(f"folder:{root}", image_size=8, loading="memory")
    schedule = BatchSchedule(starts=(0, 3), sizes=(4, 8))
    with load_dataset(f"folder:{root}", image_size=8, loading="stream", workers=1) as streamed:
        assert_same_batches(
            reads(BatchStream(streamed, 8, seed=2, schedule=schedule), list(range(7))),
            reads(BatchStream(memory, 8, seed=2, schedule=schedule), list(range(7))),
        )


def test_workers_outlive_a_ctrl_c_and_stop_when_the_data_is_dropped(tmp_path) -> None:
    root = make_folder(tmp_path / "drop", flat=12)
    streamed = load_dataset(f"folder:{root}", image_size=8, loading="stream", workers=1)
    stream = BatchStream(streamed, 2, seed=0)
    stream(0)
    (worker,) = children()
    os.kill(worker.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group; the trainer finishes its step
    time.sleep(0.2)
    assert worker.is_alive() and torch.equal(stream(3)["images"], stream(3)["images"])
    del streamed, stream
    gc.collect()
    assert children() == []


def test_a_file_that_fails_late_is_replaced_when_streamed(tmp_path) -> None:
    root = make_folder(tmp_path / "late", flat=6, fmt="jpg")
    picture(3, (200, 150)).save(root / "02.jpg")  # large enough that its first half holds the whole header
    whole = (root / "02.jpg").read_bytes()
    (root / "02.jpg").write_bytes(whole[: len(whole) // 2])  # the header reads, the pixels do not
    with load_dataset(f"folder:{root}", image_size=8, loading="stream", workers=1) as streamed:
        assert len(streamed) == 6
        with pytest.warns(UserWarning, match=r"1 image\(s\) of .* could not be decoded; each is replaced"):
            images, _ = streamed.batch(torch.arange(6))
    assert torch.equal(images[2], images[3])  # the next readable image stands in
    with pytest.warns(UserWarning, match="skipped 1"):
        assert len(load_dataset(f"folder:{root}", image_size=8, loading="memory")) == 5
    for name in ("00.jpg", "01.jpg", "03.jpg", "04.jpg", "05.jpg"):
        (root / name).write_bytes(whole[: len(whole) // 2])
    broken = load_dataset(f"folder:{root}", image_size=8, loading="stream", workers=1)
    with broken, pytest.raises(DataError, match=r"^none of the 6 images of folder .* could be decoded$"):
        broken.batch(torch.arange(2))  # raised in a worker, arriving as one line


def test_auto_streams_above_the_memory_budget(tmp_path, monkeypatch) -> None:
    root = make_folder(tmp_path / "auto", flat=8)
    assert isinstance(load_dataset(f"folder:{root}", image_size=8), ImageData)
    monkeypatch.setattr(sources_module, "memory_budget", lambda: 8 * 3 * 8 * 8 - 1)  # one byte short
    streamed = load_dataset(f"folder:{root}", image_size=8)
    assert isinstance(streamed, StreamingData) and "streamed by" in streamed.describe()
    streamed.close()
    monkeypatch.setattr(sources_module, "memory_budget", lambda: 8 * 3 * 8 * 8)
    assert isinstance(load_dataset(f"folder:{root}", image_size=8), ImageData)


def test_loading_choices_are_checked(tmp_path) -> None:
    root = make_folder(tmp_path / "x", flat=2)
    with pytest.raises(UserError, match="data_loading must be one of auto, memory, stream"):
        load_dataset(f"folder:{root}", loading="disk")
    with pytest.raises(UserError, match="data_loading=stream is for folder: and hf: sources"):
        load_dataset("fashion-mnist", loading="stream")
    with pytest.raises(UserError, match="data_loading must be one of"):
        resolve_config("dcgan-fashion-mnist", "smoke", {"data_loading": "fast"})
    with pytest.raises(UserError, match="workers must be a whole number from 0"):
        resolve_config("dcgan-fashion-mnist", "smoke", {"workers": -1})


# --- training ---


def smoke(dataset: str, **overrides):
    return resolve_config(
        "dcgan-fashion-mnist",
        "smoke",
        {"dataset": dataset, "steps": 2, "bn_recalibration": 1, "preview_count": 4, **overrides},
    )


def test_a_smoke_run_on_a_folder_streamed_ends_in_the_in_memory_state(tmp_path, assert_same_state) -> None:
    root = make_folder(tmp_path / "shop", {"bags": 9, "shoes": 9})
    memory = train(smoke(f"folder:{root}", data_loading="memory"), tmp_path / "memory", progress=False)
    assert memory.step == 2 and (tmp_path / "memory" / "generator" / "model.safetensors").is_file()
    summary = json.loads((tmp_path / "memory" / "summary.json").read_text())
    assert summary["data"] == f"folder {root}, train split, 18 images, 2 classes" and summary["num_images"] == 18
    train(smoke(f"folder:{root}", data_loading="stream", workers=1), tmp_path / "stream", progress=False)
    gc.collect()
    assert children() == []
    assert_same_state(
        load_state(tmp_path / "memory" / "checkpoints" / "last"),
        load_state(tmp_path / "stream" / "checkpoints" / "last"),
    )


def test_a_smoke_run_on_an_hf_copy(saved_dict, tmp_path) -> None:
    result = train(smoke(f"hf:{saved_dict}", batch_size=4), tmp_path / "run", progress=False)
    assert result.step == 2
    assert json.loads((tmp_path / "run" / "generator" / "config.json").read_text())["class_names"] == [
        "boots",
        "shirts",
    ]


def test_the_cli_takes_a_dataset(tmp_path, capsys) -> None:
    assert (
        main(["train", "--recipe", "dcgan-fashion-mnist", "--preset", "smoke", "--dataset", "folder:/nonexistent/x"])
        == 2
    )
    captured = capsys.readouterr()
    assert captured.err == "error: folder:/nonexistent/x: /nonexistent/x does not exist\n" and captured.out == ""
    root = make_folder(tmp_path / "jewellery", flat=9)
    argv = ["train", "--recipe", "cocogan-clothing-64", "--dataset", f"folder:{root}", "--set", "conditional=false"]
    assert main([*argv, "--dry-run"]) == 0
    config = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert config["dataset"] == f"folder:{root}" and config["split"] == "train" and config["conditional"] is False
    assert (
        main(
            [
                "train",
                "--recipe",
                "dcgan-clothing-64",
                "--preset",
                "smoke",
                "--steps",
                "1",
                "--dataset",
                f"folder:{root}",
                "--run-dir",
                str(tmp_path / "conditional"),
                "--no-progress",
            ]
        )
        == 2
    )
    assert "--set conditional=false" in capsys.readouterr().err


def test_the_clothing_photos_still_decode_as_in_the_first_release(data_root) -> None:
    """The shared decoder, with the clothing decoding, against the first release's steps written out here:
    shipped models' numbers depend on these pixels (and cache files on them)."""
    import torchvision.transforms.functional as TF

    from core.data import clothing

    folder = data_root / "clothing-small" / "validation"
    _, files = FolderSource.open(f"folder:{folder}", "train"), sorted((folder / "hat").iterdir())[:4]
    for path in files:
        with Image.open(path) as im:
            rgb = TF.center_crop(TF.resize(im.convert("RGB"), 24, antialias=True), 24)
        assert torch.equal(clothing._decode(path, 24, 3), TF.pil_to_tensor(rgb))
        assert torch.equal(clothing._decode(path, 24, 1), TF.pil_to_tensor(rgb.convert("L")))
