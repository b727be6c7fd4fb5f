"""The collection and timeline benchmarks on tiny budgets, and how their rows are reported."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks import collection, timeline
from core import report
from core.hub import save_model
from core.models import COLLECTION, MODELS
from core.results import Row, append_rows, read_rows
from core.train import resolve_config
from core.train.config import equivalent_command

TINY_BUDGET = {"epochs": 0.05, "n_generated": 64, "kid_subsets": 2, "device": "cpu"}  # 7 steps of 64, 64 samples


def test_the_report_knows_the_collection_in_the_registry_order() -> None:
    assert report.COLLECTION_FAMILIES == COLLECTION  # core.report stays free of torch, so it keeps its own copy
    assert set(collection.REFERENCE) <= set(COLLECTION) and collection.REFERENCE == report.REFERENCE_COLLECTION


@pytest.mark.parametrize("family, conditional", [("gan", False), ("acgan", True)])
def test_a_family_is_trained_timed_and_scored(family, conditional, real_data_env, tmp_path) -> None:
    scenario = collection.Scenario(family, samples=tmp_path / "samples", **TINY_BUDGET)
    rows = collection.run(scenario)
    metrics = {row.metric: row for row in rows}
    assert all(row.error is None for row in rows), [row.error for row in rows]
    expected = {"fid", "kid_mean", "kid_std", "precision", "recall", "train_images_per_s", "train_seconds"}
    assert set(metrics) == expected | ({"conditional_accuracy"} if conditional else set())
    assert all(math.isfinite(row.value) for row in rows) and metrics["fid"].value > 0
    params = metrics["fid"].params
    assert (params["family"], params["networks"], params["steps"], params["batch_size"]) == (family, "shipped", 7, 64)
    assert metrics["train_images_per_s"].unit == "images/s" and metrics["train_images_per_s"].value > 0
    assert "8,226 of 60,000" in metrics["fid"].data and "64 generated images" in metrics["fid"].data
    assert (tmp_path / "samples" / "collection" / f"{family}-epoch0.05.png").is_file()


def test_a_kept_run_is_the_quick_preset_run_that_ships(real_data_env, tmp_path) -> None:
    # at the protocol's budget the benchmark's run is `make train`'s, so a kept run exports as the shipped model
    for family in ("gan", "wgan"):
        config = collection.config_for(collection.Scenario(family))
        assert equivalent_command(config) == f"python -m core train --recipe {family}-fashion-mnist --preset quick"
    dcgan = collection.config_for(collection.Scenario("dcgan"))  # counted in steps: the baseline sets the budget
    assert equivalent_command(dcgan).endswith("--preset quick --set epochs=10")
    rows = collection.run(collection.Scenario("gan", runs=tmp_path / "runs", **TINY_BUDGET))
    assert all(row.error is None for row in rows)
    command = (tmp_path / "runs" / "gan" / "command.txt").read_text().split()
    assert command[:8] == ["python", "-m", "core", "train", "--recipe", "gan-fashion-mnist", "--preset", "quick"]
    assert "epochs=0.05" in command and not any(c.startswith("steps=") for c in command)  # epochs set the steps
    assert (tmp_path / "runs" / "gan" / "generator" / "model.safetensors").is_file()
    again = collection.run(collection.Scenario("gan", runs=tmp_path / "runs", **TINY_BUDGET))
    assert all("exists: the benchmark trains from scratch" in row.error for row in again)


def test_the_reference_networks_are_the_reference_collections_widths(real_data_env) -> None:
    config = collection.config_for(collection.Scenario("wgan-gp", "reference", **TINY_BUDGET))
    assert config.model_config["arch"] == "infogan"
    assert config.model_config["hidden"] == config.model_config["generator_hidden"] == 1024
    assert config.model_config["critic_norm"] == "layer"  # the family's own critic, on the reference's widths
    assert config.phases["D"]["repeats"] == 5 and config.epochs == 0.05  # the family's algorithm
    assert config.phases["G"]["repeats"] == 1 and config.lr == {"G": 2e-4, "D": 2e-4}  # the reference's, not the recipe's
    wgan = collection.config_for(collection.Scenario("wgan", "reference", **TINY_BUDGET))
    assert wgan.lr == {"G": 2e-4, "D": 2e-4} and wgan.phases["G"] == {"optimizer": "rmsprop", "repeats": 1}


def test_a_plan_has_the_dcgan_baseline_first_and_every_family_with_each_network() -> None:
    plan = collection.scenarios(epochs=1)
    assert plan[0].family == "dcgan" and len(plan) == 1 + len(COLLECTION) + len(collection.REFERENCE)
    assert [s.name for s in plan[1:4]] == ["gan", "gan-reference-nets", "cgan"]  # like for like where it is cited
    assert [s.name for s in plan if s.networks == "reference"] == ["gan-reference-nets", "wgan-gp-reference-nets"]
    assert [s.name for s in collection.scenarios(("infogan",), ("shipped",), baseline=False)] == ["infogan"]
    with pytest.raises(ValueError, match="family must be one of the collection"):
        collection.Scenario("stylegan")
    with pytest.raises(ValueError, match="the DCGAN baseline has only its own networks"):
        collection.Scenario("dcgan", "reference")


def test_a_failing_scenario_is_error_rows(real_data_env, monkeypatch) -> None:
    monkeypatch.setattr(collection, "config_for", lambda scenario: resolve_config("gan-fashion-mnist", "smoke",
                                                                                  {"batch_size": 10**6}))
    rows = collection.run(collection.Scenario("gan", **TINY_BUDGET))
    assert rows and all(row.value is None and "larger than the dataset" in row.error for row in rows)
    assert "error: gan:" in collection.format_table(rows)


def fake_run(folder: Path, family: str = "gan", epochs: tuple[int, ...] = (1, 2)) -> Path:
    """A run folder as the trainer leaves it: config.json and snapshots/epoch_NNN with random weights."""
    config = resolve_config(f"{family}-fashion-mnist", "smoke")
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config.to_dict()))
    spec = MODELS.get(family)
    for epoch in epochs:
        network = spec.build(spec.make_config(image_size=28, channels=1, arch="infogan", hidden=32, z_dim=8))[spec.exported]
        snapshot = save_model(network, folder / "snapshots" / f"epoch_{epoch:03d}", family=family)
        (snapshot / "snapshot.json").write_text(json.dumps({"epoch": epoch, "step": 10 * epoch}))
    return folder


def test_every_snapshot_of_a_run_is_scored(real_data_env, tmp_path) -> None:
    run = fake_run(tmp_path / "runs" / "gan-quick")
    plan = [timeline.Scenario(snapshot, device="cpu", kid_subsets=2) for snapshot in timeline.snapshots([run])]
    assert [s.snapshot.name for s in plan] == ["epoch_001", "epoch_002"]
    rows = [row for scenario in plan for row in timeline.run(scenario)]
    assert all(row.error is None for row in rows) and {row.model for row in rows} == {"gan-fashion-mnist"}
    assert [row.params["epoch"] for row in rows if row.metric == "fid"] == [1, 2]
    assert rows[0].params["n_generated"] == 4443  # the held-out split's size, as in the quality benchmark
    assert timeline.default_runs(tmp_path / "runs") == [run]
    with pytest.raises(Exception, match="has no snapshots"):
        timeline.snapshots([tmp_path])


def rows_of(benchmark: str, model: str, values: dict[str, float], **params) -> list[Row]:
    return [Row(benchmark, model, "fashion-mnist", metric, value, "", "cpu (2 threads)", dict(params), run="r1")
            for metric, value in values.items()]


def test_the_collection_is_reported_side_by_side_with_its_targets(tmp_path) -> None:
    rows = [
        *rows_of("collection", "gan", {"fid": 3.5, "train_images_per_s": 800.0}, family="gan", networks="shipped", epochs=10),
        *rows_of("collection", "gan-reference-nets", {"fid": 5.0, "train_images_per_s": 760.0}, family="gan",
                 networks="reference", epochs=10),
        *rows_of("collection", "wgan-gp", {"fid": 4.5, "train_images_per_s": 900.0}, family="wgan-gp", networks="shipped",
                 epochs=10),
        *rows_of("quality", "gan-fashion-mnist", {"fid": 2.5, "precision": 0.8, "recall": 0.6}, candidate="trained"),
        *rows_of("quality", "cgan-fashion-mnist", {"fid": 2.0, "conditional_accuracy": 0.85}, candidate="trained"),
        *rows_of("throughput", "gan-fashion-mnist", {"train_images_per_s": 850.0}),
        *rows_of("timeline", "gan-fashion-mnist", {"fid": 40.0}, epoch=1),
        *rows_of("timeline", "gan-fashion-mnist", {"fid": 2.5}, epoch=50),
    ]
    append_rows(rows, tmp_path / "all.jsonl")
    latest = report.latest(read_rows(tmp_path))
    frame = report.collection_frame(latest)
    assert list(frame["family"]) == ["gan", "gan", "wgan-gp"]
    # GAN's bar is min(4.0, 8.07 / 2); WGAN-GP's reference sets no real bar (94.6), so it is held to 4.0
    assert list(frame["fid_target"]) == [pytest.approx(4.0), pytest.approx(4.0), pytest.approx(4.0)]
    assert list(frame["fid_met"]) == [True, False, False]
    assert list(frame["reference_images_per_s"]) == [240, 240, 236]
    table = report.collection_table(latest)
    assert list(table["model"]) == ["gan-fashion-mnist", "cgan-fashion-mnist"]  # registry order
    gan = table.iloc[0]
    assert (gan["FID"], gan["train images/s"], gan["FID @ epoch 1"], gan["FID @ epoch 50"]) == (2.5, 850.0, 40.0, 2.5)
    assert gan["FID @ 10 epochs (collection benchmark)"] == 3.5
    assert table.iloc[1]["cond. accuracy"] == 0.85
    summary = report.summary_markdown(read_rows(tmp_path))
    assert "## The classic collection, side by side" in summary and "| gan-fashion-mnist |" in summary
    assert "## The classic collection at the reference's budget (10 epochs)" in summary
    assert "≤ 4: yes" in summary and "≤ 4: no" in summary
    assert "## Training timelines" in summary and "| model | epoch 1 | epoch 50 |" in summary
