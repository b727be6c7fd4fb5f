"""The robustness benchmark on a small trained classifier and the real Fashion-MNIST test prefix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from benchmarks.robustness import Scenario, format_table, main, run
from core.data import load_dataset
from core.hub import save_model, write_card
from core.models import Classifier, ClassifierConfig
from core.results import read_rows
from core.train.config import resolve_config

EPSILONS = (0.0, 0.05, 0.2)


@pytest.fixture(scope="module")
def trained_classifier(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> Path:
    """A dense classifier fitted for a few hundred steps on the real train prefix, exported like a run."""
    import os

    os.environ.setdefault("DATA_ROOT", str(data_root))
    torch.manual_seed(0)
    data = load_dataset("fashion-mnist", "train", root=data_root)
    model = Classifier(ClassifierConfig(arch="dense", hidden=32, class_names=data.class_names))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(300):
        index = torch.randint(0, len(data), (128,))
        loss = torch.nn.functional.cross_entropy(model(data.images[index].float() / 255), data.labels[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    folder = save_model(model.eval(), tmp_path_factory.mktemp("models") / "dense-small")
    config = resolve_config("classifier-dense-fashion-mnist", "smoke").to_dict()
    summary = {"recipe": config["recipe"], "preset": "smoke", "steps": 300, "batch_size": 128, "train_seconds": 1.0,
               "device": "cpu", "mixed_precision": "no", "data": data.describe(), "dataset": "fashion-mnist",
               "split": "train", "num_images": len(data), "torch": torch.__version__, "final_losses": {},
               "evaluation": {"step": 300, "test_accuracy": 0.8, "test_images": 4443}}
    (folder / "training.json").write_text(json.dumps({"summary": summary, "config": config, "commands": ["python -m core train ..."]}))
    return folder


def scenario(model: Path, attack: str, mask: bool = False, **changes) -> Scenario:
    return Scenario(str(model), attack, mask, **{"epsilons": EPSILONS, "limit": 300, "device": "cpu", "pgd_steps": 5, **changes})


def accuracies(rows) -> list[float]:
    return [row.value for row in rows if row.metric == "accuracy"]


def test_a_curve_is_one_row_per_epsilon_with_what_defines_it(trained_classifier, real_data_env) -> None:
    rows = run(scenario(trained_classifier, "pgd", mask=True))
    assert [row.metric for row in rows] == ["accuracy"] * 3 + ["curve_seconds"]
    for row, eps in zip(rows, EPSILONS):
        assert row.error is None and row.params["epsilon"] == eps and row.params["n_images"] == 300
        assert row.params["attack"] == "pgd" and row.params["mask"] is True and row.params["mask_threshold"] == 0.1
        assert row.params["seed"] == 0 and row.params["pgd_steps"] == 5
        assert (row.benchmark, row.model, row.dataset) == ("robustness", "dense-small", "fashion-mnist")
        assert "4,443 of 10,000" in row.data and "first 300 images" in row.data
    clean, small, large = accuracies(rows)
    assert clean > 0.6 and clean >= small >= large  # a trained model, attacked harder and harder
    assert rows[-1].value > 0


def test_attacks_rank_as_expected_and_runs_are_reproducible(trained_classifier, real_data_env) -> None:
    pgd, fgsm, noise = (accuracies(run(scenario(trained_classifier, a))) for a in ("pgd", "fgsm", "noise"))
    assert pgd[0] == fgsm[0] == noise[0]  # the same clean accuracy
    assert pgd[2] <= fgsm[2] < noise[2]  # PGD at least as strong as FGSM; both far stronger than noise
    assert accuracies(run(scenario(trained_classifier, "noise"))) == noise  # seeded


def test_a_broken_model_gives_error_rows_not_an_exception(tiny_classifier_dir, real_data_env) -> None:
    rows = run(scenario(tiny_classifier_dir, "fgsm"))  # exported without training.json
    assert len(rows) == 3 and all(row.value is None and "no training.json" in row.error for row in rows)
    assert "error: classifier-tiny fgsm off" in format_table(rows)


def test_bad_scenarios_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown attack"):
        Scenario("m", "deepfool")
    with pytest.raises(ValueError, match="epsilons must lie in"):
        Scenario("m", "pgd", epsilons=(0.1, 2.0))


def test_main_appends_rows_plots_and_the_card_shows_the_table(trained_classifier, real_data_env, tmp_path, capsys) -> None:
    out, plot = tmp_path / "results" / "robustness.jsonl", tmp_path / "robustness.png"
    code = main(["--models", str(trained_classifier), "--attacks", "fgsm", "noise", "--epsilons", "0", "0.1",
                 "--limit", "200", "--device", "cpu", "--out", str(out), "--plot", str(plot)])
    assert code == 0
    rows = read_rows(out)
    assert len(rows) == 2 * 2 * 3  # (fgsm, noise) x (mask off, on) x (2 epsilons + time)
    assert plot.is_file() and plot.stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "4 curves in" in printed and "dense-small" in printed

    card = write_card(trained_classifier, results_dir=out.parent).read_text()
    fgsm_off = next(r for r in rows if r["metric"] == "accuracy" and r["params"]["attack"] == "fgsm"
                    and not r["params"]["mask"] and r["params"]["epsilon"] == 0.1)
    assert f"| fgsm | all | {100 * rows[0]['value']:.1f} | {100 * fgsm_off['value']:.1f} |" in card
    assert "| noise | garment only |" in card and "Test accuracy: 80.00 %" in card


def test_the_card_says_when_there_are_no_results(trained_classifier, tmp_path) -> None:
    card = write_card(trained_classifier, results_dir=tmp_path / "empty").read_text()
    assert "No robustness rows for this model yet" in card
