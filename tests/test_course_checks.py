"""The checks of the course's "your turn" exercises (`notebooks/checks.py`), without running a notebook.

Each check must accept the solution hidden in its notebook and reject every typical mistake
of `MISTAKES` with that mistake's own hint; the check cells must show no reference. The
notebooks themselves run (with the solutions, then the mistakes) in `test_notebooks.py`.
"""

from __future__ import annotations

import re
import sys

import jupytext
import numpy as np
import pytest
import torch
from course_exercises import CHECK_CELL, MISTAKES, NOTEBOOKS, ROOT, notebook_namespace, your_turns

sys.path.insert(0, str(ROOT / "notebooks"))
import checks  # noqa: E402  (notebooks/checks.py)
from course import check  # noqa: E402

TURNS = {
    turn["name"]: {**turn, "notebook": path} for path in NOTEBOOKS for turn in your_turns(jupytext.read(path))
}


def answer(name: str, code: str):
    """The function `name` that `code` defines, in a namespace like its notebook's."""
    namespace = notebook_namespace()
    exec(code, namespace)
    return namespace[name]


def rejection(name: str, code: str) -> str:
    with pytest.raises(AssertionError) as rejected:
        getattr(checks, name)(answer(name, code))()
    return str(rejected.value)


def test_every_exercise_has_a_check_and_mistakes():
    assert len(TURNS) == 18
    assert set(MISTAKES) == set(TURNS)
    assert {name for name in vars(checks) if name in TURNS} == set(TURNS)


@pytest.mark.parametrize("name", sorted(TURNS))
def test_the_check_accepts_the_solution(name, capsys):
    check("Your turn 1", getattr(checks, name)(answer(name, TURNS[name]["solution"])))
    assert capsys.readouterr().out == "Your turn 1: correct!\n"


@pytest.mark.parametrize("name", sorted(TURNS))
def test_each_mistake_gets_its_own_hint(name):
    hints = [hint for _, hint in MISTAKES[name]]
    assert len(set(hints)) == len(hints) >= 2, "at least two mistakes per exercise, each with its own hint"
    for code, hint in MISTAKES[name]:
        message = rejection(name, code)
        assert re.search(hint, message), f"{code}\ngave: {message}"
        others = [h for h in hints if h != hint and re.search(h, message)]
        assert not others, f"{code}\ngave: {message}\nwhich also matches {others}"
        assert len(message.splitlines()) == 2, message  # the hint, then where the answer differs


@pytest.mark.parametrize("name", sorted(TURNS))
def test_the_check_cell_shows_no_reference(name):
    nb = jupytext.read(TURNS[name]["notebook"])
    source = nb.cells[TURNS[name]["check"]].source
    number, test, argument = re.fullmatch(CHECK_CELL, source).groups()
    assert test == argument == name


def test_an_unfinished_exercise_is_not_done_yet(capsys):
    def stub(*args):
        raise NotImplementedError("your turn")

    check("Your turn 2", checks.consensus(stub))
    assert "Your turn 2: not done yet" in capsys.readouterr().out


def test_a_rejection_names_the_exercise_and_hides_the_test():
    wrong = answer("consensus", MISTAKES["consensus"][0][0])
    with pytest.raises(AssertionError, match=r"^Your turn 2: not yet\. Rows of different clips") as rejected:
        check("Your turn 2", checks.consensus(wrong))
    assert rejected.value.__cause__ is None and rejected.value.__suppress_context__


def test_authors_indices_shows_where_the_lists_differ():
    """The complaint: expected and got printed alike. Now the first differing element, with its types."""
    start = rejection("authors_indices", MISTAKES["authors_indices"][0][0])
    assert start.splitlines()[1].strip() == "N = 17: element [8]: expected 9, got 8"
    floats = rejection("authors_indices", "def authors_indices(n):\n    return [float(i) for i in range(16)]")
    assert "element [0]: expected 0 (int), got 0.0 (float)" in floats
    as_numpy = "def authors_indices(n):\n    return np.array([((2 * x + 1) * n) // 32 for x in range(16)])"
    checks.authors_indices(answer("authors_indices", as_numpy))()  # numpy integers are integers


