"""What the Gradio Spaces share besides UI: `common` for every Space, then one module per Space."""
