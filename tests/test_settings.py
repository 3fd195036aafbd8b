"Settings: file discovery, environment overrides, and errors that name the key and the file."
from pathlib import Path

import pytest

from transfer_course.core import (SettingsError, DatasetNotFoundError, choose_device, find_dataset,
                                  find_settings_file, load_settings, seed_everything)
from conftest import ROOT

REPO_SETTINGS = ROOT/"settings.ini"


def test_repository_settings_file_is_found_and_documents_nbdev():
    assert find_settings_file(ROOT/"nbs", environ={}) == REPO_SETTINGS
    assert "pyproject.toml" in REPO_SETTINGS.read_text().split("[transfer_course]")[0]


def test_values_and_path_resolution():
    settings = load_settings(REPO_SETTINGS, environ={})
    assert settings.arch == "efficientnet_lite0" and settings.seed == 42 and settings.device == "auto"
    assert settings.data_dir == ROOT/"data"
    assert settings.source == REPO_SETTINGS
    assert settings.model_dir.name == "checkpoints"  # model_dir = torch -> torch's hub cache


@pytest.mark.parametrize("variable, value, field, expected", [
    ("TRANSFER_COURSE_DATA", "/x/data", "data_dir", Path("/x/data")),
    ("TRANSFER_COURSE_DATA_DIR", "/y", "data_dir", Path("/y")),
    ("TRANSFER_COURSE_DEVICE", "CPU", "device", "cpu"),
    ("TRANSFER_COURSE_OFFLINE", "yes", "offline", True),
    ("TRANSFER_COURSE_MEMORY_MB", "512", "memory_mb", 512),
    ("TRANSFER_COURSE_MODELS", "/m", "model_dir", Path("/m")),
])
def test_environment_overrides(variable, value, field, expected):
    assert getattr(load_settings(REPO_SETTINGS, environ={variable: value}), field) == expected


def test_torch_home_moves_the_model_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert load_settings(REPO_SETTINGS, environ={}).model_dir == tmp_path/"hub"/"checkpoints"


@pytest.mark.parametrize("line, replacement, message", [
    ("seed = 42", "seed = 4.2", "Invalid value '4.2' for [transfer_course] seed"),
    ("image_size = 224", "image_size = -5", "[transfer_course] image_size"),
    ("device = auto", "device = gpu", "[transfer_course] device"),
    ("offline = false", "offline = maybe", "[transfer_course] offline"),
    ("memory_mb = 4096", "memory_mb = lots", "[grading] memory_mb"),
    ("arch = efficientnet_lite0", "", "[transfer_course] arch is missing"),
    ("timeout = 300", "", "[grading] timeout is missing"),
])
def test_bad_values_name_the_key_and_the_file(tmp_path, line, replacement, message):
    path = tmp_path/"settings.ini"
    text = REPO_SETTINGS.read_text()
    assert line in text
    path.write_text(text.replace(line, replacement))
    with pytest.raises(SettingsError) as error: load_settings(path, environ={})
    assert message in str(error.value) and str(path) in str(error.value)


def test_unparseable_file(tmp_path):
    path = tmp_path/"settings.ini"
    path.write_text("this is not ini\n[transfer_course\n")
    with pytest.raises(SettingsError, match="Cannot read settings file"): load_settings(path, environ={})


def test_no_settings_file_means_built_in_defaults(tmp_path, monkeypatch):
    "A plain `pip install` has no settings.ini: the built-in defaults apply (paths relative to the cwd)."
    import transfer_course.core as core
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(core, "find_settings_file", lambda environ=None: None)
    settings = core.load_settings(environ={})
    assert settings.source is None and settings.seed == 42 and settings.data_dir == tmp_path/"data"


def test_device_choice():
    assert choose_device("cpu").type == "cpu"
    with pytest.raises(SettingsError, match="expected auto"): choose_device("tpu")


def test_seed_everything_is_repeatable():
    import torch
    seed_everything(5, deterministic=False); first = torch.randn(3)
    seed_everything(5, deterministic=False); second = torch.randn(3)
    seed_everything(6, deterministic=False); third = torch.randn(3)
    assert torch.equal(first, second) and not torch.equal(first, third)


def test_find_dataset_real_and_missing(tmp_path):
    found = find_dataset("clothing_small_5cls")  # CI points TRANSFER_COURSE_DATA at ../shared/data
    assert (found/"train").is_dir()
    with pytest.raises(DatasetNotFoundError) as error: find_dataset("hymenoptera", data_dir=tmp_path)
    text = str(error.value)
    assert "python data_scripts/fetch_dataset.py hymenoptera --dest" in text and "TRANSFER_COURSE_DATA" in text
    assert isinstance(error.value, FileNotFoundError)  # still catchable as the builtin
    with pytest.raises(DatasetNotFoundError, match="Known datasets"): find_dataset("cifar", data_dir=tmp_path)
