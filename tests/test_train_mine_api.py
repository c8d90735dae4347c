"""/train on a visitor's own digits through gradio_client: a set uploaded with /my_digits_upload, a
short "mine only" run fine-tuned from the served model, scored on mnist-5k's held-out digits and on
the set's own held-out part (the status and the run card say both); refusals in words."""
import json
from pathlib import Path

import pytest
from gradio_client import handle_file

from inference import my_digits
from tests.test_train_mine import a_set
from tests.train_client import OUT, new_client, value


@pytest.mark.slow
def test_a_mine_only_run_is_scored_on_both_held_out_sets(capped_app, tmp_path):
    url, _ = capped_app
    digits = a_set(60)
    path = tmp_path / "mine.npz"
    path.write_bytes(my_digits.to_npz(digits))
    client = new_client(url)
    client.predict(handle_file(str(path)), api_name="/my_digits_upload")
    outputs = list(client.submit(kind="cnn", epochs=1, batch_size=32, digits="mine", fine_tune=True, api_name="/train"))
    last = {name: value(outputs[-1][i]) for name, i in OUT.items()}
    assert "held-out accuracy" in last["status"] and "your digits" in last["status"], last["status"]
    card = json.loads(next(Path(f) for f in last["files"] if Path(f).name == "run.json").read_text())
    train, held_out = my_digits.split(digits)
    assert card["config"]["digits"] == "mine" and card["config"]["fine_tune"] is True
    assert card["mine"] == {"digits": len(digits), "held_out": len(held_out), "trained_on": "mine", "fine_tuned_from": "shipped"}
    assert 0 <= card["metrics"]["mine_accuracy"] <= 1 and card["metrics"]["mine_train_digits"] == len(train)
    assert "--digits mine" in card["command"] and any("--mine FILE" in note for note in card["notes"])


def test_mine_without_a_set_or_with_a_wrong_word_is_refused_in_words(capped_app):
    url, _ = capped_app
    stranger = new_client(url)
    for settings, words in (({"digits": "mine"}, "None of your digits"), ({"digits": "mnist-5k+mine"}, "None of your digits"),
                            ({"digits": "theirs"}, "not in the list of choices")):
        with pytest.raises(Exception) as refused:
            stranger.predict(kind="cnn", epochs=1, api_name="/train", **settings)
        assert words in str(refused.value), (settings, str(refused.value))
    zh = new_client(url, language="zh-CN")
    with pytest.raises(Exception) as refused:
        zh.predict(kind="cnn", epochs=1, digits="mine", api_name="/train")
    assert "我的数字" in str(refused.value)
