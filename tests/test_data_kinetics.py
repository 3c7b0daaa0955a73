"""blvnet_edu/data/kinetics.py (+ lists.py): the official CSV and clip layout, bad rows and clips."""

import json
from pathlib import Path

import pytest
from conftest import index_frames

from blvnet_edu.cli import main
from blvnet_edu.data.kinetics import make_subset, read_annotations
from blvnet_edu.data.lists import make_folder_dataset, read_classes, read_list
from blvnet_edu.data.video_io import probe_video, write_video

CSV = """label,youtube_id,time_start,time_end,split,is_cc
"abseiling",aaaaaaaaaa1,10,20,train,0
"abseiling",aaaaaaaaaa2,0,10,train,0
"abseiling",aaaaaaaaaa3,5,15,train,0
abseiling,aaaaaaaaaa4,5,15,val,0
"air drumming",bbbbbbbbbb1,30,40,train,0
"air drumming",bbbbbbbbbb2,30,40,train,0
"air drumming",bbbbbbbbbb3,1,11,val,0
"drinking beer, wine",ccccccccccc,0,10,train,0
"drinking beer, wine",cccccccccc2,0,10,val,0
"zumba",,0,10,train,0
"zumba",zzzzzzzzzz1,zero,10,train,0
"zumba",zzzzzzzzzz2,0,10,mystery,0
"zumba",zzzzzzzzzz3,0,10,train,1
"""


def clip_name(youtube_id, start, end):
    return f"{youtube_id}_{start:06d}_{end:06d}.mp4"


@pytest.fixture
def kinetics(tmp_path):
    """Official-style annotations and clips; flat and per-class folders; bad clips."""
    (tmp_path / "train.csv").write_text(CSV)
    videos = tmp_path / "clips"
    ok = [
        ("aaaaaaaaaa1", 10, 20, "abseiling"),
        ("aaaaaaaaaa3", 5, 15, None),
        ("aaaaaaaaaa4", 5, 15, None),
        ("bbbbbbbbbb1", 30, 40, "air drumming"),
        ("bbbbbbbbbb2", 30, 40, None),
        ("bbbbbbbbbb3", 1, 11, None),
        ("ccccccccccc", 0, 10, None),
        ("cccccccccc2", 0, 10, None),
        ("zzzzzzzzzz3", 0, 10, None),
    ]
    for youtube_id, start, end, folder in ok:
        where = videos / folder if folder else videos
        write_video(where / clip_name(youtube_id, start, end), index_frames(12, 40, 60), fps=6)
    # aaaaaaaaaa2 is missing; bbbbbbbbbb2 is corrupt
    (videos / clip_name("bbbbbbbbbb2", 30, 40)).write_bytes(b"\x00" * 500)
    return tmp_path


def test_csv_parser_handles_quotes_commas_and_bad_rows(kinetics):
    rows, problems = read_annotations([kinetics / "train.csv"])
    labels = {r.label for r in rows}
    assert labels == {"abseiling", "air drumming", "drinking beer, wine", "zumba"}
    assert len(rows) == 10 and len(problems) == 3
    assert any("train.csv:11" in p for p in problems)  # empty youtube_id
    assert any("zero" in p for p in problems) and any("mystery" in p for p in problems)
    assert {r.split for r in rows} == {"train", "val"}


def test_not_an_annotation_file(tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="missing columns"):
        read_annotations([tmp_path / "x.csv"])
    with pytest.raises(FileNotFoundError):
        read_annotations([tmp_path / "nope.csv"])


def test_subset_skips_missing_and_corrupt_clips_and_reports_them(kinetics):
    out = kinetics / "subset"
    report = make_subset(
        [kinetics / "train.csv"], kinetics / "clips", out, per_class=3, num_classes=3, val_per_class=1
    )
    assert read_classes(out / "classes.txt") == ["abseiling", "air drumming", "drinking beer, wine"]
    train = read_list(out / "train.csv")
    assert sorted((e.label, e.num_frames) for e in train) == [(0, 12), (0, 12), (1, 12), (2, 12)]
    assert {s["clip"]: s["reason"] for s in report["skipped_clips"]}.keys() == {
        "aaaaaaaaaa2_000000_000010",
        "bbbbbbbbbb2_000030_000040",
    }
    reasons = {s["clip"]: s["reason"] for s in report["skipped_clips"]}
    assert reasons["aaaaaaaaaa2_000000_000010"] == "missing"
    assert "bbbbbbbbbb2_000030_000040.mp4" in reasons["bbbbbbbbbb2_000030_000040"]
    assert report["classes_short_of_clips"] == {
        "train/abseiling": 2,
        "train/air drumming": 1,
        "train/drinking beer, wine": 1,
    }
    assert len(read_list(out / "val.csv")) == 3
    assert json.loads((out / "report.json").read_text())["clips"] == {"train": 4, "val": 3}
    assert all(e.path.endswith(".mp4") and "clips" in e.path for e in train)