@pytest.mark.parametrize(
    ("expected", "got", "difference"),
    [
        ([1, 2, 5], [1, 2, 5.0], "element [2]: expected 5 (int), got 5.0 (float)"),
        ([1, 2, 5], [1, 2, np.int64(5)], None),
        ([1, 2], [1, 2, 3], "length: expected 2 elements, got 3"),
        (torch.zeros(2, 3), torch.zeros(3, 2), "shape: expected (2, 3), got (3, 2)"),
        (
            torch.tensor([[0.0, 1.0], [2.0, 3.0]]),
            torch.tensor([[0.0, 1.0], [2.5, 3.0]], dtype=torch.float64),
            "element [1, 0]: expected 2.0 (float32), got 2.5 (float64) (1 of 4 elements differ)",
        ),
        (torch.ones(3), torch.ones(3) + 1e-7, None),
        (torch.ones(3), [1.0, 1.0, 1.0], "expected a tensor, got a list"),
        ("abc_000012", "abc_12", "expected 'abc_000012', got 'abc_12' (character 4: expected '0', got '1')"),
        (0.5, 0.5 + 1e-12, None),
        (7, None, "expected 7 (int), got None (NoneType)"),
    ],
)
def test_first_difference(expected, got, difference):
    assert checks.first_difference(expected, got) == difference


def test_the_checks_leave_the_notebooks_random_state_alone():
    torch.manual_seed(1)
    before = torch.get_rng_state()
    checks.fold_frames(answer("fold_frames", TURNS["fold_frames"]["solution"]))()
    assert torch.equal(torch.get_rng_state(), before)


def _capstone_cells():
    """Notebook 7's capstone: the answer cell, the check cell and the hidden solution's `KEEP`."""
    nb = jupytext.read(next(p for p in NOTEBOOKS if p.name.startswith("07_")))
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    answer_cell = next(s for s in code if s.startswith("KEEP = None"))
    check_cell = next(s for s in code if "checks.where_tams_sit(KEEP)" in s)
    solution = next(c.source for c in nb.cells if c.cell_type == "markdown" and "KEEP = {" in c.source)
    return answer_cell, check_cell, re.search(r"^KEEP = \{.*\}$", solution, re.M)[0], solution


def test_the_capstone_accepts_its_hidden_solution_and_rejects_what_is_not_enough_or_not_the_fewest(capsys):
    answer_cell, check_cell, keep_line, _ = _capstone_cells()
    assert check_cell == 'import checks\ncheck("Capstone", checks.where_tams_sit(KEEP))'
    unanswered = {}
    exec(answer_cell, unanswered)
    check("Capstone", checks.where_tams_sit(unanswered["KEEP"]))
    assert "Capstone: not done yet. Set KEEP above to your answer" in capsys.readouterr().out
    solved = {}
    exec(keep_line, solved)
    check("Capstone", checks.where_tams_sit(solved["KEEP"]))
    assert "Capstone: correct!" in capsys.readouterr().out
    everything = {"layer0.tam", "layer1.tam", "layer2.tam", "layer3.tam", "layer4.0.tam"}
    for keep, hint in (
        ({"layer2.tam", "layer4.0.tam"}, r"do not carry the long-range tier[\s\S]*below 90%"),
        ({"layer4.0.tam"}, r"do not carry the long-range tier"),
        (everything, r"not the fewest[\s\S]*100\.0%; 2 of its 5 TAMs could go$"),
        (solved["KEEP"] | {"layer1.tam"}, r"not the fewest[\s\S]*1 of its 4 TAMs could go$"),
        ({"layer9.tam"}, r"Not TAMs of this network"),
        ("layer2.tam", r"a set of TAM names"),
    ):
        with pytest.raises(AssertionError, match=hint):
            check("Capstone", checks.where_tams_sit(keep))


def test_the_capstone_solution_quotes_what_it_measures():
    """The hidden solution's figures: what leaving each TAM out alone costs, and keeping one alone."""
    *_, solution = _capstone_cells()
    everything = {"layer0.tam", "layer1.tam", "layer2.tam", "layer3.tam", "layer4.0.tam"}
    without = {name: checks.long_range_pair_accuracy(everything - {name}) for name in everything}
    quoted = {"layer4.0.tam": "50%", "layer2.tam": "69%", "layer3.tam": "85%"}
    for name, text in quoted.items():
        assert f"{without[name]:.0%}" == text and f"({text}" in " ".join(solution.split()), name
    assert without["layer0.tam"] == without["layer1.tam"] == 1.0
    best_alone = max(checks.long_range_pair_accuracy({name}) for name in everything)
    assert f"{best_alone:.0%}" == "52%" and "(at most 52%)" in " ".join(solution.split())
