"pitfalls: preprocessing_table on real labelled photos, the BN checker and freeze_bn policies."
import shutil

import pytest
import torch

from transfer_course.core import find_dataset
from transfer_course.pitfalls import (PREPROCESSING_VARIANTS, batchnorm_layers, batchnorm_statistics, freeze_bn,
                                      labelled_images, moved_batchnorm_layers, preprocessing_table, synset_view)
from transfer_course.pretrained import preprocess

SOME = {name: PREPROCESSING_VARIANTS[name] for name in ["correct", "BGR", "pixels 0-255", "reshape"]}


@pytest.fixture(scope="module")
def ants_and_bees(tmp_path_factory):
    hymenoptera = find_dataset("hymenoptera")
    return synset_view({"ant": hymenoptera/"val"/"ants", "n02206856": hymenoptera/"val"/"bees"}, tmp_path_factory.mktemp("synsets"))


def test_synset_view_links_real_photos(ants_and_bees):
    paths, targets, source = labelled_images(ants_and_bees)
    assert source == "synset folders" and set(targets) == {309, 310} and len(paths) == 153
    assert all(path.is_symlink() for path in paths)
    with pytest.raises(KeyError, match="neither an ImageNet class name"): synset_view({"person": ants_and_bees}, ants_and_bees)


def test_preprocessing_table_on_labelled_photos(ants_and_bees, lite0):
    table = preprocessing_table("efficientnet_lite0", ants_and_bees, variants=SOME, limit=24, model=lite0)
    rows = table.set_index("variant")
    print(table[["variant", "top1", "top5", "delta_top1"]])
    assert list(table.columns[:1]) == ["variant"] and {"top1", "top5", "delta_top1"} <= set(table.columns)
    assert rows.loc["correct", "top1"] >= 70 and rows.loc["correct", "delta_top1"] == 0
    assert rows.loc["reshape", "top1"] <= 10 and rows.loc["pixels 0-255", "top1"] <= 10
    assert rows.loc["BGR", "delta_top1"] == pytest.approx(rows.loc["BGR", "top1"] - rows.loc["correct", "top1"])
    assert (table.top5 >= table.top1).all() and table.attrs["images"] == 24


def test_unlabelled_folder_is_labelled_by_the_correct_pipeline(tmp_path, lite0, photos):
    for name in ["chelsea", "coffee", "rocket"]: shutil.copy(photos[name], tmp_path/photos[name].name)
    table = preprocessing_table("efficientnet_lite0", tmp_path, variants=SOME, model=lite0)
    assert "predictions" in table.attrs["label_source"]
    assert table.set_index("variant").loc["correct", "top1"] == 100
    with pytest.raises(ValueError, match="pass a model"): labelled_images(tmp_path)
    with pytest.raises(FileNotFoundError): labelled_images(tmp_path/"empty_missing")


def test_correct_variant_is_the_course_preprocessing(lite0, photos):
    from transfer_course.pretrained import load_image
    image = load_image(photos["astronaut"])
    torch.testing.assert_close(PREPROCESSING_VARIANTS["correct"][1](image, lite0.record), preprocess(image, lite0.record, draft=False), atol=1e-5, rtol=0)


def small_bn_net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.Conv2d(4, 4, 3), torch.nn.BatchNorm2d(4))


@pytest.mark.parametrize("policy, expect_moved, expect_trainable", [("frozen", 0, False), ("naive", 2, False), ("train", 2, True)])
def test_freeze_bn_policies(policy, expect_moved, expect_trainable):
    net = small_bn_net().train()
    changed = freeze_bn(net, policy)
    assert changed == ["1", "4"]
    before = batchnorm_statistics(net)
    with torch.no_grad(): net(torch.randn(8, 3, 12, 12)*3 + 1)
    assert len(moved_batchnorm_layers(net, before)) == expect_moved
    assert all(p.requires_grad == expect_trainable for bn in batchnorm_layers(net).values() for p in bn.parameters())


def test_moved_checker_tolerance_and_bad_policy():
    net = small_bn_net()
    before = batchnorm_statistics(net)
    net[1].running_mean += 1e-4
    assert list(moved_batchnorm_layers(net, before)) == ["1"]
    assert moved_batchnorm_layers(net, before, tolerance=1e-3) == {}
    with pytest.raises(ValueError, match="Unknown BN policy"): freeze_bn(net, "keras")
