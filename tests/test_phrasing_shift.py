"""The phrasing-shift split stays out of training: other styles, other strings, never read by a training run."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from test_import_graph import PACKAGE_DIR, import_graph, module_names

from editsearch.data.synthetic.generator import FAMILIES
from editsearch.data.synthetic.paraphrase import DESCRIPTIONS, add_typos, vary
from editsearch.evaluation.phrasing_shift import SHIFT_FILE, shift_phrasings, with_shifted_queries
from editsearch.evaluation.retrieval import synthetic_eval_set

PARAMS = {"direction": "clockwise", "color": "red", "text": "hello"}


def _training_texts(draws: int = 60) -> set[str]:
    """Texts a training run could draw: every style of every family, many times over."""
    rng = np.random.default_rng(0)
    out = set()
    for name, family in FAMILIES.items():
        for _ in range(draws):
            out.add(vary(name, family.instruction("train", PARAMS, rng), PARAMS, rng))
    return out


def test_every_family_has_queries_of_three_styles() -> None:
    shift = shift_phrasings()
    assert set(shift) == set(FAMILIES) == set(DESCRIPTIONS)
    for name, texts in shift.items():
        assert len(texts) == 3 and len(set(texts)) == 3, name
        wish, question, account = texts
        assert wish.startswith(("i want", "i'd", "i wish")), name
        assert question.endswith("?"), name
        assert " was " in account or " were " in account or " got " in account, name


def test_no_shift_query_is_a_training_or_heldout_text() -> None:
    shift = {t for texts in shift_phrasings().values() for t in texts}
    written = {p for f in FAMILIES.values() for p in f.train_phrasings + f.heldout_phrasings}
    written |= {d for names, results in DESCRIPTIONS.values() for d in names + results}
    assert not shift & written
    assert not shift & _training_texts()


def test_training_styles_are_not_the_shift_styles() -> None:
    for text in _training_texts():
        assert not text.startswith(("i want", "i'd", "i wish", "what would", "how would")), text
        assert "?" not in text and " was " not in text and " were " not in text, text


def test_typos_slip_one_letter_inside_a_word() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        slipped = add_typos("add a red watercolor painting", rng)
        assert abs(len(slipped) - len("add a red watercolor painting")) <= 1
        assert slipped.startswith("add a red w")  # words under 4 letters are never touched
        assert slipped.endswith("g") and " p" in slipped  # nor a word's first or last letter
    assert add_typos("a b c", rng) == "a b c"


def test_no_training_module_imports_the_shift_split() -> None:
    graph = import_graph()
    names = module_names()
    seen, todo = set(), [m for m in names if m.startswith(("editsearch.training", "editsearch.data"))]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph.get(module, ()))
    assert "editsearch.evaluation.phrasing_shift" not in seen
    assert "editsearch.evaluation.retrieval" in seen  # the held-out evaluation a run logs is reachable
    readers = [p for p in PACKAGE_DIR.rglob("*.py") if SHIFT_FILE in p.read_text() or "phrasing_shift" in p.read_text()]
    assert {p.relative_to(PACKAGE_DIR).as_posix() for p in readers} <= {
        "evaluation/phrasing_shift.py",
        "evaluation/compare.py",
    }


_RUN = """
import sys
opened = []
sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == "open" and args else None)
from editsearch.training.recipes import EditCLIPTrainConfig
from editsearch.training.train_editclip import train
train(EditCLIPTrainConfig(out=sys.argv[1], init=sys.argv[2], steps=2, batch_size=8, pool=16, pool_size=40,
                          warmup=1, eval_every=2, checkpoint_every=2, workers=0))
print("OPENED", sum("phrasing_shift" in p for p in opened), len(opened))
"""


def test_a_training_run_never_opens_the_shift_file(tiny_model_dir, tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _RUN, str(tmp_path / "run"), str(tiny_model_dir)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    shift_opens, total = done.stdout.split("OPENED")[1].split()
    assert int(total) > 10  # the hook saw the run's files (the model, checkpoints, photos)
    assert int(shift_opens) == 0
    assert json.loads((tmp_path / "run" / "history.jsonl").read_text().splitlines()[-1])["step"] == 2


def test_shift_eval_set_keeps_the_pairs_and_swaps_the_queries() -> None:
    es = with_shifted_queries(synthetic_eval_set(per_family=1, size=48))
    assert es.label_texts == {name: shift_phrasings()[name] for name in sorted(FAMILIES)}
    assert len(es.labels) == len(FAMILIES) and all(es.instructions)
    assert not {t for ts in es.label_texts.values() for t in ts} & set(es.instructions)
