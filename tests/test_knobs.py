"""The knobs: each arch's recipe, explicit settings overriding it, and impossible combinations
refused before anything starts with a locale key the Train tab can put into words."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

import locales
from training import data, knobs, train_cnn, train_gan

ROOT = Path(__file__).resolve().parent.parent


def test_knobs_need_no_torch():
    code = "import sys, training.knobs as k, training.knob_list; k.check('cnn', {'arch': 'seed'}); print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr


def test_knobs_name_the_data_sets_the_loaders_know():
    assert knobs.DATASETS == data.DATASETS and set(knobs.DIGIT_DATASETS) == set(data.DIGITS)


def test_arch_seed_alone_is_the_primers_recipe():
    cnn = train_cnn.CNNConfig(arch="seed")
    assert (cnn.epochs, cnn.batch_size, cnn.lr, cnn.schedule, cnn.dropout) == (10, 64, 1e-3, "constant", 0.5)
    assert (cnn.augment, cnn.typed_digits, cnn.ema, cnn.label_smoothing, cnn.weight_decay) == (False, False, 0.0, 0.0, 0.0)
    gan = train_gan.GANConfig(arch="seed")
    assert (gan.lr, gan.d_lr, gan.loss, gan.z_dim, gan.ema, gan.augment) == (3e-4, 3e-4, "bce", 100, 0.0, False)
    assert (gan.beta1, gan.beta2) == (0.9, 0.999)  # Adam's defaults, as the listing


def test_lab_stays_the_default_and_explicit_settings_override_the_arch():
    assert train_cnn.CNNConfig().arch == "lab" and train_cnn.CNNConfig().lr == 1e-2 and train_cnn.CNNConfig().dropout == 0.2
    assert train_gan.GANConfig().loss == "hinge" and train_gan.GANConfig().z_dim == 32
    cnn = train_cnn.CNNConfig(arch="seed", lr=5e-3, augment=True, dropout=0.0, activation="sigmoid")
    assert (cnn.lr, cnn.augment, cnn.dropout, cnn.activation, cnn.epochs) == (5e-3, True, 0.0, "sigmoid", 10)
    assert train_gan.GANConfig(arch="seed", loss="hinge").loss == "hinge"


def test_a_checkpoint_config_from_before_the_knobs_is_labs():
    old = {"dataset": "mnist-5k", "epochs": 12, "batch_size": 64, "lr": 0.01, "seed": 0}
    assert knobs.resolve("cnn", old)["arch"] == "lab" and knobs.resolve("cnn", old)["schedule"] == "one-cycle"


@pytest.mark.parametrize(
    "kind, settings, key",
    [
        ("cnn", {"loss": "bce"}, "knobs.error.loss_for_cnn"),
        ("gan", {"loss": "mse"}, "knobs.error.loss_for_gan"),
        ("cnn", {"loss": "l1"}, "knobs.error.loss"),
        ("gan", {"gan_digits": 100}, "knobs.error.gan_digits_for_gan"),
        ("gan", {"train_digits": 100}, "knobs.error.not_for_kind"),
        ("cnn", {"gan_digits": 100, "dataset": "fashion-mnist"}, "knobs.error.gan_digits_need_digits"),
        ("cnn", {"gan_digits": 15}, "knobs.error.gan_digits_range"),
        ("cnn", {"train_digits": 9}, "knobs.error.train_digits"),
        ("cnn", {"train_digits": 4501}, "knobs.error.train_digits"),
        ("cnn", {"arch": "primer"}, "knobs.error.arch"),
        ("gan", {"activation": "elu"}, "knobs.error.activation"),
        ("gan", {"loss": "wasserstein"}, "knobs.error.loss"),
        ("cnn", {"dataset": "imagenet"}, "knobs.error.dataset"),
        ("cnn", {"dropout": 1.0}, "knobs.error.dropout"),
        ("cnn", {"epochs": 0}, "knobs.error.at_least"),
        ("gan", {"lr": 2.0}, "knobs.error.lr"),
        ("gan", {"g_width": 30}, "knobs.error.g_width"),
    ],
)
def test_impossible_settings_are_refused_with_a_locale_key(kind, settings, key):
    with pytest.raises(knobs.KnobError) as refused:
        knobs.check(kind, settings)
    assert refused.value.key == key
    assert isinstance(refused.value, ValueError) and str(refused.value)  # the command line's English sentence
    config_cls = train_cnn.CNNConfig if kind == "cnn" else train_gan.GANConfig
    if set(settings) <= {f for f in config_cls.__dataclass_fields__}:
        with pytest.raises(knobs.KnobError):  # the scripts run the same check
            config_cls(**settings)


def test_possible_settings_pass_and_unset_means_the_archs_own():
    knobs.check("cnn", {"arch": "seed", "train_digits": 100, "gan_digits": 1000, "dropout": -1, "loss": ""})
    knobs.check("gan", {"arch": "seed", "loss": "", "gan_digits": 0, "dropout": -1, "kind": "gan"})
    assert knobs.check("cnn", {"train_digits": 4500}) is None


def test_each_kind_offers_its_own_losses_and_refuses_the_others_by_name():
    assert knobs.LOSSES == {"cnn": ("ce", "mse"), "gan": ("hinge", "bce")}
    assert train_cnn.CNNConfig().loss == train_cnn.CNNConfig(arch="seed").loss == "ce"  # both CNNs' own
    assert train_cnn.CNNConfig(arch="seed", loss="mse").loss == "mse"
    for kind, losses in knobs.LOSSES.items():
        for loss in losses:
            knobs.check(kind, {"loss": loss})
    with pytest.raises(knobs.KnobError) as refused:
        knobs.check("cnn", {"loss": "hinge"})
    assert refused.value.values == {"value": "hinge", "choices": "ce, mse"}
    assert "GAN's loss function" in str(refused.value) and "mean squared error" in str(refused.value)
    with pytest.raises(knobs.KnobError, match="CNN's loss function"):
        knobs.check("gan", {"arch": "seed", "loss": "ce"})


def test_every_error_key_is_in_every_language_with_the_same_placeholders():
    source = (ROOT / "training" / "knobs.py").read_text()
    for lang in ("en", "zh-CN"):
        strings = json.loads((ROOT / "locales" / f"{lang}.json").read_text(encoding="utf-8"))
        for key in [k for k in strings if k.startswith("knobs.error.")]:
            assert key.removeprefix("knobs.error.") in source or key in source
        assert all(f"knobs.error.{name}" in strings for name in ("loss_for_cnn", "loss_for_gan", "gan_digits_need_digits", "train_digits"))


@pytest.mark.parametrize("kind, config_cls", [("cnn", train_cnn.CNNConfig), ("gan", train_gan.GANConfig)])
def test_every_declared_setting_is_a_config_field_and_a_flag(kind, config_cls):
    """training/knob_list.py is the one list: the configs hold exactly its settings of the kind, and
    the command line has a flag for each, with its words and both architectures' defaults."""
    import dataclasses

    from training import cli, knob_list

    declared = [knob.name for knob in knob_list.of(kind)]
    assert {f.name for f in dataclasses.fields(config_cls)} == set(declared)
    parser = cli.build_parser(kind, config_cls)
    flags = {action.dest: action for action in parser._actions}
    for knob in knob_list.of(kind):
        flag = flags[knob.name]
        assert flag.option_strings == ["--" + knob.name.replace("_", "-")]
        assert flag.help.startswith(locales.text(knob.help, "en")), knob.name
        if knob.per_arch(kind):
            assert f"lab {knob.own(kind, 'lab')}" in flag.help
    assert parser.parse_args(["--batch-size", "16", "--augment", "no"]).__dict__ == {"batch_size": 16, "augment": False}


def test_every_setting_has_its_words_in_every_language():
    from training import knob_list

    for lang in locales.LANGUAGES:
        for knob in knob_list.KNOBS:
            assert knob.words in locales.STRINGS[lang] and knob.help in locales.STRINGS[lang], (lang, knob.name)


def test_own_is_a_word_the_checks_take():
    assert knobs.resolve("gan", {"arch": "seed", "batch_size": "own", "loss": "own"})["batch_size"] == 64
    knobs.check("cnn", {"arch": "seed", "dropout": "own", "lr": "own"})
