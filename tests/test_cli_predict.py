"`transfer-course predict` and `demo`, run as a user would: a subprocess on real photos."
import json, shutil

from conftest import run_cli
from transfer_course.core import find_dataset

CAT_CLASSES = {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat"}


def make_folder(tmp_path, photos):
    "A nested folder of real photos plus a fake, a truncated JPEG and a non-image file that must be skipped."
    (tmp_path/"b"/"deeper").mkdir(parents=True)
    shutil.copy(photos["chelsea"], tmp_path/"b"/"deeper"/"cat.png")
    shutil.copy(photos["coffee"], tmp_path/"a_coffee.png")
    (tmp_path/"b"/"fake.jpg").write_text("<html><body>404 not found</body></html>")
    (tmp_path/"b"/"cut.jpg").write_bytes(photos["rocket"].read_bytes()[:4000])
    (tmp_path/"notes.txt").write_text("not an image, not listed")
    return tmp_path


def test_predict_json_folder_recursive_sorted_with_per_file_errors(tmp_path, photos):
    folder = make_folder(tmp_path, photos)
    result = run_cli("predict", folder, "--json", "--topk", "3", "--device", "cpu")
    assert result.returncode == 1, result.stderr  # some files failed
    document = json.loads(result.stdout)
    assert [entry["path"] for entry in document] == [str(folder/"a_coffee.png"), str(folder/"b"/"cut.jpg"),
                                                    str(folder/"b"/"deeper"/"cat.png"), str(folder/"b"/"fake.jpg")]
    coffee, cut, cat, fake = document
    assert coffee["top"][0]["label"] == "espresso" and coffee["top"][0]["index"] == 967
    assert cat["top"][0]["label"] in CAT_CLASSES and len(cat["top"]) == 3
    assert [g["prob"] for g in cat["top"]] == sorted((g["prob"] for g in cat["top"]), reverse=True)
    assert set(cat["top"][0]) == {"label", "index", "prob"}
    assert "truncated" in cut["error"] and "not an image" in fake["error"]
    assert "2 of 4 files could not be predicted" in result.stderr


def test_predict_all_good_exits_zero_and_prints_a_table(photos):
    result = run_cli("predict", photos["coffee"], photos["chelsea"], "--device", "cpu")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("image") and "coffee.png" in lines[2] and "espresso" in lines[2]


def test_predict_missing_file_and_empty_folder(tmp_path):
    result = run_cli("predict", tmp_path/"nope.jpg", "--json")
    assert result.returncode == 1 and "file not found" in json.loads(result.stdout)[0]["error"]
    (tmp_path/"empty").mkdir()
    result = run_cli("predict", tmp_path/"empty")
    assert result.returncode == 2 and "No image files found" in result.stderr


def test_predict_unknown_model_is_a_clear_error(photos):
    result = run_cli("predict", photos["coffee"], "--model", "resnet19")
    assert result.returncode != 0 and "Unknown model 'resnet19'" in result.stderr


def test_long_runs_show_a_progress_bar_on_stderr(tmp_path):
    "More images than one batch: tqdm writes its bar to stderr, stdout stays pure JSON."
    ants = sorted((find_dataset("hymenoptera")/"val"/"ants").glob("*.jpg"))[:10]
    result = run_cli("predict", *ants, "--json", "--batch-size", "4", "--device", "cpu")
    assert result.returncode == 0
    assert len(json.loads(result.stdout)) == 10 and "img" in result.stderr and "10/10" in result.stderr


def test_demo_prints_sensible_top5():
    result = run_cli("demo", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.split() and "." in line.split()[0]}
    assert set(rows) >= {"chelsea.png", "coffee.png", "rocket.jpg", "astronaut.png", "motorcycle_left.png",
                         "grace_hopper.jpg", "china.jpg", "flower.jpg"}
    first_guess = lambda name: rows[name].split("  ", 1)[1].strip().split(" | ")[0].rsplit(" ", 1)[0]
    assert first_guess("chelsea.png") in CAT_CLASSES
    assert first_guess("coffee.png") in {"espresso", "cup"}
