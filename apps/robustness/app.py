"""Fashion GAN Lab robustness Space: attack a Fashion-MNIST classifier and watch its prediction flip.

Layout and event wiring only; uploads, attacks, colormaps and benchmark curves
live in core.robustness.demo. Run from the repo with `python -m apps.robustness.app`,
or `python app.py` in a Space folder built by `python -m apps.build_spaces`.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
from PIL import Image

from core.demo import broken_note, friendly, split_loadable
from core.demos.components import blocks, launch
from core.errors import UserError
from core.robustness import demo as lab

EXAMPLES_FILE = Path(__file__).resolve().parent / "examples" / lab.EXAMPLES_FILE.name  # shipped with the Space
ATTACK_CHOICES = [
    ("PGD (10 steps)", "pgd"),
    ("FGSM (one step)", "fgsm"),
    ("Random ±ε noise (baseline)", "noise"),
]
INTRO = (
    "# Fashion GAN Lab: adversarial robustness\n"
    "Pick a Fashion-MNIST test image (or upload your own), choose an attack and a budget ε, and see how "
    "little it takes to change a classifier's mind. ε is the largest change of any pixel (L-inf), "
    "in units of the full brightness range: 0.1 is 25.5 of 255 grey levels."
)



def to_pil(image: np.ndarray) -> Image.Image:
    """A 28 px uint8 image enlarged for the browser (nearest neighbour), or an already enlarged RGB one."""
    return Image.fromarray(image if image.ndim == 3 else lab.enlarge(image))


def probability_plot(label: str, classes: list[str], elem_id: str | None = None) -> gr.BarPlot:
    """Bars of class probabilities, in the model's class order."""
    return gr.BarPlot(
        x="class", y="probability", y_lim=[0, 1], sort=classes or None, x_label_angle=-40, height=260, label=label,
        elem_id=elem_id,
    )


