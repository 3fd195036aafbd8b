"Model records: normalisation and its exact inverse for every record, the v2 transform tail, storing a record."
import io
from dataclasses import replace

import pytest
import torch
import torchvision.transforms.functional as TF
from PIL import Image

from transfer_course.records import (MODELS, denormalize, get_record, input_transform, normalize, record_for_size,
                                     record_from_dict, record_to_dict)

CAFFE = replace(get_record("resnet18"), name="caffe_style", value_range=(0.0, 255.0), channel_order="BGR",
                mean=(103.94, 116.78, 123.68), std=(57.4, 57.1, 58.4))
RECORDS = [*MODELS.values(), CAFFE]


@pytest.mark.parametrize("record", RECORDS, ids=lambda record: record.name)
def test_denormalize_is_the_exact_inverse_of_normalize(record):
    pixels = torch.rand(4, 3, 16, 12, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(denormalize(normalize(pixels, record), record), pixels, atol=1e-5, rtol=0)
    torch.testing.assert_close(denormalize(normalize(pixels[0], record), record), pixels[0], atol=1e-5, rtol=0)


@pytest.mark.parametrize("record", MODELS.values(), ids=lambda record: record.name)
def test_normalize_equals_torchvision_normalize_for_rgb_unit_range_records(record):
    pixels = torch.rand(2, 3, 8, 8)
    assert (record.value_range, record.channel_order) == ((0.0, 1.0), "RGB")
    torch.testing.assert_close(normalize(pixels, record), TF.normalize(pixels, record.mean, record.std), atol=1e-6, rtol=0)


def test_value_range_and_channel_order_are_honoured():
    pixels = torch.rand(1, 3, 4, 4)
    model_input = normalize(pixels, CAFFE)
    for channel, source in enumerate([2, 1, 0]):  # BGR: blue first
        expected = (pixels[:, source]*255 - CAFFE.mean[channel])/CAFFE.std[channel]
        torch.testing.assert_close(model_input[:, channel], expected, atol=1e-4, rtol=0)
    # a denormalize that ignores value_range or channel order would be far off
    assert (denormalize(model_input, replace(CAFFE, value_range=(0.0, 1.0))) - pixels).abs().max() > 1
    assert (denormalize(model_input, replace(CAFFE, channel_order="RGB")) - pixels).abs().max() > 0.05


def test_denormalize_clip_for_display():
    record = get_record("efficientnet_lite0")
    out_of_range = torch.full((3, 2, 2), 1.5)
    assert denormalize(out_of_range, record).max() == 1.25
    assert denormalize(out_of_range, record, clip=True).max() == 1.0


def test_bad_inputs_are_clear_errors():
    record = get_record("efficientnet_lite0")
    with pytest.raises(TypeError, match=r"\.float\(\)/255"): normalize(torch.zeros(3, 4, 4, dtype=torch.uint8), record)
    with pytest.raises(ValueError, match="3, H, W"): normalize(torch.zeros(1, 4, 4), record)
    with pytest.raises(ValueError, match="unknown channel order"): normalize(torch.zeros(3, 4, 4), replace(record, channel_order="GBR"))


@pytest.mark.parametrize("record", RECORDS, ids=lambda record: record.name)
def test_input_transform_equals_normalize_on_the_same_pixels(record, photos):
    image = Image.open(photos["coffee"]).convert("RGB").resize((40, 30))
    uint8 = TF.pil_to_tensor(image)
    expected = normalize(uint8.float()/255, record)
    torch.testing.assert_close(input_transform(record)(image), expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(input_transform(record)(uint8), expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("record", RECORDS, ids=lambda record: record.name)
def test_record_survives_a_weights_only_round_trip(record):
    buffer = io.BytesIO()
    torch.save({"record": record_to_dict(record)}, buffer)
    buffer.seek(0)
    assert record_from_dict(torch.load(buffer, weights_only=True)["record"]) == record


def test_record_dict_format_is_plain_and_stable():
    stored = record_to_dict(get_record("efficientnet_lite0"))
    assert stored["mean"] == [0.5, 0.5, 0.5] and stored["layer_groups"][-1] == ["classifier"]
    assert stored["value_range"] == [0.0, 1.0] and stored["channel_order"] == "RGB"
    assert record_from_dict({**stored, "a_future_field": 1}) == get_record("efficientnet_lite0")


def test_record_for_size_keeps_the_crop_fraction():
    record = get_record("efficientnet_lite0")
    assert record_for_size(record, None) is record and record_for_size(record, 224) is record
    resized = record_for_size(record, 160)
    assert (resized.input_size, resized.resize_size) == (160, 182)
    assert abs(resized.crop_pct - record.crop_pct) < 0.01
