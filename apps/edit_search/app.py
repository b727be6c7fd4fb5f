"""Fashion GAN Lab edit-then-search Space: edit a garment with a Fader network (or StarGAN), then find the most
similar real products, for the photo and for the edit.

Layout and event wiring only; editors, the index, edits, searches and captions live in
core.demos.edit_search (the gallery of example photos in core.demos.translate). Run from the repo with
`python -m apps.edit_search.app`, or `python app.py` in a Space folder built by `python -m apps.build_spaces`.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np

from core.demos import edit_search as lab
from core.demos import translate as examples_lab
from core.demos.common import broken_note, friendly, split_loadable
from core.demos.components import blocks, launch, whole_number_box
from core.errors import UserError

EXAMPLES_FILE = Path(__file__).resolve().parent / "examples" / examples_lab.EXAMPLES_FILE.name  # shipped with the Space
IMAGE_BUTTONS = ["download", "fullscreen"]
INTRO = (
    "# Fashion GAN Lab: edit, then search\n"
    "Pick a garment (or upload your own), change it, and see the ten most similar real products for the photo "
    "and for the edit. A **Fader network** slides the garment's colour and class (any part of the way); "
    "**StarGAN** redraws it as another class. Photos are 64×64, shown enlarged."
)


def result_sheet(label: str, elem_id: str) -> gr.Image:
    """The results of one search: one image of ten thumbnails (one file to fetch, not ten)."""
    return gr.Image(type="pil", format="png", label=label, interactive=False, buttons=IMAGE_BUTTONS, elem_id=elem_id)


def build_demo(models: dict[str, str] | None = None, examples_path: str | Path = EXAMPLES_FILE,
               index_folder: str | Path | None = None) -> gr.Blocks:
    """The Space's Blocks for `models` (label -> source; default `core.demos.edit_search.available_editors()`),
    searching the index in `index_folder` (default `core.demos.edit_search.INDEX_FOLDER`)."""
    models = lab.available_editors() if models is None else models
    index_folder = lab.INDEX_FOLDER if index_folder is None else index_folder
    models, broken = split_loadable(models, lab.describe)
    first = next(iter(models), None)
    try:
        examples = examples_lab.example_images(examples_path)
        examples_text = examples_lab.examples_source(examples_path)
    except UserError as err:
        examples, examples_text = [], str(err)
    try:
        index = lab.open_index(index_folder)
        index_text = lab.index_note(index)
    except UserError as err:  # the page says why; every search then says it again
        index, index_text = None, str(err)
    try:
        chosen = lab.controls(models[first]) if first else lab.Controls([], [], False)
        caption_text = lab.describe(models[first]) if first else lab.NO_EDITORS
    except UserError as err:
        chosen, caption_text = lab.Controls([], [], False), str(err)
    start = examples[0] if examples else None

    def the_index():
        if index is None:
            raise UserError(index_text)
        return index

    @friendly
    def run(model: str, image: np.ndarray | None, own: str | None, class_to: str | None, class_strength: float,
            color_to: str | None, color_strength: float):
        result = lab.edit_and_search(lab.pick(models, model), image, the_index(), own, class_to, class_strength,
                                     color_to, color_strength)
        return (result.photo, result.edited, result.original.sheet, result.original.table, result.found.sheet,
                result.found.table, result.summary)

    @friendly
    def search(image: np.ndarray | None):
        """The products most similar to the session's photo, with no edit (the /search endpoint)."""
        if image is None:
            raise UserError("pick an example photo or upload one first")
        found = lab.search(the_index(), image)
        return found.sheet, found.table, f"Searched {len(the_index()):,} products in {found.milliseconds:.0f} ms."

    @friendly
    def upload(path: str | None):
        from core.demos.translate import prepare_upload

        photo = prepare_upload(path)
        guessed = lab.guess_class(the_index(), photo) if index is not None else None
        return photo, None, gr.update(value=guessed, label="This photo is a (guessed from its nearest products)")

    @friendly
    def example(number: float):
        chosen_example = examples_lab.example_at(examples, number)
        return chosen_example.image, None, gr.update(value=chosen_example.class_name, label="This photo is a")

    @friendly
    def choose_example(evt: gr.SelectData):
        return example(evt.index if isinstance(evt.index, int) else evt.index[0])

    @friendly
    def select_model(model: str):
        source = lab.pick(models, model)
        c = lab.controls(source)
        return (lab.describe(source),
                gr.Dropdown(choices=[lab.KEEP, *c.classes] if c.sliders else c.classes,
                            value=lab.KEEP if c.sliders else (c.classes[0] if c.classes else None)),
                gr.Slider(visible=c.sliders),
                gr.Dropdown(choices=[lab.KEEP, *c.colors], value=lab.KEEP, visible=bool(c.colors)),
                gr.Slider(visible=bool(c.colors)))

    with blocks("Fashion GAN Lab: edit, then search") as demo:
        gr.Markdown(INTRO)
        with gr.Row():
            model = gr.Dropdown(list(models), value=first, label="Editor")
        caption = gr.Markdown(caption_text)
        if broken:
            gr.Markdown(broken_note(broken))
        gr.Markdown(index_text)
        current = gr.State(start.image if start else None)
        with gr.Row():
            with gr.Column(scale=1, min_width=420):
                gallery = gr.Gallery(examples_lab.gallery_items(examples), label="Clothing test photos (click one)",
                                     columns=examples_lab.EXAMPLES_PER_CLASS, height=360, allow_preview=False,
                                     format="png", interactive=False)
                photo_file = gr.File(label="…or upload a garment photo", file_types=["image"], type="filepath",
                                     height=110, elem_id="upload")
                own = gr.Dropdown(chosen.classes, value=start.class_name if start else None, label="This photo is a",
                                  allow_custom_value=True)
                with gr.Row():
                    class_to = gr.Dropdown([lab.KEEP, *chosen.classes] if chosen.sliders else chosen.classes,
                                           value=lab.KEEP if chosen.sliders else None, label="Make it a",
                                           allow_custom_value=True)
                    class_strength = gr.Slider(0, 2, value=lab.DEFAULT_STRENGTH, step=0.05,
                                               label="Class strength (1: the class; 2: pushed past it)",
                                               visible=chosen.sliders)
                with gr.Row():
                    color_to = gr.Dropdown([lab.KEEP, *chosen.colors], value=lab.KEEP, label="Colour",
                                           visible=bool(chosen.colors), allow_custom_value=True)
                    color_strength = gr.Slider(0, 2, value=lab.DEFAULT_STRENGTH, step=0.05,
                                               label="Colour strength (1: the colour; 2: pushed past it)",
                                               visible=bool(chosen.colors))
                button = gr.Button("Edit and search", variant="primary")
            with gr.Column(scale=2, min_width=480):
                with gr.Row():
                    photo = gr.Image(type="pil", format="png", label="Photo", interactive=False, buttons=IMAGE_BUTTONS,
                                     elem_id="photo")
                    edited = gr.Image(type="pil", format="png", label="Edited", interactive=False,
                                      buttons=IMAGE_BUTTONS, elem_id="edited")
                summary = gr.Markdown(elem_id="summary")
                with gr.Row():
                    with gr.Column():
                        original = result_sheet("Most similar to the photo", "original-results")
                        original_table = gr.Markdown(elem_id="original-table")
                    with gr.Column():
                        found = result_sheet("Most similar to the edit", "edited-results")
                        found_table = gr.Markdown(elem_id="edited-table")
        gr.Markdown(f"Example photos: {examples_text}.")

        inputs = [model, current, own, class_to, class_strength, color_to, color_strength]
        outputs = [photo, edited, original, original_table, found, found_table, summary]
        gr.on([button.click, class_to.input, color_to.input, class_strength.release, color_strength.release],
              run, inputs, outputs, api_name="edit_search")
        search_out = gr.Markdown(visible=False)
        search_button = gr.Button(visible=False)  # the /search endpoint: the session photo's products, no edit
        search_button.click(search, current, [original, original_table, search_out], api_name="search")
        uploaded = photo_file.upload(upload, photo_file, [current, photo_file, own], api_name="upload")
        uploaded.success(run, inputs, outputs, api_visibility="private")
        example_index = whole_number_box(0, visible=False)
        example_index.submit(example, example_index, [current, photo_file, own], api_name="example").then(
            run, inputs, outputs, api_visibility="private")
        gallery.select(choose_example, None, [current, photo_file, own], api_visibility="private").then(
            run, inputs, outputs, api_visibility="private")
        model.change(select_model, model, [caption, class_to, class_strength, color_to, color_strength],
                     api_name="model_info").then(run, inputs, outputs, api_visibility="private")
        if first and start is not None and index is not None:
            demo.load(run, inputs, outputs, api_visibility="private")
    return demo


if __name__ == "__main__":
    launch(build_demo())
