"""Fashion GAN Lab classic-collection Space: ten GAN families side by side, infoGAN's codes, training timelines.

Layout and event wiring only; which models, loading, grids, codes, captions and
timelines live in core.demos.collection. Run from the repo with
`python -m apps.collection.app`, or `python app.py` in a Space folder built by
`python -m apps.build_spaces`.
"""

from __future__ import annotations

import gradio as gr
from PIL import Image

from core.demos import collection as lab
from core.demos.common import ALL_CLASSES, friendly
from core.demos.components import blocks, launch, whole_number_box

INTRO = (
    "# Fashion GAN Lab: the classic collection\n"
    "GAN, CGAN, ACGAN, infoGAN, WGAN, WGAN-GP, DRAGAN, LSGAN, BEGAN and EBGAN on the same networks and the same "
    "Fashion-MNIST: one seed draws every family's images at once. The class applies to the class-conditional "
    "families (CGAN, ACGAN, infoGAN), the codes to infoGAN only; the rest of each image comes from the seed."
)
GALLERY = {"format": "png", "object_fit": "contain", "height": "auto", "buttons": ["download", "fullscreen"]}


def build_demo(models: dict[str, str] | None = None, scores: lab.Scores | None = None) -> gr.Blocks:
    """The Space's Blocks for `models` (label -> source; default: `$MODEL_SOURCE`'s) and the FIDs of `scores`
    (default: read from `$RESULTS_SOURCE`). Both are read once, here."""
    collection = lab.load_collection(models)
    scores = lab.read_scores() if scores is None else scores
    families = lab.family_choices(collection)
    first = families[0][1] if families else None
    grids, note = lab.timeline(collection, first, scores) if first else ([], scores.problem)

    @friendly
    def side_by_side(seed: float, n: float, class_name: str, *codes) -> list[tuple[Image.Image, str]]:
        return lab.side_by_side(collection, seed, n, class_name, codes, scores)

    @friendly
    def traverse(seed: float, steps: float, class_name: str, *codes) -> Image.Image:
        return lab.code_traversal(collection, seed, steps, class_name, codes)

    @friendly
    def show_timeline(family: str) -> tuple[list[tuple[Image.Image, str]], str]:
        return lab.timeline(collection, family, scores)

    with blocks("Fashion GAN Lab: the classic collection") as demo:
        gr.Markdown(INTRO)
        gr.Markdown(lab.status(collection))
        with gr.Row():
            seed = whole_number_box(0, label="Seed", minimum=0)
            classes = lab.class_choices(collection)
            # allow_custom_value: API calls may pass any name; core.demos.collection validates it in one line
            class_name = gr.Dropdown(classes or [ALL_CLASSES], value=ALL_CLASSES, label="Class (CGAN, ACGAN, infoGAN)",
                                     allow_custom_value=True, interactive=bool(classes))
        with gr.Accordion("infoGAN's codes", open=False):
            gr.Markdown(lab.describe_codes(collection))
            with gr.Row():
                codes = [gr.Slider(-lab.CODE_LIMIT, lab.CODE_LIMIT, value=0, step=0.1, label=f"Continuous code {i + 1}")
                         for i in range(collection.continuous_codes)]
                if lab.categorical_choices(collection):
                    codes.append(gr.Dropdown(lab.categorical_choices(collection), value=lab.DRAWN,
                                             label="Categorical code", allow_custom_value=True))
        with gr.Tab("Side by side"):
            n = gr.Slider(1, lab.MAX_IMAGES, value=20, step=1, precision=0, label="Images per family")
            generate_button = gr.Button("Generate", variant="primary")
            side = gr.Gallery(label="One seed, every family", columns=2, elem_id="side-by-side", **GALLERY)
        with gr.Tab("infoGAN traversal"):
            gr.Markdown(f"One row per continuous code, swept from {-lab.CODE_LIMIT:g} to {lab.CODE_LIMIT:g} "
                        "(trained on [-1, 1]); z, the class and the other codes stay fixed.")
            steps = gr.Slider(2, lab.MAX_STEPS, value=9, step=1, precision=0, label="Steps")
            traverse_button = gr.Button("Traverse", variant="primary")
            walk = gr.Image(type="pil", format="png", label="Code traversal", interactive=False)
        with gr.Tab("Training timeline"):
            family = gr.Dropdown(families, value=first, label="Family")
            timeline_note = gr.Markdown(note)
            timeline = gr.Gallery(grids, label="Samples after each snapshot epoch", columns=4, **GALLERY)

        generate_button.click(side_by_side, [seed, n, class_name, *codes], side, api_name="side_by_side")
        traverse_button.click(traverse, [seed, steps, class_name, *codes], walk, api_name="traverse")
        family.change(show_timeline, family, [timeline, timeline_note], api_name="timeline")
    return demo


demo = build_demo()

if __name__ == "__main__":
    # Offline-safe as is: no analytics (above), and Gradio 6's default theme serves its fonts itself.
    launch(demo)
