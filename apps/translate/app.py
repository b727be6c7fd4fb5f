"""Fashion GAN Lab image-to-image Space: a garment photo through pix2pix, colorization, CycleGAN, MUNIT or StarGAN.

Layout and event wiring only; model lists, uploads, translations, captions and the
example gallery live in core.demos.translate. Run from the repo with
`python -m apps.translate.app`, or `python app.py` in a Space folder built by
`python -m apps.build_spaces`.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

from core.demos import translate as lab
from core.demos.common import broken_note, friendly, split_loadable
from core.demos.components import blocks, launch, whole_number_box
from core.errors import UserError

EXAMPLES_FILE = Path(__file__).resolve().parent / "examples" / lab.EXAMPLES_FILE.name  # shipped with the Space
IMAGE_BUTTONS = ["download", "fullscreen"]  # no "share": a Space may run offline
INTRO = (
    "# Fashion GAN Lab: image to image\n"
    "Pick a clothing photo (or upload your own) and a translator: **pix2pix** draws a photo from its edges or "
    "its silhouette, **colorize** puts colour back into its grayscale, **CycleGAN** and **MUNIT** turn a "
    "t-shirt into a long-sleeve top and back (MUNIT in several styles at once), **StarGAN** redraws it as any "
    "of the ten clothing classes. Every model works on 64×64 photos, shown enlarged."
)


def shown_image(label: str, elem_id: str | None = None, visible: bool = True) -> gr.Image:
    """A PNG the app draws (not an input), with download and full-screen buttons."""
    return gr.Image(
        type="pil", format="png", label=label, interactive=False, buttons=IMAGE_BUTTONS, elem_id=elem_id,
        visible=visible,
    )


def result_columns(controls: lab.Controls) -> int:
    """Results per row: one output fills half the width, MUNIT's four styles one row, ten classes two rows."""
    return min(max(controls.outputs, 2), 5)


