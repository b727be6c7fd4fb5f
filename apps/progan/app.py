"""Fashion GAN Lab Progressive GAN Space: samples by seed, the growth strip 4x4 to full size, latent walks.

Layout and event wiring only; sampling and strips live in core.demo and
core.demos.progan. Run from the repo with `python -m apps.progan.app`, or
`python app.py` in a Space folder built by `python -m apps.build_spaces`.
"""

from __future__ import annotations

import gradio as gr
from PIL import Image

from core import demo as lab
from core.demos import progan
from core.demos.components import blocks, launch, whole_number_box


def build_demo(models: dict[str, str] | None = None) -> gr.Blocks:
    """The Space's Blocks for `models` (label -> source); default: the Progressive GANs of `$MODEL_SOURCE`."""
    models = lab.available_models(family="progan") if models is None else models
    models, broken = lab.split_loadable(models, lab.describe)
    first = next(iter(models), None)

    @lab.friendly
    def generate(model: str, seed: float, n: float) -> Image.Image:
        return lab.sample_grid(lab.pick(models, model), n, seed)

    @lab.friendly
    def grow(model: str, seed: float) -> tuple[Image.Image, str]:
        source = lab.pick(models, model)
        return progan.growth_strip(source, seed), progan.stage_caption(source)

    @lab.friendly
    def interpolate(model: str, seed_a: float, seed_b: float, steps: float) -> Image.Image:
        return lab.interpolation_strip(lab.pick(models, model), seed_a, seed_b, steps)

    @lab.friendly
    def select_model(model: str) -> str:
        return lab.describe(lab.pick(models, model))

    with blocks("Fashion GAN Lab: Progressive GAN") as demo:
        gr.Markdown(
            "# Fashion GAN Lab: Progressive GAN\nA generator that grew from 4×4 pixels to its full size, "
            "one resolution at a time (Karras et al., 2018). Same seed, same images."
        )
        model = gr.Dropdown(list(models), value=first, label="Model")
        caption = gr.Markdown(lab.describe(models[first]) if first else lab.NO_MODELS)
        if broken:
            gr.Markdown(lab.broken_note(broken))
        with gr.Tab("Generate"):
            with gr.Row():
                seed = whole_number_box(0, label="Seed", minimum=0)
                n = gr.Slider(1, lab.MAX_IMAGES, value=16, step=1, precision=0, label="Number of images")
            generate_button = gr.Button("Generate", variant="primary")
            grid = gr.Image(type="pil", format="png", label="Samples", interactive=False, elem_id="samples")
        with gr.Tab("Growth"):
            gr.Markdown("The same latent through the snapshot kept at the end of every stage: each pixel splits into four.")
            with gr.Row():
                growth_seed = whole_number_box(0, label="Seed", minimum=0)
            grow_button = gr.Button("Grow", variant="primary")
            strip = gr.Image(type="pil", format="png", label="Growth", interactive=False, elem_id="growth")
            stages = gr.Markdown()
        with gr.Tab("Interpolate"):
            with gr.Row():
                seed_a = whole_number_box(0, label="Seed A", minimum=0)
                seed_b = whole_number_box(1, label="Seed B", minimum=0)
                steps = gr.Slider(3, lab.MAX_STEPS, value=8, step=1, precision=0, label="Steps")
            interpolate_button = gr.Button("Interpolate", variant="primary")
            walk = gr.Image(type="pil", format="png", label="Latent walk", interactive=False, elem_id="walk")

        model.change(select_model, model, caption, api_visibility="private")
        generate_button.click(generate, [model, seed, n], grid, api_name="generate")
        grow_button.click(grow, [model, growth_seed], [strip, stages], api_name="grow")
        interpolate_button.click(interpolate, [model, seed_a, seed_b, steps], walk, api_name="interpolate")
        if first:  # samples on arrival
            demo.load(generate, [model, seed, n], grid, api_visibility="private")
    return demo


demo = build_demo()

if __name__ == "__main__":
    launch(demo)
