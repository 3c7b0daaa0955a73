"""blvnet_edu/course_export.py: the published course names no path of the machine that ran it."""

import re
import sysconfig
from pathlib import Path

from blvnet_edu.course_export import portable

ROOT = Path(__file__).resolve().parents[1]


def test_paths_of_the_machine_become_portable():
    root, work = Path("/home/ana/blvnet-edu"), Path("/tmp/tmpab12/work")
    packages = sysconfig.get_paths()["purelib"]
    text = (
        f"reusing {root}/runs/synthetic/tsn_resnet_tiny; clip {root}/notebooks/data/a.mp4\n"
        f"{packages}/tqdm/auto.py:21: TqdmWarning\n"
        f"results in {work}; {work}/kinetics-demo/videos/x.mp4 and the checkout {root}"
    )
    assert portable(text, root, work) == (
        "reusing runs/synthetic/tsn_resnet_tiny; clip notebooks/data/a.mp4\n"
        "<site-packages>/tqdm/auto.py:21: TqdmWarning\n"
        "results in <work>; <work>/kinetics-demo/videos/x.mp4 and the checkout ."
    )


def test_the_published_pages_name_no_machine_path():
    machine = re.compile(r"(/tmp/|/home/|/root/|/work/|/usr/lib/|site-packages/)")
    found = {
        page.name: machine.findall(page.read_text())
        for page in sorted((ROOT / "docs" / "course").glob("*"))
        if page.suffix in (".html", ".ipynb")
    }
    assert not {name: hits for name, hits in found.items() if hits}
