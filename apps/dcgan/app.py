"""Fashion GAN Lab DCGAN Space: sample fashion images by class and walk the latent space.

Layout and event wiring only; loading, seeding, labels and grids live in core.demo
and core.inference. Run from the repo with `python -m apps.dcgan.app`, or
`python app.py` in a Space folder built by `python -m apps.build_spaces`.
"""

from __future__ import annotations

import gradio as gr
from PIL import Image

from core import demo as lab
from core.demos.components import blocks, launch, whole_number_box


def build_demo(models: dict[str, str] | None = None) -> gr.Blocks:
    """The Space's Blocks for `models` (label -> source); default: `core.demo.available_models()`."""
    models = lab.available_models() if models is None else models
    models, broken = lab.split_loadable(models, lab.describe)  # start with the models that load; name the others
    first = next(iter(models), None)
    names = lab.class_choices(models[first]) if first else []

    @lab.friendly
    def generate(model: str, class_name: str, seed: float, n: float) -> Image.Image:
        return lab.sample_grid(lab.pick(models, model), n, seed, class_name)

    @lab.friendly
    def interpolate(model: str, class_name: str, seed_a: float, seed_b: float, steps: float) -> Image.Image:
        return lab.interpolation_strip(lab.pick(models, model), seed_a, seed_b, steps, class_name)

    @lab.friendly
    def select_model(model: str) -> tuple[gr.Dropdown, gr.Dropdown, str]:
        source = lab.pick(models, model)
        classes = lab.class_choices(source)
        return (
            gr.Dropdown(choices=[lab.ALL_CLASSES, *classes], value=lab.ALL_CLASSES),
            gr.Dropdown(choices=classes, value=classes[0] if classes else None),
            lab.describe(source),
        )

    with blocks("Fashion GAN Lab: DCGAN") as demo:
        gr.Markdown("# Fashion GAN Lab: DCGAN\nClass-conditional fashion images from a DCGAN. Same seed, same images.")
        model = gr.Dropdown(list(models), value=first, label="Model")
        caption = gr.Markdown(lab.describe(models[first]) if first else lab.NO_MODELS)
        if broken:
            gr.Markdown(lab.broken_note(broken))
        with gr.Tab("Generate"):
            with gr.Row():
                # allow_custom_value: API calls may pass another model's classes; core.demo validates them
                class_name = gr.Dropdown(
                    [lab.ALL_CLASSES, *names], value=lab.ALL_CLASSES, label="Class", allow_custom_value=True
                )
                seed = whole_number_box(0, label="Seed", minimum=0)
                n = gr.Slider(1, lab.MAX_IMAGES, value=16, step=1, precision=0, label="Number of images")
            generate_button = gr.Button("Generate", variant="primary")
            grid = gr.Image(type="pil", format="png", label="Samples", interactive=False, elem_id="samples")
        with gr.Tab("Interpolate"):
            with gr.Row():
                walk_class = gr.Dropdown(
                    names, value=names[0] if names else None, label="Class", allow_custom_value=True
                )
                seed_a = whole_number_box(0, label="Seed A", minimum=0)
                seed_b = whole_number_box(1, label="Seed B", minimum=0)
                steps = gr.Slider(3, lab.MAX_STEPS, value=8, step=1, precision=0, label="Steps")
            interpolate_button = gr.Button("Interpolate", variant="primary")
            strip = gr.Image(type="pil", format="png", label="Latent walk", interactive=False, elem_id="walk")

        model.change(select_model, model, [class_name, walk_class, caption], api_visibility="private")
        generate_button.click(generate, [model, class_name, seed, n], grid, api_name="generate")
        interpolate_button.click(interpolate, [model, walk_class, seed_a, seed_b, steps], strip, api_name="interpolate")
        if first:  # samples on arrival: an empty box until the first click says nothing about the model
            demo.load(generate, [model, class_name, seed, n], grid, api_visibility="private")
    return demo


demo = build_demo()

if __name__ == "__main__":
    # Offline-safe as is: no analytics (above), and Gradio 6's default theme serves its fonts itself.
    launch(demo)
