"""Dataset loading on the real shared data (Fashion-MNIST prefix, clothing photos)."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest
import torch
import torchvision

from core.data import DATASETS, clothing, load_dataset
from core.data.clothing import download_clothing
from core.errors import DataError, UserError

CLOTHING_CLASSES = ["dress", "hat", "longsleeve", "outwear", "pants", "shirt", "shoes", "shorts", "skirt", "t-shirt"]


@pytest.fixture(autouse=True)
def _private_cache(fgl_cache: Path) -> None:
    """Every test here gets an empty cache of its own."""


def copy_photos(data_root: Path, dest: Path, per_class: int = 2, classes=("dress", "hat")) -> Path:
    """A small clothing split: `per_class` real validation photos of each class, under `dest`."""
    for name in classes:
        (dest / name).mkdir(parents=True)
        for src in sorted((data_root / "clothing-small" / "validation" / name).glob("*.jpg"))[:per_class]:
            shutil.copy(src, dest / name / src.name)
    return dest


def make_archive(data_root: Path, tmp_path: Path, classes: tuple[str, ...]) -> Path:
    """A zip laid out like the GitHub archive: clothing-dataset-small-master/{train,validation,test}/<class>/."""
    top = tmp_path / "staging" / "clothing-dataset-small-master"
    for split in ("train", "validation", "test"):
        copy_photos(data_root, top / split, per_class=1, classes=classes)
    archive = tmp_path / "master.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(top.rglob("*")):
            zf.write(f, f.relative_to(top.parent).as_posix())
    return archive


# --- Fashion-MNIST ---


def test_fashion_mnist_splits_are_the_shared_prefix(data_root: Path) -> None:
    train = load_dataset("fashion-mnist", "train", root=data_root)
    test = load_dataset("fashion-mnist", "test", root=data_root)
    assert (len(train), len(test)) == (8226, 4443)
    assert train.images.dtype == torch.uint8 and train.images.shape == (8226, 1, 28, 28)
    assert train.labels.dtype == torch.int64 and set(train.labels.tolist()) == set(range(10))
    assert train.num_classes == 10 and train.class_names[:2] == ["T-shirt/top", "Trouser"]
    assert (train.image_size, train.channels) == (28, 1)
    assert train.describe() == "Fashion-MNIST, train split, 8,226 of 60,000 images (a subset)"


def test_fashion_mnist_32px_pads_with_black(data_root: Path) -> None:
    native = load_dataset("fashion-mnist", "test", root=data_root)
    padded = load_dataset("fashion-mnist", "test", image_size=32, root=data_root)
    assert padded.images.shape == (4443, 1, 32, 32)
    assert torch.equal(padded.images[:, :, 2:30, 2:30], native.images)
    border = padded.images.clone()
    border[:, :, 2:30, 2:30] = 0
    assert border.sum() == 0


def test_fashion_mnist_other_sizes_resize_and_channels_replicate(data_root: Path) -> None:
    data = load_dataset("fashion-mnist", "test", image_size=16, channels=3, root=data_root)
    assert data.images.shape == (4443, 3, 16, 16) and data.images.dtype == torch.uint8
    assert torch.equal(data.images[:, 0], data.images[:, 2])
    assert data.images.float().mean() > 10  # resized, not blanked


def test_batch_scales_to_minus_one_one(data_root: Path) -> None:
    data = load_dataset("fashion-mnist", "test", root=data_root)
    index = torch.tensor([0, 5, 7])
    images, labels = data.batch(index)
    assert images.shape == (3, 1, 28, 28) and images.dtype == torch.float32
    assert images.min() == -1.0 and images.max() == 1.0  # MNIST-style images use the full 0..255 range
    assert torch.equal(images, data.images[index].float() / 127.5 - 1)
    assert torch.equal(labels, data.labels[index])


def test_fashion_mnist_missing_without_download(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"not found in .*fashion-mnist.FashionMNIST.raw"):
        load_dataset("fashion-mnist", root=tmp_path, download=False)


def test_fashion_mnist_missing_and_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def offline(self) -> None:
        calls.append(self.root)
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "download", offline)
    with pytest.raises(DataError, match=r"could not be downloaded \(no network\?\): put the four \*-ubyte files"):
        load_dataset("fashion-mnist", root=tmp_path, download=True)
    assert calls == [str(tmp_path / "fashion-mnist")]  # it did try to download, to the right place


# --- clothing photos ---


def test_clothing_validation_decodes_then_hits_cache(
    data_root: Path, fgl_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = load_dataset("clothing", "validation", image_size=32, root=data_root)
    assert len(data) == 341 and data.images.shape == (341, 3, 32, 32) and data.images.dtype == torch.uint8
    assert data.class_names == CLOTHING_CLASSES
    assert set(data.labels.tolist()) == set(range(10))
    assert data.describe() == "Clothing photos (clothing-dataset-small), validation split, 341 images (complete split)"
    assert len(list(fgl_cache.glob("*.safetensors"))) == 1

    def no_decoding(*args):
        raise AssertionError("decoded again instead of reading the cache")

    monkeypatch.setattr(clothing, "_decode", no_decoding)
    again = load_dataset("clothing", "validation", image_size=32, root=data_root)
    assert torch.equal(again.images, data.images) and torch.equal(again.labels, data.labels)
    assert again.class_names == data.class_names


def test_clothing_cache_is_keyed_by_files_and_size(
    data_root: Path, tmp_path: Path, fgl_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_photos(data_root, tmp_path / "clothing-small" / "test")
    decoded: list[Path] = []
    real_decode = clothing._decode

    def counting_decode(path: Path, *args):
        decoded.append(path)
        return real_decode(path, *args)

    monkeypatch.setattr(clothing, "_decode", counting_decode)

    first = load_dataset("clothing", "test", image_size=16, root=tmp_path)
    load_dataset("clothing", "test", image_size=16, root=tmp_path)
    assert len(decoded) == 4  # the second load came from the cache
    gray = load_dataset("clothing", "test", image_size=16, channels=1, root=tmp_path)
    assert len(decoded) == 8 and gray.images.shape == (4, 1, 16, 16)
    extra = max((data_root / "clothing-small" / "validation" / "hat").glob("*.jpg"))
    shutil.copy(extra, tmp_path / "clothing-small" / "test" / "hat" / "new.jpg")
    grown = load_dataset("clothing", "test", image_size=16, root=tmp_path)
    assert len(decoded) == 13 and len(grown) == 5 and len(first) == 4
    assert grown.describe().endswith("5 of 372 images (a subset)")
    assert len(list(fgl_cache.glob("*.safetensors"))) == 3


def test_clothing_skips_non_images_with_a_warning(data_root: Path, tmp_path: Path) -> None:
    split = copy_photos(data_root, tmp_path / "clothing-small" / "train")
    (split / "dress" / "notes.txt").write_text("not a photo")
    (split / "hat" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with pytest.warns(UserWarning, match=r"skipped 2 unreadable or non-image files in .*train"):
        data = load_dataset("clothing", "train", image_size=24, root=tmp_path)
    assert len(data) == 4 and data.labels.tolist() == [0, 0, 1, 1]
    assert data.class_names == ["dress", "hat"]
    with pytest.warns(UserWarning, match="skipped 2"):  # a cache hit still reports them
        load_dataset("clothing", "train", image_size=24, root=tmp_path)


def test_clothing_empty_split_folder(tmp_path: Path) -> None:
    (tmp_path / "clothing-small" / "train" / "dress").mkdir(parents=True)
    with pytest.raises(DataError, match=r"no images found in .*train"):
        load_dataset("clothing", "train", root=tmp_path)


def test_clothing_missing_without_download(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"clothing photos not found in .*clothing-small: put the train/validation/test"):
        load_dataset("clothing", "train", root=tmp_path, download=False)


def test_download_from_local_archive(data_root: Path, tmp_path: Path) -> None:
    archive = make_archive(data_root, tmp_path, ("dress", "hat"))
    root = tmp_path / "data"
    target = download_clothing(root, url=archive.as_uri())
    assert target == root / "clothing-small"
    assert sorted(p.name for p in root.iterdir()) == ["clothing-small"]  # no temp leftovers
    data = load_dataset("clothing", "test", image_size=16, root=root, download=False)
    assert data.class_names == ["dress", "hat"] and len(data) == 2
    assert data.images.shape == (2, 3, 16, 16)


def test_load_downloads_when_missing(data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = make_archive(data_root, tmp_path, ("shoes",))
    monkeypatch.setattr(clothing, "CLOTHING_URL", archive.as_uri())
    data = load_dataset("clothing", "validation", image_size=8, root=tmp_path / "data")
    assert data.class_names == ["shoes"] and len(data) == 1


def test_download_failure_is_one_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="could not download the clothing photos"):
        download_clothing(tmp_path, url=(tmp_path / "nowhere.zip").as_uri())
    assert list(tmp_path.iterdir()) == []  # the temporary folder is gone too


# --- names, splits, arguments ---


def test_unknown_dataset_lists_known_names() -> None:
    with pytest.raises(UserError, match=r"unknown dataset 'mnist'; known: .*clothing, .*fashion-mnist"):
        load_dataset("mnist")
    assert {"clothing", "fashion-mnist"} <= set(DATASETS.names())


def test_unknown_split(data_root: Path) -> None:
    with pytest.raises(DataError, match=r"^unknown split 'validation' for fashion-mnist; choose from: train, test$"):
        load_dataset("fashion-mnist", "validation", root=data_root)


@pytest.mark.parametrize("kwargs", [{"image_size": 0}, {"image_size": True}, {"channels": 2}])
def test_bad_arguments(kwargs: dict, data_root: Path) -> None:
    with pytest.raises(UserError):
        load_dataset("fashion-mnist", root=data_root, **kwargs)


def test_damaged_clothing_cache_is_a_miss_and_gets_rewritten(data_root: Path, fgl_cache: Path) -> None:
    first = load_dataset("clothing", "validation", image_size=16, root=data_root)
    (cache_file,) = fgl_cache.glob("clothing-validation-16px-*.safetensors")
    cache_file.write_bytes(b"not a safetensors file")
    again = load_dataset("clothing", "validation", image_size=16, root=data_root)
    assert torch.equal(again.images, first.images)
    assert cache_file.stat().st_size > 1000  # rewritten with real tensors
