"""pyproject.toml and environment.yml pin the same versions; the README's commands are what CI runs."""

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]


def pins(requirements):
    found = {}
    for req in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", req.strip())
        assert match, f"not an exact pin: {req!r}"
        found[match[1].lower().replace("_", "-")] = match[2]
    return found


def test_environment_yml_pins_what_pyproject_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    from_pyproject = pins(project["dependencies"] + sum(project["optional-dependencies"].values(), []))
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    from_env = pins([r for r in pip_section if not r.startswith("-e")])
    assert from_env == from_pyproject
    assert {"torch", "torchvision"} <= set(from_pyproject)


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- test-command -->\s*```bash\n(.+?)\n```", readme, re.S)
    assert block, "README must keep the test command in a marked block"
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == block[1].strip()


def test_the_test_command_lints_and_runs_every_tier():
    """`scripts/test.sh` (the README's test command) runs ruff, then pytest with no marker left out."""
    lines = [
        line for line in (ROOT / "scripts" / "test.sh").read_text().splitlines() if line and line[0] != "#"
    ]
    assert any(".venv/bin/ruff check" in line for line in lines)
    assert any(".venv/bin/ruff format --check" in line for line in lines)
    assert (
        lines[-1] == '.venv/bin/python -m pytest "$@"'
    )  # everything: cuda tests skip themselves without a GPU
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert any(r.startswith("ruff==") for r in project["project"]["optional-dependencies"]["dev"])
    assert any(m.startswith("slow:") for m in project["tool"]["pytest"]["ini_options"]["markers"])


def test_readme_opens_the_course_with_the_cli():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- course-command -->\s*```bash\n(.+?)\n```", readme, re.S)
    assert block and block[1].strip() == "bash scripts/setup.sh && .venv/bin/blvnet-edu course"
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    extras = re.search(r'-e "\.\[([a-z,]+)\]"', setup)[1].split(",")
    assert {"app", "dev", "course"} <= set(extras)  # the app, the tests and JupyterLab come with the set-up
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(r.startswith("jupyterlab==") for r in project["optional-dependencies"]["course"])


def test_the_wheel_holds_the_library_and_the_app_with_its_data():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    inits = (ROOT / "blvnet_edu").rglob("__init__.py")
    library = sorted(".".join(p.parent.relative_to(ROOT).parts) for p in inits)
    assert sorted(setuptools["packages"]) == sorted([*library, "blvnet_edu_app"])  # none forgotten
    assert setuptools["package-dir"] == {"blvnet_edu_app": "app"}  # no package named `app` installed
    assert (ROOT / "app" / "__init__.py").is_file()
    data = setuptools["package-data"]["blvnet_edu_app"]
    assert any((ROOT / "app").glob("demo/*.pt")) and any((ROOT / "app").glob("examples/*.mp4"))
    assert {"demo/*.pt", "examples/*.mp4"} <= set(data)
    labels = setuptools["package-data"]["blvnet_edu.data"]  # the released checkpoints' class names
    assert sorted(p.name for p in (ROOT / "blvnet_edu" / "data").glob(labels[0])) == [
        "kinetics400.txt",
        "something_something_v1.txt",
        "something_something_v2.txt",
    ]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(r.startswith("gradio") for r in project["dependencies"])  # the app is an extra
    assert any(r.startswith("gradio==") for r in project["optional-dependencies"]["app"])
