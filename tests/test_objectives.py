"""keras_ae.models.objectives: the registry of objectives, what each entry describes, the
options it takes (in Python and on the command line) and the model classes a fresh process
loads for each."""

import subprocess
import sys

import pytest

import keras_ae
from keras_ae.cli import main
from keras_ae.models.objectives import OBJECTIVES, all_options, get_objective, objective_of

from harness import small, structured_images


def test_every_preset_resolves_to_a_registered_objective():
    images = structured_images(4)
    for name in keras_ae.PRESETS:
        config = keras_ae.preset_config(name)
        objective = get_objective(config.objective)
        model = small(name)
        assert objective_of(model) is objective
        assert set(config.options) == set(objective.option_names)
        assert set(model.term_trackers) == set(objective.model_class.loss_term_names(config.options))
        logs = model.evaluate(images, batch_size=4, verbose=0, return_dict=True)
        assert set(logs) == {"loss", *objective.metrics(config.options)}  # what the logs show
        assert tuple(model.signature_inputs()) == objective.signatures


def test_the_registry_describes_each_objective():
    table = {name: (entry.option_names, entry.signatures, entry.metrics())
             for name, entry in OBJECTIVES.items()}
    assert table["autoencoder"] == (("loss", "denoise", "sparsity"),
                                    ("encode", "decode", "reconstruct", "anomaly_score"),
                                    ("reconstruction_loss",))
    assert table["vae"] == (("beta", "likelihood", "sigma", "denoise"),
                            ("encode", "decode", "reconstruct", "anomaly_score", "sample"),
                            ("reconstruction_loss", "kl_loss"))
    assert table["contractive"] == (("loss", "contractive"),
                                    ("encode", "decode", "reconstruct", "anomaly_score"),
                                    ("reconstruction_loss", "contractive_loss"))
    assert table["vq_vae"] == (("loss", "codebook_size", "commitment", "dead_code_steps"),
                               ("encode", "decode", "reconstruct", "anomaly_score"),
                               ("reconstruction_loss", "vq_loss", "codebook_usage", "perplexity"))
    assert table["one_class"] == (("loss", "neighbours", "memory_size", "blur"),
                                  ("encode", "decode", "reconstruct", "anomaly_score"),
                                  ("reconstruction_loss",))
    assert get_objective("autoencoder").metrics({"sparsity": "l1:0.1"}) == \
        ("reconstruction_loss", "sparsity_loss")
    assert set(all_options()) == {"loss", "denoise", "sparsity", "beta", "likelihood", "sigma",
                                  "contractive", "codebook_size", "commitment", "dead_code_steps",
                                  "neighbours", "memory_size", "blur"}
    assert {name: entry.code for name, entry in OBJECTIVES.items()} == {
        "autoencoder": "vector", "vae": "vector", "contractive": "vector", "vq_vae": "map",
        "one_class": "vector"}


def test_the_new_objectives_take_their_options_from_the_registry(tmp_path, capsys):
    config = keras_ae.preset_config("vq_vae", codebook_size=32, commitment=0.5)
    assert config.options == {"loss": "mse", "codebook_size": 32, "commitment": 0.5,
                              "dead_code_steps": 100}
    assert keras_ae.preset_config("contractive", contractive=0.01).options == \
        {"loss": "mse", "contractive": 0.01}
    for bad, message in [({"codebook_size": 1}, "codebook_size must be an integer >= 2, got 1"),
                         ({"codebook_size": 2.5}, "codebook_size must be an integer >= 2"),
                         ({"dead_code_steps": -1}, "dead_code_steps must be an integer >= 0"),
                         ({"commitment": -1.0}, "commitment must be a finite number >= 0")]:
        with pytest.raises(ValueError, match=message):
            keras_ae.preset_config("vq_vae", **bad)
    with pytest.raises(ValueError, match="contractive weight must be a finite number >= 0"):
        keras_ae.preset_config("contractive", contractive=-1.0)
    with pytest.raises(ValueError, match="the vq_vae objective takes the conv architecture, "
                                         "not 'dense'"):
        keras_ae.preset_config("vq_vae", architecture="dense")
    with pytest.raises(ValueError, match="the contractive objective takes the dense or conv"):
        keras_ae.preset_config("contractive", architecture="linear")
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    usage = capsys.readouterr().out
    for flag in ("--contractive LAMBDA", "--codebook-size K", "--commitment BETA",
                 "--dead-code-steps N"):
        assert flag in usage


@pytest.mark.parametrize("argv, message", [
    (["--model", "seed", "--beta", "4"], "option 'beta' does not apply to the autoencoder objective"),
    (["--model", "vae", "--loss", "bce"], "option 'loss' does not apply to the vae objective"),
    (["--model", "vae", "--sparse", "l1:0.1"], "option 'sparsity' does not apply to the vae"),
    (["--model", "conv", "--likelihood", "gaussian"], "option 'likelihood' does not apply"),
    (["--model", "conv", "--codebook-size", "8"], "option 'codebook_size' does not apply to the "
                                                  "autoencoder objective"),
    (["--model", "vq_vae", "--contractive", "0.1"], "option 'contractive' does not apply to the "
                                                    "vq_vae objective"),
    (["--model", "contractive", "--sparse", "l1:0.1"], "option 'sparsity' does not apply to the "
                                                       "contractive objective"),
])
def test_cli_refuses_an_option_of_another_objective_in_one_line(argv, message, tmp_path, capsys):
    assert main(["train", *argv, "--output", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_a_fresh_process_loads_a_model_of_every_objective(tmp_path):
    from keras_ae.models.saving import save_model

    paths = []
    for name in ("seed", "vae", "contractive", "vq_vae"):
        model = small(name)
        assert objective_of(model).name == keras_ae.preset_config(name).objective
        paths.append(str(save_model(model, tmp_path / f"{name}.keras")))
    script = ("import sys, keras_ae\n"
              "print(' '.join(type(keras_ae.load_model(p)).__name__ for p in sys.argv[1:]))\n")
    done = subprocess.run([sys.executable, "-c", script, *paths], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["Autoencoder", "VariationalAutoencoder", "ContractiveAutoencoder",
                                   "VQVAE"]
