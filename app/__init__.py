"""The explainer app, installed as the package `blvnet_edu_app` (pyproject.toml maps it to this
folder): `app.py` is the Gradio UI, `demo/` the bundled demo models, `examples/` one clip per
class. Needs the `app` extra (Gradio): `pip install -e ".[app]"`.
"""