def build_demo(models: dict[str, str] | None = None, examples_path: str | Path = EXAMPLES_FILE) -> gr.Blocks:
    """The Space's Blocks for `models` (label -> source); default: `core.demos.translate.available_translators()`."""
    models = lab.available_translators() if models is None else models
    models, broken = split_loadable(models, lab.describe)  # start with the models that load; name the others
    first = next(iter(models), None)
    try:
        examples = lab.example_images(examples_path)
        examples_text = lab.examples_source(examples_path)
    except UserError as err:  # no gallery: uploads still work
        examples, examples_text = [], str(err)
    try:
        controls = lab.controls(models[first]) if first else lab.Controls([], None, "Target", False, None)
        caption_text = lab.describe(models[first]) if first else lab.NO_MODELS
    except UserError as err:  # a broken model: say so in the page, let the others be picked
        controls, caption_text = lab.Controls([], None, "Target", False, None), str(err)

    @friendly
    def translate(
        model: str, image: np.ndarray | None, target: str | None, seed: float, styles: float
    ) -> tuple[Image.Image, Image.Image | None, list[tuple[Image.Image, str]], str]:
        result = lab.translate(lab.pick(models, model), image, target, seed, styles)
        return result.photo, result.model_input, result.outputs, result.summary

    def cleared() -> tuple[None, None, list, str, None]:
        return None, None, [], "", None

    @friendly
    def upload(path: str | None) -> tuple[np.ndarray, None]:
        # The box is emptied once the photo is in: the next upload needs no click on its ✕
        return lab.prepare_upload(path), None

    @friendly
    def example(index: float) -> tuple[np.ndarray, None]:
        return lab.example_at(examples, index).image, None

    @friendly
    def choose_example(evt: gr.SelectData) -> tuple[np.ndarray, None]:
        return example(evt.index if isinstance(evt.index, int) else evt.index[0])

    @friendly
    def select_model(model: str) -> tuple[str, gr.Dropdown, gr.Number, gr.Slider, gr.Image, gr.Gallery]:
        source = lab.pick(models, model)
        chosen = lab.controls(source)
        return (
            lab.describe(source),
            gr.Dropdown(choices=chosen.targets, value=chosen.target, label=chosen.target_label,
                        visible=bool(chosen.targets)),
            gr.Number(visible=chosen.styles),
            gr.Slider(visible=chosen.styles),
            gr.Image(value=None, label=chosen.preview or "", visible=chosen.preview is not None),
            gr.Gallery(columns=result_columns(chosen)),
        )

    with blocks("Fashion GAN Lab: image to image") as demo:
        gr.Markdown(INTRO)
        model = gr.Dropdown(list(models), value=first, label="Translator")
        caption = gr.Markdown(caption_text)
        if broken:
            gr.Markdown(broken_note(broken))
        current = gr.State(examples[0].image if examples else None)  # uint8 [s, s, 3]: the photo being translated
        with gr.Row():
            with gr.Column(scale=1, min_width=480):
                gallery = gr.Gallery(
                    lab.gallery_items(examples),
                    label="Clothing test photos, one class per row (click one)",
                    columns=lab.EXAMPLES_PER_CLASS,
                    height=420,
                    allow_preview=False,
                    format="png",
                    interactive=False,
                )
                photo_file = gr.File(
                    label="…or upload a garment photo (any size: its centre square is used)",
                    file_types=["image"],
                    type="filepath",
                    height=110,
                    elem_id="upload",
                )
                target = gr.Dropdown(
                    controls.targets,
                    value=controls.target,
                    label=controls.target_label,
                    visible=bool(controls.targets),
                    allow_custom_value=True,  # API calls may name another model's targets; core validates them
                )
                with gr.Row():
                    seed = whole_number_box(0, label="Style seed", minimum=0, visible=controls.styles)
                    styles = gr.Slider(
                        1, lab.MAX_STYLES, value=lab.DEFAULT_STYLES, step=1, precision=0, label="Number of styles",
                        visible=controls.styles,
                    )
                translate_button = gr.Button("Translate", variant="primary")
            with gr.Column(scale=1, min_width=480):
                with gr.Row():
                    photo = shown_image("Input photo (as the models see it)", "input-photo")
                    preview = shown_image(controls.preview or "", "model-input", visible=controls.preview is not None)
                results = gr.Gallery(
                    label="Result", columns=result_columns(controls), fit_columns=False, height="auto", format="png",
                    interactive=False, buttons=IMAGE_BUTTONS, elem_id="results",
                )
                summary = gr.Markdown()
        gr.Markdown(f"Example photos: {examples_text}.")

        inputs = [model, current, target, seed, styles]
        outputs = [photo, preview, results, summary]
        # The public endpoints first: later (private) uses of the same function get suffixed names
        gr.on(
            [translate_button.click, target.input, seed.submit, styles.release],
            translate, inputs, outputs, api_name="translate",
        )
        # A refused upload clears what the previous photo showed, so no stale result sits next to the message
        uploaded = photo_file.upload(upload, photo_file, [current, photo_file], api_name="upload")
        uploaded.success(translate, inputs, outputs, api_visibility="private")
        uploaded.failure(cleared, None, [*outputs, photo_file], api_visibility="private")
        example_index = whole_number_box(0, visible=False)  # the /example endpoint's input: a place in the gallery
        example_index.submit(example, example_index, [current, photo_file], api_name="example").then(
            translate, inputs, outputs, api_visibility="private"
        )
        gallery.select(choose_example, None, [current, photo_file], api_visibility="private").then(
            translate, inputs, outputs, api_visibility="private"
        )
        model_outputs = [caption, target, seed, styles, preview, results]
        model.change(select_model, model, model_outputs, api_name="model_info").then(
            translate, inputs, outputs, api_visibility="private"
        )
        if first:  # the first example, translated on arrival
            demo.load(translate, inputs, outputs, api_visibility="private")
    return demo


if __name__ == "__main__":
    # Offline-safe as is: no analytics (blocks), and Gradio 6's default theme serves its fonts itself.
    launch(build_demo())
