"""House rules for every notebook under notebooks/.

Each notebook: valid nbformat 4, committed without outputs, no ``def`` or ``class`` (logic lives in
``src/linkage``), a first cell tagged ``parameters`` holding only literal assignments (so nbmake and
papermill runs can shrink it), no absolute paths. Every workshop exercise has a solution notebook.
"""

import ast
import pathlib
import re

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

NOTEBOOKS = pathlib.Path(__file__).resolve().parents[1] / "notebooks"
ALL = sorted(p for p in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
WORKSHOP = NOTEBOOKS / "workshop"
EXERCISE = re.compile(r"^(\d\d)_(?P<stem>[a-z0-9_]+)\.ipynb$")

ids = [str(p.relative_to(NOTEBOOKS)) for p in ALL]


def _code(cell) -> str:
    """The cell's source as plain Python (IPython magics and shell escapes turned into calls)."""
    return TransformerManager().transform_cell(cell.source)


def _read(path):
    return nbformat.read(path, as_version=4)


def test_there_are_notebooks():
    names = {p.name for p in ALL}
    for wanted in (
        "01_raw_to_panel.ipynb",
        "02_exploring_retention.ipynb",
        "03_linkage_analysis.ipynb",
        "04_appendix_your_own_data.ipynb",
        "00_service_profit_chain.ipynb",
        "06_jolts_shared_trend.ipynb",
    ):
        assert wanted in names


@pytest.mark.parametrize("path", ALL, ids=ids)
def test_valid_and_without_outputs(path):
    nb = _read(path)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} has outputs: strip them"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"


@pytest.mark.parametrize("path", ALL, ids=ids)
def test_first_cell_is_parameters_of_literals(path):
    nb = _read(path)
    first = nb.cells[0]
    assert first.cell_type == "code" and "parameters" in first.metadata.get("tags", []), (
        f"{path.name}: the first cell must be a code cell tagged 'parameters'"
    )
    tree = ast.parse(_code(first))
    for node in tree.body:
        assert isinstance(node, ast.Assign | ast.AnnAssign), f"{path.name}: parameters cell does more than assign"
        ast.literal_eval(node.value)  # raises if a parameter is not a literal


@pytest.mark.parametrize("path", ALL, ids=ids)
def test_no_def_or_class(path):
    for i, cell in enumerate(_read(path).cells):
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(_code(cell))):
            assert not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef), (
                f"{path.name} cell {i} defines {node.name!r}: move it into src/linkage"
            )


@pytest.mark.parametrize("path", ALL, ids=ids)
def test_no_absolute_paths(path):
    for cell in _read(path).cells:
        if cell.cell_type == "code":
            assert not re.search(r"""["'](/[\w.~]|[A-Za-z]:\\)""", cell.source), f"{path.name}: absolute path in code"


def test_every_workshop_exercise_has_a_solution():
    names = {p.name for p in WORKSHOP.glob("*.ipynb")}
    exercises = [n for n in names if EXERCISE.match(n) and not n.endswith("_solution.ipynb") and not n.startswith("00_")]
    assert len(exercises) >= 6  # five pitfalls and the JOLTS case
    for name in exercises:
        assert name.replace(".ipynb", "_solution.ipynb") in names, f"{name} has no solution notebook"
    for name in names:
        if name.endswith("_solution.ipynb"):
            assert name.replace("_solution.ipynb", ".ipynb") in names, f"{name} solves no exercise"


def test_the_rules_catch_what_they_should(tmp_path):
    # the checks above must be able to fail: a notebook with a def, an output and no parameters cell
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("def f():\n    return 1\nf()")
    cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "1"}, execution_count=1)]
    cell.execution_count = 1
    nb.cells = [cell]
    path = tmp_path / "bad.ipynb"
    nbformat.write(nb, path)
    for check in (test_valid_and_without_outputs, test_first_cell_is_parameters_of_literals, test_no_def_or_class):
        with pytest.raises(AssertionError):
            check(path)


def test_exercise_and_solution_share_parameters_and_questions():
    # a solution answers the exercise as the learner sees it: same parameters, same questions
    for solution in sorted(WORKSHOP.glob("*_solution.ipynb")):
        exercise = solution.with_name(solution.name.replace("_solution.ipynb", ".ipynb"))
        if not exercise.exists():
            continue  # reported by test_every_workshop_exercise_has_a_solution
        ex, so = _read(exercise), _read(solution)
        assert ex.cells[0].source == so.cells[0].source, f"{solution.name}: parameters differ from the exercise"
        questions = [c.source for c in ex.cells if c.cell_type == "markdown" and c.source.lstrip().startswith("**Q")]
        answered = [c.source for c in so.cells if c.cell_type == "markdown"]
        for q in questions:
            assert q in answered, f"{solution.name} lacks the exercise's question {q[:40]!r}"