def test_subset_is_deterministic_and_seeded(kinetics):
    a = make_subset([kinetics / "train.csv"], kinetics / "clips", kinetics / "a", 1, num_classes=1, seed=0)
    b = make_subset([kinetics / "train.csv"], kinetics / "clips", kinetics / "b", 1, num_classes=1, seed=0)
    assert a == b
    assert (kinetics / "a" / "train.csv").read_text().split()[1:] == (
        kinetics / "b" / "train.csv"
    ).read_text().split()[1:]
    picks = {
        tuple(e.path for e in read_list(kinetics / f"s{s}" / "train.csv"))
        for s in range(6)
        if make_subset(
            [kinetics / "train.csv"], kinetics / "clips", kinetics / f"s{s}", 1, num_classes=1, seed=s
        )
    }
    assert len(picks) == 2  # abseiling has two valid training clips; seeds pick either


def test_class_list_and_unknown_classes(kinetics):
    listing = kinetics / "mini.txt"
    listing.write_text("# a class list\nzumba\n\nabseiling\n")
    make_subset(
        [kinetics / "train.csv"], kinetics / "clips", kinetics / "m", 5, class_list=read_classes(listing)
    )
    assert read_classes(kinetics / "m" / "classes.txt") == ["zumba", "abseiling"]
    with pytest.raises(ValueError, match="not in the annotations.*'ballet'"):
        make_subset([kinetics / "train.csv"], kinetics / "clips", kinetics / "m", 5, class_list=["ballet"])


def test_pre_resizing_clips(kinetics):
    out = kinetics / "small"
    make_subset([kinetics / "train.csv"], kinetics / "clips", out, 1, num_classes=1, short_side=20)
    entry = read_list(out / "train.csv")[0]
    assert "small/videos/abseiling" in entry.path
    assert min(probe_video(entry.path).width, probe_video(entry.path).height) == 20


def test_cli_never_dies_on_bad_clips(kinetics, capsys):
    code = main(
        [
            "kinetics-subset",
            "--csv",
            str(kinetics / "train.csv"),
            "--videos",
            str(kinetics / "clips"),
            "--classes",
            "4",
            "--per-class",
            "3",
            "--out",
            str(kinetics / "cli"),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "skipped 2 clips, 3 bad rows" in out and "missing" in out


def test_folder_per_class(tmp_path):
    for label in ("left", "right"):
        for i in range(5):
            write_video(tmp_path / "mine" / label / f"{i}.mp4", index_frames(6, 32, 48), fps=6)
    (tmp_path / "mine" / "left" / "bad.avi").write_text("nope")
    report = make_folder_dataset(tmp_path / "mine", tmp_path / "lists", val_fraction=0.4)
    assert report["clips"] == {"train": 6, "val": 4}  # 2 of each class's 5 valid clips
    assert [s["clip"].endswith("bad.avi") for s in report["skipped_clips"]] == [True]
    assert read_classes(tmp_path / "lists" / "classes.txt") == ["left", "right"]


def test_labels_from_the_csv_never_write_outside_the_output_folder(kinetics):
    """A class named `../../x` is a name, not a path: re-encoded clips stay under `out`."""
    text = (
        (kinetics / "train.csv")
        .read_text()
        .replace('"abseiling"', '"../../x"')
        .replace("abseiling,", '"../../x",')
    )
    (kinetics / "evil.csv").write_text(text)
    out = kinetics / "evil"
    make_subset([kinetics / "evil.csv"], kinetics / "clips", out, 1, class_list=["../../x"], short_side=20)
    entry = read_list(out / "train.csv")[0]
    assert Path(entry.path).resolve().is_relative_to(out.resolve())
    assert not (kinetics / "x").exists() and not (kinetics.parent / "x").exists()
    assert read_classes(out / "classes.txt") == ["../../x"]  # the name itself is kept


def test_byte_order_mark_crlf_and_a_stray_byte(kinetics, tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + CSV.replace("\n", "\r\n").encode())
    rows, _ = read_annotations([bom])
    assert {r.label for r in rows} >= {"abseiling", "air drumming"}
    stray = tmp_path / "stray.csv"
    stray.write_bytes(CSV.encode().replace(b"aaaaaaaaaa3", b"aaaaaaaa\xff3"))
    with pytest.raises(ValueError, match=r"stray.csv, line 4: not UTF-8"):
        read_annotations([stray])
    assert (
        main(
            [
                "kinetics-subset",
                "--csv",
                str(stray),
                "--videos",
                str(kinetics / "clips"),
                "--classes",
                "1",
                "--per-class",
                "1",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )


def test_clip_lists_with_a_byte_order_mark(tmp_path):
    (tmp_path / "list.csv").write_bytes(b"\xef\xbb\xbfpath,label,num_frames\r\nclip.mp4,1,16\r\n")
    assert read_list(tmp_path / "list.csv")[0].label == 1
