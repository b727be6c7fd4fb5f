"""The translation benchmark: its image metrics in closed form, a run on tiny random translators (a paired one, its
unet-l1 twin, a StarGAN, a missing and a broken folder), the report's table and summary, and the dashboard page."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from streamlit.testing.v1 import AppTest

from benchmarks import translation
from core import report
from core.hub import save_model
from core.models import MODELS
from core.paths import PROJECT_ROOT
from core.results import read_rows

CLASSES = ["dress", "hat", "longsleeve", "outwear", "pants", "shirt", "shoes", "shorts", "skirt", "t-shirt"]
PAIRED = {"fid", "kid_mean", "kid_std", "l1", "psnr", "ssim"}


# --- the metrics, in closed form ---


def test_ssim_is_one_for_the_same_image_and_falls_with_noise() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 32, 32, generator=g)
    assert translation.ssim(x, x).tolist() == pytest.approx([1.0] * 3, abs=1e-12)
    noise = torch.randn(3, 3, 32, 32, generator=g)
    scores = [float(translation.ssim(x, (x + s * noise).clamp(0, 1)).mean()) for s in (0.02, 0.1, 0.3)]
    assert 1 > scores[0] > scores[1] > scores[2]
    window = translation.gaussian_window()
    assert window.shape == (11,) and float(window.sum()) == pytest.approx(1.0) and int(window.argmax()) == 5
    # two flat images: only the luminance term is left, (2 a b + C1) / (a^2 + b^2 + C1)
    a, b = torch.full((1, 1, 16, 16), 0.2), torch.full((1, 1, 16, 16), 0.6)
    c1 = 0.01**2
    assert float(translation.ssim(a, b)) == pytest.approx((2 * 0.2 * 0.6 + c1) / (0.2**2 + 0.6**2 + c1))
    with pytest.raises(ValueError, match="smaller than"):
        translation.ssim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))


def test_psnr_and_l1_of_a_constant_shift() -> None:
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 0.5 + 0.25  # shifting stays in [0, 1]
    assert translation.psnr(x, x + 0.1).tolist() == pytest.approx([20.0, 20.0])  # 10 log10(1 / 0.1^2)
    assert translation.psnr(x, x + 0.01).tolist() == pytest.approx([40.0, 40.0])
    assert translation.psnr(x, x).tolist() == pytest.approx([100.0, 100.0])  # finite for identical images
    assert translation.l1(x, x + 0.1).tolist() == pytest.approx([0.1, 0.1])


def test_colourfulness_in_closed_form() -> None:
    gray = torch.rand(2, 1, 8, 8).mul(255).expand(-1, 3, -1, -1)
    assert translation.colourfulness(gray).tolist() == [0.0, 0.0]
    red = torch.zeros(1, 3, 8, 8)
    red[:, 0] = 255  # rg = 255, yb = 127.5 everywhere: no spread
    assert float(translation.colourfulness(red)) == pytest.approx(0.3 * math.hypot(255, 127.5))
    halves = torch.zeros(1, 3, 8, 8)
    halves[:, 0, :4], halves[:, 1, 4:] = 255, 255  # red over green: rg = +-255 (std 255, mean 0), yb = 127.5
    assert float(translation.colourfulness(halves)) == pytest.approx(255 + 0.3 * 127.5)


def test_diversity_targets_and_reference_mix() -> None:
    same = torch.rand(4, 1, 3, 8, 8).expand(-1, 3, -1, -1, -1)  # 4 inputs, 3 identical outputs each
    assert translation.pairwise_l1(same).tolist() == [0.0] * 4
    two = torch.stack([torch.zeros(3, 8, 8), torch.full((3, 8, 8), 0.5)])[None]
    assert translation.pairwise_l1(two).tolist() == pytest.approx([0.5])
    labels = torch.tensor([0, 0, 0, 0, 2, 2, 2])
    targets = translation.other_classes(labels, 4)
    assert not bool((targets == labels).any()) and targets[:4].tolist() == [1, 2, 3, 1]
    ref_labels = torch.tensor([0] * 10 + [1] * 4 + [2] * 20)
    mix = translation.class_mix(torch.arange(34), ref_labels, wanted=[0, 0, 1])  # 2:1, as far as class 1's 4 allow
    assert mix.tolist() == [*range(8), 10, 11, 12, 13]
    assert translation.class_mix(torch.arange(34), ref_labels, [2] * 3, limit=5).tolist() == list(range(14, 19))


# --- the benchmark on tiny random translators ---


def export(folder: Path, family: str, **config) -> Path:
    torch.manual_seed(0)
    spec = MODELS.get(family)
    network = spec.build(spec.make_config(image_size=64, width=4, max_width=8, **config))[spec.exported]
    return save_model(network, folder, family=family)


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory, data_root: Path):
    """One run of `python -m benchmarks.translation --models ...` on tiny translators, sharing its rows."""
    folder = tmp_path_factory.mktemp("translation")
    paired = export(folder / "pix2pix-tiny", "pix2pix", in_channels=1, source="edges")
    export(folder / "pool" / "unet-l1-tiny", "unet-l1", in_channels=1, source="edges")  # found as the baseline
    domains = export(folder / "stargan-tiny", "stargan", num_classes=10, class_names=CLASSES, blocks=1)
    broken = folder / "broken"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"family": "pix2pix", "image_size": 63}))
    out = folder / "translation.jsonl"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATA_ROOT", str(data_root))
        patch.setenv("FGL_CACHE", str(folder / "cache"))
        code = translation.main([
            "--models", str(paired), str(domains), str(folder / "not-there"), str(broken),
            "--limit", "10", "--reference-split", "test", "--reference-limit", "20", "--kid-subsets", "5",
            "--baselines-from", str(folder / "pool"), "--device", "cpu", "--out", str(out),
        ])
        yield code, read_rows(out), folder, patch


def test_rows_of_every_candidate_with_their_baselines(measured) -> None:
    code, rows, _, _ = measured
    assert code == 1  # the broken folder's error rows
    by_model: dict[str, list[dict]] = {}
    for row in rows:
        by_model.setdefault(row["model"], []).append(row)
    assert set(by_model) == {"pix2pix-tiny", "unet-l1-tiny", "identity-edges2clothing", "stargan-tiny",
                             "identity-clothing-domains", "broken"}  # the missing folder was skipped
    for model in ("pix2pix-tiny", "unet-l1-tiny", "identity-edges2clothing"):
        assert {row["metric"] for row in by_model[model]} == PAIRED  # no LPIPS without its weights
    assert {r["metric"] for r in by_model["stargan-tiny"]} == {"fid", "kid_mean", "kid_std", "target_accuracy", "cycle_l1"}
    assert {r["metric"] for r in by_model["identity-clothing-domains"]} == {"fid", "kid_mean", "kid_std", "target_accuracy"}
    candidates = {"pix2pix-tiny": "trained", "unet-l1-tiny": "unet-l1", "identity-edges2clothing": "identity",
                  "stargan-tiny": "trained", "identity-clothing-domains": "identity"}
    for model, candidate in candidates.items():
        for row in by_model[model]:
            params = row["params"]
            assert row["benchmark"] == "translation" and row["error"] is None and math.isfinite(row["value"])
            assert params["candidate"] == candidate and params["role"] == ("model" if candidate == "trained" else "baseline")
            assert params["n_images"] == 10 and params["extractor"] == "classifier-clothing-64"
            assert params["reference_split"] == "test" and params["input_split"] == "test"
            domains = model in ("stargan-tiny", "identity-clothing-domains")
            assert params["task"] == ("clothing-domains" if domains else "edges2clothing")
    edges = by_model["pix2pix-tiny"][0]["params"]
    assert edges["direction"] == "edges->photo" and edges["lpips"] == "weights not present" and edges["n_real"] == 20
    assert by_model["stargan-tiny"][0]["params"]["direction"] == "photo->other class"
    value = {(r["model"], r["metric"]): r["value"] for r in rows if r["error"] is None}
    assert 0 <= value["identity-edges2clothing", "ssim"] <= 1 and value["identity-edges2clothing", "l1"] > 0
    assert 0 <= value["stargan-tiny", "target_accuracy"] <= 1
    assert all(r["error"] and r["value"] is None for r in by_model["broken"])


def test_the_table_summary_and_targets(measured) -> None:
    _, rows, _, _ = measured
    table = report.translation_table(rows)
    assert list(table.columns) == list(report.TRANSLATION_COLUMNS)
    assert list(zip(table["task"], table["model"], table["candidate"])) == [
        ("edges2clothing", "pix2pix-tiny", "trained"), ("edges2clothing", "unet-l1-tiny", "unet-l1"),
        ("edges2clothing", "identity-edges2clothing", "identity"), ("clothing-domains", "stargan-tiny", "trained"),
        ("clothing-domains", "identity-clothing-domains", "identity")]
    assert table["lpips"].isna().all() and pd.isna(table.loc[4, "cycle_l1"])  # identity: no cycle
    checks = report.translation_targets(rows)
    assert [text.split(":")[0] for _, text in checks] == [
        "pix2pix-tiny (edges2clothing, edges->photo)", "stargan-tiny (clothing-domains, photo->other class)",
        "stargan-tiny (clothing-domains, photo->other class)"]
    assert "identity" in checks[0][1] and "unet-l1" in checks[0][1] and "target-class accuracy" in checks[2][1]
    card = report.translation_for(rows, "pix2pix-tiny")  # a model card's rows: the model and its task's baselines
    assert {row["model"] for row in card} == {"pix2pix-tiny", "unet-l1-tiny", "identity-edges2clothing"}
    summary = report.summary_markdown(rows)
    assert "## Translation" in summary and "### edges2clothing (paired)" in summary
    assert report.TRANSLATION_LPIPS_ABSENT in summary and report.TRANSLATION_UNPAIRED_NOTE in summary
    assert "broken (clothing), `fid`" in summary  # the error rows are listed


def test_colorization_baseline_and_a_deterministic_translators_diversity(measured, monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, folder, _ = measured
    monkeypatch.setattr(translation, "fidelity_scores", lambda *args: {})  # FID and KID: measured above
    task = translation.Task("colorize-clothing", "paired", "grayscale")
    rows = translation.run(translation.Scenario(task, "identity", limit=6, reference_limit=12, kid_subsets=2, device="cpu"))
    value = {row.metric: row.value for row in rows}
    assert value["colourfulness_output"] == 0  # the grayscale input, shown as RGB
    assert value["colourfulness_gap"] == pytest.approx(value["colourfulness_real"]) and value["colourfulness_real"] > 0
    from core.inference import TranslatorPipeline

    pipe = TranslatorPipeline.from_pretrained(folder / "pix2pix-tiny", device="cpu")
    photos = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (3, 3, 64, 64), dtype=np.uint8))
    assert translation.diversity(pipe, photos, styles=3) == 0.0


def test_absent_models_only_are_no_plan(tmp_path: Path) -> None:
    assert translation.scenarios([str(tmp_path / "nothing-here")], pool=tmp_path) == []
    assert translation.main(["--models", str(tmp_path / "nothing-here"), "--out", str(tmp_path / "t.jsonl")]) == 2


def test_the_runner_knows_the_benchmark() -> None:
    from benchmarks.__main__ import BENCHMARKS, PROFILES, plan_translation

    assert BENCHMARKS["translation"].kind == "translator" and BENCHMARKS["translation"].default
    assert plan_translation([], PROFILES["quick"], "cpu", Path("results")) == []


def test_the_dashboard_page_renders_the_rows(measured, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _, rows, _, _ = measured
    (tmp_path / "translation.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    monkeypatch.setenv("RESULTS_SOURCE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    at = AppTest.from_file(PROJECT_ROOT / "apps" / "dashboard" / "app.py", default_timeout=60).run()
    at.switch_page("views/translation.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Translation"
    assert [h.value for h in at.header] == ["edges2clothing (paired)", "clothing-domains (domains)"]
    assert len(at.dataframe) == 2 and len(at.get("plotly_chart")) == 2
    assert list(at.dataframe[0].value["candidate"]) == ["trained", "unet-l1", "identity"]
    assert any("LPIPS: weights not present" in m.value for m in at.markdown)
    assert any("broken" in w.value for w in at.warning)  # the failed measurements are listed


def test_the_dashboard_page_without_translation_rows(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RESULTS_SOURCE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    at = AppTest.from_file(PROJECT_ROOT / "apps" / "dashboard" / "app.py", default_timeout=60).run()
    at.switch_page("views/translation.py").run()
    assert not at.exception and at.info[0].value.startswith("No translation results yet")
