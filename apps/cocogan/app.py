"""Fashion GAN Lab COCO-GAN Space: images drawn by parts, beyond their borders, and completed from one real patch.

Layout and event wiring only; grids, outlines, click-to-cell mapping, the example
gallery and patch-guided completion live in core.cocogan_demo. Run from the repo
with `python -m apps.cocogan.app`, or `python app.py` in a Space folder built by
`python -m apps.build_spaces`.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
from PIL import Image

from core import cocogan_demo as lab
from core.demo import broken_note, friendly, split_loadable
from core.demos.components import blocks, launch, whole_number_box
from core.errors import UserError

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"  # shipped with the Space
DEFAULT_GRID = 4  # cells per side before a model is loaded (both shipped geometries have 4)
IMAGE_BUTTONS = ["download", "fullscreen"]  # no "share": a Space may run offline


def output_image(label: str, elem_id: str | None = None) -> gr.Image:
    """A PNG the app draws (not an input), with download and full-screen buttons."""
    return gr.Image(type="pil", format="png", label=label, interactive=False, buttons=IMAGE_BUTTONS, elem_id=elem_id)
INTRO = (
    "# Fashion GAN Lab: COCO-GAN\n"
    "COCO-GAN (Lin et al., ICCV 2019) never draws a whole image: its generator draws one small *micro patch* at a "
    "time from a latent vector and the patch's coordinate, and the patches are tiled into the image. Its "
    "discriminator only ever saw *macro patches* (2×2 micro patches) with their coordinates, and a head Q "
    "learned to recover the latent from a macro patch. So you can redraw one part, ask for patches beyond the "
    "border it was trained on, and start from one real patch."
)


def cells_info(cells: int) -> str:
    """The hint under a row or column field."""
    return f"0 to {cells - 1}, from the top left"


def build_demo(models: dict[str, str] | None = None, examples_dir: str | Path = EXAMPLES_DIR) -> gr.Blocks:
    """The Space's Blocks for `models` (label -> source); default: `core.cocogan_demo.available_cocogans()`."""
    models = lab.available_cocogans() if models is None else models
    models, broken = split_loadable(models, lab.describe)  # start with the models that load; name the others
    first = next(iter(models), None)
    try:
        geometry = lab.geometry(models[first]) if first else None
        caption_text = lab.describe(models[first]) if first else lab.NO_MODELS
        gallery_items = lab.gallery_items(models[first], examples_dir) if first else []
    except UserError as err:  # a broken model or missing examples: say so in the page, let the others be picked
        geometry, caption_text, gallery_items = None, str(err), []
    grid = geometry.grid if geometry else DEFAULT_GRID
    offsets = geometry.macro_offsets if geometry else DEFAULT_GRID - 1

    @friendly
    def generate(model: str, seed: float, show_grid: bool) -> Image.Image:
        return lab.generate_image(lab.pick(models, model), seed, show_grid)

    @friendly
    def redraw(model: str, seed: float, row: float, col: float, cell_seed: float, show_grid: bool) -> Image.Image:
        return lab.redraw_cell(lab.pick(models, model), seed, row, col, cell_seed, show_grid)

    @friendly
    def beyond(model: str, seed: float, extra: float, show_grid: bool) -> Image.Image:
        return lab.beyond_image(lab.pick(models, model), seed, extra, show_grid)

    @friendly
    def complete(
        model: str, example: float, row: float, col: float, extra: float, show_grid: bool
    ) -> tuple[Image.Image, Image.Image, str]:
        source = lab.pick(models, model)
        result = lab.complete(source, lab.example_at(source, example, examples_dir).image, row, col, extra, show_grid)
        return result.real, result.completed, result.summary()

    @friendly
    def select_model(model: str) -> tuple[str, gr.Number, gr.Number, gr.Number, gr.Number, gr.Gallery, int]:
        source = lab.pick(models, model)
        g = lab.geometry(source)
        cell = {"info": cells_info(g.grid), "value": 0}
        macro = {"info": cells_info(g.macro_offsets), "value": 0}
        return (
            lab.describe(source),
            gr.Number(**cell),
            gr.Number(**cell),
            gr.Number(**macro),
            gr.Number(**macro),
            gr.Gallery(value=lab.gallery_items(source, examples_dir)),
            0,
        )

    @friendly
    def pick_cell(model: str, evt: gr.SelectData) -> tuple[int, int]:
        index = evt.index if isinstance(evt.index, (list, tuple)) else (None, None)
        return lab.cell_at(lab.pick(models, model), *index)

    @friendly
    def pick_macro(model: str, evt: gr.SelectData) -> tuple[int, int]:
        index = evt.index if isinstance(evt.index, (list, tuple)) else (None, None)
        return lab.macro_at(lab.pick(models, model), *index)

    def choose_example(evt: gr.SelectData) -> int:
        return evt.index if isinstance(evt.index, int) else evt.index[0]

    with blocks("Fashion GAN Lab: COCO-GAN") as demo:
        gr.Markdown(INTRO)
        with gr.Row(equal_height=True):
            model = gr.Dropdown(list(models), value=first, label="Model", scale=3)
            show_grid = gr.Checkbox(True, label="Show the micro-patch grid", scale=1)
        caption = gr.Markdown(caption_text)
        if broken:
            gr.Markdown(broken_note(broken))
        with gr.Tab("Generate and redraw a part"), gr.Row():
            with gr.Column(scale=1, min_width=300):
                seed = whole_number_box(0, label="Seed (the image's latent)", minimum=0)
                generate_button = gr.Button("Generate", variant="primary")
                gr.Markdown(
                    "**Redraw one micro patch** from another seed's latent: click a cell of the image, or set "
                    "its row and column. Only that patch changes; it is drawn at the same coordinate."
                )
                with gr.Row():
                    row = whole_number_box(0, label="Row", info=cells_info(grid), minimum=0)
                    col = whole_number_box(0, label="Column", info=cells_info(grid), minimum=0)
                cell_seed = whole_number_box(1, label="Seed for the redrawn patch", minimum=0)
                redraw_button = gr.Button("Redraw the cell")
            with gr.Column(scale=2):
                image = output_image("Generated image (click a cell to redraw it)", "cocogan-image")
        with gr.Tab("Beyond the boundary"), gr.Row():
            with gr.Column(scale=1, min_width=300):
                beyond_seed = whole_number_box(0, label="Seed", minimum=0)
                extra = gr.Slider(
                    0, lab.MAX_EXTRA, value=1, step=1, precision=0, label="Extra micro patches beyond each border"
                )
                beyond_button = gr.Button("Generate beyond the border", variant="primary")
                gr.Markdown(
                    "The magenta square is the training-size image (the same as *Generate* for this seed). "
                    "Everything outside it comes from coordinates the model never saw in training: expect it "
                    "to continue the garment for a patch or two, then to drift into texture."
                )
            with gr.Column(scale=2):
                wide = output_image("Beyond-boundary image")
        with gr.Tab("Patch-guided"), gr.Row():
            with gr.Column(scale=1, min_width=560):  # Gradio gives each thumbnail column at least 100 px
                gallery = gr.Gallery(
                    gallery_items,
                    label="Real test images, class by class (click one)",
                    columns=5,
                    height=330,
                    allow_preview=False,
                    format="png",
                    interactive=False,
                )
                example = whole_number_box(0, label="Example (its place in the gallery, from 0)", minimum=0)
                with gr.Row():
                    macro_row = whole_number_box(0, label="Macro patch row", info=cells_info(offsets), minimum=0)
                    macro_col = whole_number_box(0, label="Macro patch column", info=cells_info(offsets), minimum=0)
                guided_extra = gr.Slider(
                    0, lab.MAX_EXTRA, value=0, step=1, precision=0, label="Extra micro patches beyond each border"
                )
                complete_button = gr.Button("Generate from the patch", variant="primary")
            with gr.Column(scale=1):
                with gr.Row():
                    real = output_image("Real image (click to move the patch)")
                    completed = output_image("Generated from that patch")
                summary = gr.Markdown()
        try:
            source_text = lab.examples_source(examples_dir)
        except UserError as err:
            source_text = str(err)
        gr.Markdown(f"Real images: {source_text}.")

        generate_inputs = [model, seed, show_grid]
        redraw_inputs = [model, seed, row, col, cell_seed, show_grid]
        beyond_inputs = [model, beyond_seed, extra, show_grid]
        complete_inputs = [model, example, macro_row, macro_col, guided_extra, show_grid]
        complete_outputs = [real, completed, summary]
        # The public endpoints first: later (private) uses of the same function get suffixed names
        gr.on([generate_button.click, seed.submit], generate, generate_inputs, image, api_name="generate")
        gr.on(
            [redraw_button.click, row.submit, col.submit, cell_seed.submit],
            redraw,
            redraw_inputs,
            image,
            api_name="redraw_cell",
        )
        gr.on([beyond_button.click, beyond_seed.submit, extra.release], beyond, beyond_inputs, wide, api_name="beyond")
        gr.on(
            [complete_button.click, macro_row.submit, macro_col.submit, guided_extra.release, example.submit],
            complete,
            complete_inputs,
            complete_outputs,
            api_name="complete",
        )
        model_outputs = [caption, row, col, macro_row, macro_col, gallery, example]
        model.change(select_model, model, model_outputs, api_name="model_info").then(
            generate, generate_inputs, image, api_visibility="private"
        ).then(beyond, beyond_inputs, wide, api_visibility="private").then(
            complete, complete_inputs, complete_outputs, api_visibility="private"
        )
        image.select(pick_cell, model, [row, col], api_visibility="private").then(
            redraw, redraw_inputs, image, api_visibility="private"
        )
        real.select(pick_macro, model, [macro_row, macro_col], api_visibility="private").then(
            complete, complete_inputs, complete_outputs, api_visibility="private"
        )
        gallery.select(choose_example, None, example, api_visibility="private").then(
            complete, complete_inputs, complete_outputs, api_visibility="private"
        )
        show_grid.input(generate, generate_inputs, image, api_visibility="private").then(
            beyond, beyond_inputs, wide, api_visibility="private"
        ).then(complete, complete_inputs, complete_outputs, api_visibility="private")
        demo.load(generate, generate_inputs, image, api_visibility="private").then(
            beyond, beyond_inputs, wide, api_visibility="private"
        ).then(complete, complete_inputs, complete_outputs, api_visibility="private")
    return demo


if __name__ == "__main__":
    # Offline-safe as is: no analytics (above), and Gradio 6's default theme serves its fonts itself.
    launch(build_demo())
