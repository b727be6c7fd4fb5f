"""Export (run folder -> pretrained/<name> with a model card) and push."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import UserError
from core.hub import export_run, push, read_config
from core.inference import GeneratorPipeline
from core.paths import PRETRAINED_DIR
from core.train import RECIPES, resolve_config, train


def test_export_writes_a_loadable_model_with_an_honest_card(real_data_env, tmp_path) -> None:
    run = tmp_path / "run"
    command = "python -m core train --recipe dcgan-fashion-mnist --preset smoke --run-dir run"
    train(resolve_config("dcgan-fashion-mnist", "smoke"), run, command=command, progress=False)
    note = "Trained from a copy of the data resized to 96 px."
    out = export_run(run, "dcgan-test", out_root=tmp_path / "pretrained", notes=[note, "  "])

    assert sorted(p.name for p in out.iterdir()) == [
        "README.md", "config.json", "model.safetensors", "samples.png", "training.json"
    ]
    assert read_config(out)["family"] == "dcgan"
    card = (out / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: fashion-gan-lab")
    assert command in card  # the exact training command
    assert "8,226 of 60,000 images (a subset)" in card  # the data, honestly
    assert "4 steps of batch 8" in card
    assert f"\n{note}\n" in card  # notes travel with the model, blank ones are dropped
    assert json.loads((out / "training.json").read_text())["notes"] == [note]
    assert "![samples" in card
    pipe = GeneratorPipeline.from_pretrained(out, device="cpu")
    assert pipe.sample(2, labels="Sneaker").shape == (2, 28, 28, 1)


def test_card_shows_the_latest_successful_benchmark_rows(real_data_env, tmp_path) -> None:
    from core.hub import write_card

    run = tmp_path / "run"
    train(resolve_config("dcgan-fashion-mnist", "smoke"), run, progress=False)
    out = export_run(run, "dcgan-test", out_root=tmp_path / "pretrained")
    assert "No benchmark rows for this model yet" in (out / "README.md").read_text()

    base = {"benchmark": "throughput", "model": "dcgan-test", "dataset": "fashion-mnist", "unit": "images/s",
            "device": "cpu (2 threads)", "data": "Fashion-MNIST subset", "commit": "abc1234"}
    rows = [
        {**base, "metric": "train_images_per_s", "value": 100.0, "error": None},
        {**base, "metric": "train_images_per_s", "value": 250.0, "error": None},  # newer wins
        {**base, "metric": "latency_ms_batch1_median", "value": None, "error": "boom"},  # errors are not metrics
        {**base, "model": "other-model", "metric": "train_images_per_s", "value": 9.0, "error": None},
    ]
    results = tmp_path / "results"
    results.mkdir()
    (results / "throughput.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    card = write_card(out, results_dir=results).read_text()
    assert "| throughput | train_images_per_s | 250 images/s | cpu (2 threads) |" in card
    assert "latency_ms_batch1_median" not in card and "| 9 images/s" not in card
    assert "Not measured yet" in card  # no quality rows

    def quality_rows(model: str, candidate: str, fid: float, dataset: str = "fashion-mnist", generator: str = "dcgan-test"):
        params = {"candidate": candidate, "generator": generator, "extractor": "features-fashion-mnist",
                  "n_real": 8226, "n_generated": 4443, "image_size": 28}
        values = {"fid": fid, "kid_mean": fid / 100, "kid_std": 0.001, "precision": 0.8, "recall": 0.6}
        return [{**base, "benchmark": "quality", "model": model, "dataset": dataset, "metric": metric, "value": value,
                 "unit": "", "params": params, "error": None, "run": "r1"} for metric, value in values.items()]

    quality = (quality_rows("dcgan-test", "trained", 2.93) + quality_rows("real-test-split", "real", 0.18)
               + quality_rows("dcgan-test-untrained", "untrained", 260.4)
               + quality_rows("other-untrained", "untrained", 999.0, generator="other")  # another model's twin
               + quality_rows("real-validation-split", "real", 6.8, dataset="clothing"))  # another dataset
    (results / "quality.jsonl").write_text("".join(json.dumps(r) + "\n" for r in quality))
    card = write_card(out, results_dir=results).read_text()
    table = card[card.index("## Sample quality"):card.index("## Other metrics")]
    lines = [line for line in table.splitlines() if line.startswith("| features-fashion-mnist")]
    assert [line.split(" | ")[1] for line in lines] == ["**dcgan-test**", "real-test-split", "dcgan-test-untrained"]
    assert "| 4,443 vs 8,226 | 2.930 | 0.0293 ± 0.0010 | 0.800 | 0.600 |" in lines[0]
    assert "999" not in table and "6.8" not in table
    assert "| quality |" not in card  # not repeated in the generic metrics table


def test_export_refuses_an_unfinished_run(tmp_path) -> None:
    with pytest.raises(UserError, match="no finished model"):
        export_run(tmp_path, "x", out_root=tmp_path / "out")


def test_push_offline_fails_clearly_and_uploads_nothing(tiny_generator_dir, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="HF_HUB_OFFLINE=1"):
        push(tiny_generator_dir, "someone/dcgan-tiny")
    with pytest.raises(UserError, match="must look like"):
        push(tiny_generator_dir, "no-namespace")


def test_push_without_network_is_one_clear_error(tiny_generator_dir, monkeypatch) -> None:
    import huggingface_hub

    def no_network(*args, **kwargs):
        raise ConnectionError("Failed to resolve 'huggingface.co'")

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", no_network)
    with pytest.raises(UserError, match="could not push .* ConnectionError"):
        push(tiny_generator_dir, "someone/dcgan-tiny")


def test_space_sdk_comes_from_the_front_matter(tmp_path) -> None:
    from core.hub import space_sdk

    (tmp_path / "README.md").write_text("---\ntitle: demo\nsdk: gradio\napp_file: app.py\n---\n# demo\n")
    assert space_sdk(tmp_path) == "gradio"
    with pytest.raises(UserError, match="not a Space"):
        space_sdk(tmp_path / "missing")


def test_a_damaged_results_line_is_named_and_skipped(tmp_path) -> None:
    from core.hub import latest_metrics

    (tmp_path / "throughput.jsonl").write_text('{"benchmark": "throughput"\n')
    with pytest.warns(UserWarning, match=r"throughput.jsonl, line 1: skipped, not valid JSON"):
        assert latest_metrics("dcgan-test", tmp_path) == []
    assert latest_metrics("dcgan-test", tmp_path / "no-results-yet") == []


SHIPPED = sorted(p for p in PRETRAINED_DIR.iterdir() if (p / "config.json").is_file())


@pytest.mark.parametrize("folder", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_card_carries_its_newest_results_as_a_model_index(folder: Path) -> None:
    """The Hub reads a card's metrics from `model-index`: every shipped card has one, written through
    huggingface_hub's card classes, and its figures are the newest result rows of that model."""
    from huggingface_hub import ModelCard

    from core.hub import latest_metrics

    card = ModelCard.load(folder / "README.md")
    results = card.data.eval_results or []
    from core.hub import TRANSLATION_INDEX
    from core.models import MODELS

    kind = MODELS.get(json.loads((folder / "config.json").read_text())["family"]).kind
    rows = latest_metrics(folder.name)
    if kind == "translator":
        expected = {(r["metric"].removesuffix("_mean"), r["params"]["direction"]): r["value"] for r in rows
                    if r["benchmark"] == "translation" and r["metric"] in TRANSLATION_INDEX}
    elif kind == "classifier":
        expected = {("accuracy" if r["params"]["epsilon"] == 0 else "robust_accuracy",
                     "" if r["params"]["epsilon"] == 0 else f"{r['params']['attack']}-eps{float(r['params']['epsilon']):g}"):
                    r["value"] for r in rows if r["benchmark"] == "robustness" and r["metric"] == "accuracy"
                    and not r["params"]["mask"] and (r["params"]["epsilon"] > 0 or r["params"]["attack"] == "fgsm")}
    else:
        expected = {(r["metric"].removesuffix("_mean"), r["params"]["extractor"]): r["value"] for r in rows
                    if r["benchmark"] == "quality" and r["metric"] in ("fid", "kid_mean", "precision", "recall")}
    assert expected, f"{folder.name} has no results to carry"
    found = {(r.metric_type, r.metric_config or ""): r.metric_value for r in results}
    assert found == expected
    assert card.data.model_name == folder.name and card.data.library_name == "fashion-gan-lab"


@pytest.mark.parametrize("folder", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_card_names_the_command_that_made_its_weights(folder: Path) -> None:
    training = json.loads((folder / "training.json").read_text())
    commands = training.get("commands") or []
    assert commands and all(c.startswith("python -m core train ") for c in commands), folder.name
    card = (folder / "README.md").read_text()
    block = card.split("exact command", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    assert block.strip() and all(command in block for command in commands)
    recipes = {part for c in commands for part in c.split() if part in RECIPES}
    assert recipes <= {training["summary"]["recipe"]}  # the commands train what the card says they trained
