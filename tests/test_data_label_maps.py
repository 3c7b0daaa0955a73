"""blvnet_edu/data/label_maps.py: the shipped class lists of the authors' checkpoints."""

import pytest

from blvnet_edu.data.label_maps import LABEL_MAPS, label_map_for, load_labels


@pytest.mark.parametrize("name, count", [("ssv1", 174), ("ssv2", 174), ("kinetics400", 400)])
def test_counts_and_uniqueness(name, count):
    names = load_labels(name)
    assert len(names) == count == len(set(names))
    assert all(n and n == n.strip() for n in names)


def test_known_indices():
    v1, v2, k400 = (load_labels(n) for n in ("ssv1", "ssv2", "kinetics400"))
    assert v1[:3] == [
        "Holding something",
        "Turning something upside down",
        "Turning the camera left while filming something",
    ]
    assert v1[-1] == "Poking a hole into some substance"
    assert v2[:2] == ["Approaching something with your camera", "Attaching something to something"]
    assert v2[-1] == "Wiping something off of something"
    assert k400[0] == "abseiling" and k400[59] == "clean and jerk" and k400[60] == "cleaning floor"
    assert k400[196] == "massaging person's head" and k400[308] == "skiing (not slalom or crosscountry)"


def test_v1_is_csv_order_not_sorted_and_v2_is_sorted():
    v1, v2 = load_labels("ssv1"), load_labels("ssv2")
    assert set(v1) == set(v2) and v1 != sorted(v1) and v2 == sorted(v2)
    assert (
        v1[82] == sorted(v1)[82] == "Pretending to take something out of something"
    )  # the one index TSM shares


def test_files_and_errors(tmp_path):
    path = tmp_path / "classes.txt"
    path.write_text("a\nb\n")
    assert load_labels(path) == ["a", "b"]
    with pytest.raises(FileNotFoundError, match="ssv1, ssv2, kinetics400"):
        load_labels("ssv3")


def test_the_class_count_tells_only_kinetics():
    assert label_map_for(400) == "kinetics400"
    assert label_map_for(174) is None  # V1 or V2: the user must say
    assert label_map_for(10) is None and set(LABEL_MAPS) == {"ssv1", "ssv2", "kinetics400"}
