"""docs/training.md's table of knobs is the one training/knob_list.py makes, so the docs cannot
drift from the list (`python -m training.knob_list --write` makes it afresh)."""
from pathlib import Path

from training import knob_list

DOCS = Path(__file__).resolve().parent.parent / "docs" / "training.md"


def test_the_docs_table_is_the_lists():
    docs = DOCS.read_text(encoding="utf-8")
    assert docs.count(knob_list.DOCS_START) == 1 and docs.count(knob_list.DOCS_END) == 1
    assert docs == knob_list.docs_with_table(docs), "docs/training.md's knobs: run python -m training.knob_list --write"


def test_the_table_has_a_row_for_every_knob_with_its_words_and_bounds():
    rows = knob_list.markdown_table().splitlines()[2:]
    assert [row.split(" | ")[0] for row in rows] == [f"| `--{knob.name.replace('_', '-')}`" for knob in knob_list.KNOBS]
    gan_digits = next(row for row in rows if row.startswith("| `--gan-digits`"))
    assert "`0` to `20,000`, in steps of `10`" in gan_digits and "exports/gan.onnx" in gan_digits
    epochs = next(row for row in rows if row.startswith("| `--epochs`"))
    assert "CNN lab `9`, seed `10`" in epochs and "`DIGIT_LAB_TRAIN_MAX_EPOCHS`" in epochs
    assert all(row.count(" | ") == 4 for row in rows)  # five cells: no stray pipe in the words
