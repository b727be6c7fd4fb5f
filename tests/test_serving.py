"""The serving benchmark: a Space served over HTTP, loaded by concurrent clients, measured in rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import serving
from core.hub import save_model
from core.models import DCGANConfig, DCGANGenerator


@pytest.fixture
def tiny_space(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = DCGANConfig(image_size=28, channels=1, z_dim=8, num_classes=3, width=8, class_names=["a", "b", "c"])
    save_model(DCGANGenerator(config), tmp_path / "models" / "dcgan-tiny")
    monkeypatch.setenv("MODEL_SOURCE", str(tmp_path / "models"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")


def test_a_space_under_concurrent_clients_gives_latency_throughput_and_error_rows(tiny_space) -> None:
    rows = serving.run(serving.Scenario("dcgan", clients=3, seconds=1.5))
    figures = {row.metric: row.value for row in rows}
    assert all(row.error is None for row in rows), [row.error for row in rows]
    assert figures["errors"] == 0 and figures["calls_per_s"] > 0 and rows[0].params["calls"] >= 3
    assert 0 < figures["latency_ms_p50"] <= figures["latency_ms_p95"]
    assert figures["temp_dir_mb"] > 0  # the images it sent went through Gradio's cache, which is measured
    assert "p95 ms" in serving.format_table(rows) and "dcgan" in serving.format_table(rows)


def test_a_space_that_cannot_serve_is_error_rows(tiny_space, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = serving.Endpoint(serving._space("apps.dcgan.app"), "/no_such_endpoint", lambda demo: ())
    monkeypatch.setitem(serving.ENDPOINTS, "dcgan", broken)
    rows = serving.run(serving.Scenario("dcgan", clients=1, seconds=0.5))
    assert rows and all(row.value is None and row.error for row in rows)


def test_gradio_writes_each_cached_answer_once_and_whole(tmp_path: Path) -> None:
    """Under load, Gradio rewrote a content-addressed cache file in place while an earlier response streamed
    it (Content-Length mismatches). The Spaces' cache write leaves an existing file alone and lands new ones whole."""
    import os

    from gradio import processing_utils
    from PIL import Image

    from core.demos import components

    assert processing_utils.save_pil_to_cache is components.save_pil_to_cache  # what every Space's images go through
    image = Image.new("L", (50, 40), 3)
    first = components.save_pil_to_cache(image, str(tmp_path), format="png")
    inode = os.stat(first).st_ino
    with open(first, "rb") as streaming:  # a response still sending the first answer
        again = components.save_pil_to_cache(image, str(tmp_path), format="png")
        assert again == first and os.stat(again).st_ino == inode  # not rewritten
        assert streaming.read() == Path(first).read_bytes()
    with Image.open(first) as cached:
        assert cached.size == (50, 40)
    assert not list(tmp_path.rglob("*.tmp"))
