"Wrong answers to the exercises of lesson 7 (nbs/exercises/07_pitfalls.ipynb), each with the feedback it must get."
from tests.mutations import Mutation


def _input(*body: str) -> str:
    return "def to_model_input(array, record):\n" + "".join(f"    {line}\n" for line in body)


_PIXELS = "pixels = torch.from_numpy(np.array(array)).permute(2, 0, 1).float() / 255"
_NORMALISE = "return TF.normalize(pixels, record.mean, record.std)"


def _freeze(*body: str) -> str:
    return "def freeze_body(model):\n" + "".join(f"    {line}\n" for line in body)


_BN_EVAL = ("for module in model.body.modules():",
            "    if isinstance(module, torch.nn.modules.batchnorm._BatchNorm): module.eval()")

MUTATIONS = {
    "to_model_input": [
        Mutation("to_model_input = buggy_to_model_input", why="the colleague's function unchanged (both bugs)",
                 message="255 times"),
        Mutation(_input("pixels = torch.from_numpy(np.array(array)).reshape(3, array.shape[0], array.shape[1]).float() / 255",
                        _NORMALISE), why="scaling fixed, reshape kept", message="wrong places"),
        Mutation(_input("pixels = torch.from_numpy(np.array(array)).permute(2, 0, 1).float()", _NORMALISE),
                 why="permute fixed, pixels left in 0-255", message="255 times"),
        Mutation(_input("pixels = torch.from_numpy(np.array(array)).transpose(0, 2).float() / 255", _NORMALISE),
                 why="transpose(0, 2): channels first but height and width swapped", message="wrong places"),
        Mutation(_input("return torch.from_numpy(np.array(array)).permute(2, 0, 1)"),
                 why="no float conversion, no scaling, no normalisation", message="floating-point"),
        Mutation(_input(_PIXELS, "return pixels"), why="not normalised", message="not normalised"),
        Mutation(_input(_PIXELS, "return TF.normalize(pixels.flip(0), record.mean, record.std)"),
                 why="channels in BGR order", message="reverse order"),
        Mutation(_input(_PIXELS, "return TF.normalize(pixels, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])"),
                 why="ImageNet statistics typed in instead of the record's (right only for the torchvision models)",
                 message="different values"),
        Mutation("from PIL import Image\nfrom transfer_course.pretrained import preprocess as prepare\n"
                 + _input("return prepare(Image.fromarray(np.array(array)), record)"),
                 why="delegates to the course's preprocess", message="which this exercise asks you not to use"),
        Mutation("from transfer_course.records import normalize as norm\n" + _input(_PIXELS, "return norm(pixels, record)"),
                 why="the course's normalize under another name", message="which this exercise asks you not to use"),
        Mutation("_record = get_record('efficientnet_lite0')\n"
                 "_image = TF.center_crop(TF.resize(load_image(sample_images()['chelsea']), _record.resize_size, "
                 "interpolation=TF.InterpolationMode(_record.interpolation)), _record.input_size)\n"
                 "_public = to_model_input(np.asarray(_image), _record)\n" + _input("return _public.clone()"),
                 why="hard-codes the public answer (chelsea's tensor, whatever the input)", message="different values"),
    ],
    "correct_counts": [
        Mutation("correct_counts = {key: value/len(arrays) for key, value in correct_counts.items()}",
                 why="fractions instead of numbers of photos", message="whole numbers of photos",
                 max_score=1.0),
        Mutation("correct_counts = {'fixed': correct_counts['buggy'], 'buggy': correct_counts['fixed']}",
                 why="the two counts swapped", message="more photos right than the buggy one"),
        Mutation("correct_counts = {'fixed': count_correct(to_model_input), 'buggy': count_correct(to_model_input)}",
                 why="measured the fixed function twice", message="more photos right than the buggy one",
                 max_score=2.0),
        Mutation("correct_counts = {'fixed': 85, 'buggy': 0}", why="lesson 7's percentages copied, not measured",
                 message="whole numbers of photos", max_score=1.0),
        Mutation("correct_counts = {'fixed': len(arrays) // 2, 'buggy': 0}",
                 why="a guess (half the photos), not a measurement", message="count for the fixed pipeline",
                 max_score=1.0),
    ],
    "freeze_body": [
        Mutation(_freeze("for parameter in model.body.parameters(): parameter.requires_grad_(False)"),
                 why="the colleague's function: requires_grad only",
                 message="`requires_grad=False` does not freeze BatchNorm statistics"),
        Mutation(_freeze("model.body.requires_grad_(False)", *_BN_EVAL, "model.train()"),
                 why="eval mode set, then undone by model.train()", message="after every `model.train()`"),
        Mutation(_freeze("model.requires_grad_(False)", "model.eval()"),
                 why="freezes everything, the head included", message="the new head must learn"),
        Mutation(_freeze("model.body.eval()"), why="eval mode only, the body's parameters still train",
                 message="still require gradients"),
        Mutation("from transfer_course.pitfalls import freeze_bn\n"
                 + _freeze("model.body.requires_grad_(False)", "freeze_bn(model.body, 'frozen')"),
                 why="delegates to the course's freeze_bn", message="which this exercise asks you not to use"),
        Mutation("import importlib\n"
                 + _freeze("model.body.requires_grad_(False)",
                           "getattr(importlib.import_module('transfer_course.pitfalls'), 'freeze_bn')(model.body, 'frozen')"),
                 why="freeze_bn through importlib and getattr", message="which this exercise asks you not to use"),
    ],
    "gap_explanation": [
        Mutation('gap_explanation = "A"', why="overfitting", message="overfit head"),
        Mutation('gap_explanation = "C"', why="learning rate", message="learning rate"),
        Mutation('gap_explanation = "D"', why="leakage", message="Leakage"),
        Mutation('gap_explanation = "E"', why="not an option", message="not one of the options"),
    ],
    "catastrophic": [
        Mutation("def catastrophic(top1):\n    return sorted(name for name, value in top1.items() if value < 50)\n",
                 why="a fixed threshold of 50% instead of half of the correct row", message="Not quite"),
        Mutation("def catastrophic(top1):\n"
                 "    return sorted(name for name, value in top1.items() if value <= top1['correct'] / 2)\n",
                 why="exactly half counted as losing more than half", message="Not quite"),
        Mutation("def catastrophic(top1):\n"
                 "    return sorted(name for name, value in top1.items() if value < max(top1.values()) / 2)\n",
                 why="half of the best row instead of the correct row", message="Not quite"),
        Mutation("def catastrophic(top1):\n"
                 "    return [name for name, value in top1.items() if value < top1['correct'] / 2][::-1]\n",
                 why="not sorted", message="Not quite"),
        Mutation("def catastrophic(top1):\n    return ['caffe-style', 'pixels 0-255', 'reshape']\n",
                 why="hard-codes the public answer", message="Not quite"),
    ],
}