def build_demo(
    models: dict[str, str] | None = None,
    results_path: str | Path | None = None,
    examples_path: str | Path = EXAMPLES_FILE,
) -> gr.Blocks:
    """The Space's Blocks for `models` (label -> source); default: `core.robustness.demo.available_classifiers()`.

    `results_path`: the benchmark's JSON lines for the accuracy-vs-epsilon chart
    (default results/robustness.jsonl next to core/; a missing file shows a note instead).
    """
    models = lab.available_classifiers() if models is None else models
    models, broken = split_loadable(models, lab.describe)  # start with the models that load; name the others
    results_path = Path(results_path) if results_path is not None else lab.RESULTS_FILE
    examples = lab.example_images(examples_path)
    first = next(iter(models), None)
    try:
        classes = lab.class_choices(models[first]) if first else []
        caption_text = lab.describe(models[first]) if first else lab.NO_MODELS
    except UserError as err:  # a broken model: say so in the page, let the others be picked
        classes, caption_text = [], str(err)
    curve_frame = lab.curve_for(first or "", results_path)

    @friendly
    def choose_example(evt: gr.SelectData) -> tuple[np.ndarray, str, Image.Image]:
        index = evt.index if isinstance(evt.index, int) else evt.index[0]
        if not 0 <= index < len(examples):
            raise UserError(f"no example image {index}")
        image, class_name = examples[index]
        return image, class_name, to_pil(image)

    @friendly
    def upload(path: str | None) -> tuple[np.ndarray, str, Image.Image]:
        if not path:
            raise UserError("no file was uploaded")
        image = lab.load_upload(path)
        return image, lab.UNKNOWN_CLASS, to_pil(image)

    @friendly
    def attack(
        model: str, image: np.ndarray | None, true_class: str | None, attack_name: str, epsilon: float, use_mask: bool
    ) -> tuple[Image.Image, Image.Image, Image.Image, pd.DataFrame, pd.DataFrame, str]:
        if image is None:
            raise UserError("pick an example image or upload one first")
        result = lab.attack_one(lab.pick(models, model), image, true_class, attack_name, epsilon, use_mask)
        return (
            to_pil(result.original),
            to_pil(result.perturbation),
            to_pil(result.adversarial),
            result.probabilities("clean"),
            result.probabilities("adversarial"),
            result.summary(),
        )

    def cleared() -> tuple[None, None, None, pd.DataFrame, pd.DataFrame, str]:
        empty = pd.DataFrame({"class": pd.Series(dtype=str), "probability": pd.Series(dtype=float)})
        return None, None, None, empty, empty, ""

    @friendly
    def select_model(model: str) -> tuple[str, gr.Dropdown, pd.DataFrame, str]:
        source = lab.pick(models, model)
        curve = lab.curve_for(model, results_path)
        return (
            lab.describe(source),
            gr.Dropdown(choices=[lab.UNKNOWN_CLASS, *lab.class_choices(source)]),
            curve,
            curve.attrs["note"],
        )

    first_image, first_class = examples[0] if examples else (None, lab.UNKNOWN_CLASS)
    with blocks("Fashion GAN Lab: robustness") as demo:
        gr.Markdown(INTRO)
        model = gr.Dropdown(list(models), value=first, label="Classifier")
        caption = gr.Markdown(caption_text)
        if broken:
            gr.Markdown(broken_note(broken))
        current = gr.State(first_image)  # uint8 [28, 28]: the image being attacked
        with gr.Row():
            with gr.Column(scale=1, min_width=560):  # Gradio gives each thumbnail column at least 100 px
                gallery = gr.Gallery(
                    [(image, name) for image, name in examples],
                    label="Fashion-MNIST test images, one class per row (click one)",
                    columns=5,
                    height=420,
                    allow_preview=False,
                    format="png",
                    interactive=False,
                )
                upload_button = gr.UploadButton("Upload your own image", file_types=["image"], type="filepath", elem_id="upload")
                true_class = gr.Dropdown(
                    [lab.UNKNOWN_CLASS, *classes],
                    value=first_class,
                    label="True class (unknown: attack the model's own prediction)",
                    allow_custom_value=True,  # API calls may name another model's classes; core validates them
                )
            with gr.Column(scale=1, min_width=560):
                with gr.Row():
                    attack_name = gr.Radio(ATTACK_CHOICES, value="pgd", label="Attack")
                    epsilon = gr.Slider(0, lab.MAX_EPSILON, value=0.1, step=0.01, label="ε (L-inf budget)")
                    use_mask = gr.Checkbox(False, label="Garment pixels only", info="leave the black background alone")
                attack_button = gr.Button("Attack", variant="primary")
                with gr.Row():
                    original = gr.Image(type="pil", format="png", label="Original (28×28)", interactive=False)
                    perturbation = gr.Image(type="pil", format="png", label="Perturbation", interactive=False)
                    adversarial = gr.Image(type="pil", format="png", label="Adversarial", interactive=False, elem_id="adversarial")
                summary = gr.Markdown()
                gr.Markdown(
                    "The perturbation is amplified: dark red is +ε, dark blue −ε, white unchanged.",
                    elem_classes="perturbation-legend",
                )
                with gr.Row():
                    clean_bars = probability_plot("Prediction on the original", classes, "clean-bars")
                    adversarial_bars = probability_plot("Prediction on the adversarial image", classes)
        with gr.Accordion("Benchmark: accuracy vs ε for this classifier", open=True):
            curve = gr.LinePlot(
                curve_frame,
                x="epsilon",
                y="accuracy",
                color="series",
                y_lim=[0, 1],
                x_title="ε (L-inf, pixels in [0, 1])",
                color_title="attack",
                height=280,
            )
            curve_note = gr.Markdown(curve_frame.attrs["note"])
        gr.Markdown(f"Example images: {lab.examples_source(examples_path)}.")

        attack_inputs = [model, current, true_class, attack_name, epsilon, use_mask]
        attack_outputs = [original, perturbation, adversarial, clean_bars, adversarial_bars, summary]
        picked = [current, true_class, original]
        # The public endpoint first: later (private) uses of the same function get suffixed names
        gr.on(
            [attack_button.click, epsilon.release, attack_name.input, use_mask.input, true_class.input],
            attack,
            attack_inputs,
            attack_outputs,
            api_name="attack",
        )
        gallery.select(choose_example, None, picked, api_visibility="private").then(
            attack, attack_inputs, attack_outputs, api_visibility="private"
        )
        # A refused upload clears what the previous image showed, so no stale result sits next to the message
        uploaded = upload_button.upload(upload, upload_button, picked, api_name="upload")
        uploaded.success(attack, attack_inputs, attack_outputs, api_visibility="private")
        uploaded.failure(cleared, None, attack_outputs, api_visibility="private")
        model.change(select_model, model, [caption, true_class, curve, curve_note], api_name="model_info").then(
            attack, attack_inputs, attack_outputs, api_visibility="private"
        )
        demo.load(attack, attack_inputs, attack_outputs, api_visibility="private")
    return demo


if __name__ == "__main__":
    # Offline-safe as is: no analytics (above), and Gradio 6's default theme serves its fonts itself.
    launch(build_demo())
