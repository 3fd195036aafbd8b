"Wrong answers to the exercises of lesson 1 (nbs/exercises/01_pretrained.ipynb), each with the feedback it must get."
from tests.mutations import Mutation

_RESIZE = "TF.resize(image, record.resize_size, interpolation=TF.InterpolationMode(record.interpolation))"
_TO_TENSOR = "TF.pil_to_tensor(image).float() / 255"


def _preprocess(*body: str) -> str:
    "A `preprocess_image` whose body is `body` (one statement per line)."
    return "def preprocess_image(image, record):\n" + "\n".join("    " + line for line in body) + "\n"


MUTATIONS = {
    "preprocess_image": [
        Mutation(_preprocess("image = TF.resize(image, record.resize_size, interpolation=TF.InterpolationMode.BILINEAR)",
                             "image = TF.center_crop(image, record.input_size)",
                             f"return TF.normalize({_TO_TENSOR}, record.mean, record.std)"),
                 why="bilinear resize whatever the record says (right only for the torchvision models)",
                 message="different values"),
        Mutation(_preprocess("other = 'bilinear' if record.interpolation == 'bicubic' else 'bicubic'",
                             "image = TF.resize(image, record.resize_size, interpolation=TF.InterpolationMode(other))",
                             "image = TF.center_crop(image, record.input_size)",
                             f"return TF.normalize({_TO_TENSOR}, record.mean, record.std)"),
                 why="the other resampling filter (bicubic and bilinear swapped)", message="different values"),
        Mutation(_preprocess("image = TF.resize(image, record.resize_size)",
                             "image = TF.center_crop(image, record.input_size)",
                             f"return TF.normalize({_TO_TENSOR}, record.mean, record.std)").replace(
                                 "TF.resize(image, record.resize_size)",
                                 "TF.resize(image, record.resize_size, interpolation=TF.InterpolationMode.NEAREST)"),
                 why="nearest-neighbour resize", message="different values"),
        Mutation(_preprocess("image = TF.resize(image, [record.resize_size, record.resize_size], "
                             "interpolation=TF.InterpolationMode(record.interpolation))",
                             "image = TF.center_crop(image, record.input_size)",
                             f"return TF.normalize({_TO_TENSOR}, record.mean, record.std)"),
                 why="resize to a square (squashes the photo) instead of the shorter side", message="different values"),
        Mutation(_preprocess("image = TF.center_crop(image, min(image.size))",
                             "image = TF.resize(image, record.input_size, interpolation=TF.InterpolationMode(record.interpolation))",
                             f"return TF.normalize({_TO_TENSOR}, record.mean, record.std)"),
                 why="wrong order of steps: crop the largest square first, then resize to the input size",
                 message="different values"),
        Mutation(_preprocess(f"image = {_RESIZE}", "image = TF.center_crop(image, record.input_size)",
                             "return TF.normalize(TF.pil_to_tensor(image).float(), record.mean, record.std)"),
                 why="pixels not scaled to [0, 1]", message="255 times too large"),
        Mutation(_preprocess(f"image = {_RESIZE}", "image = TF.center_crop(image, record.input_size)",
                             f"return {_TO_TENSOR}"),
                 why="not normalised", message="not normalised"),
        Mutation(_preprocess(f"image = {_RESIZE}", "image = TF.center_crop(image, record.input_size)",
                             f"return TF.normalize({_TO_TENSOR}, record.mean, record.std).flip(0)"),
                 why="channels in BGR order", message="reverse order"),
        Mutation(_preprocess("import numpy as np", f"image = {_RESIZE}", "image = TF.center_crop(image, record.input_size)",
                             "pixels = torch.tensor(np.asarray(image)).float() / 255",
                             "return (pixels - torch.tensor(record.mean)) / torch.tensor(record.std)"),
                 why="channels last (height, width, channels): the wrong axis for the channels", message="channels are last"),
        Mutation(_preprocess("import numpy as np", f"image = {_RESIZE}", "image = TF.center_crop(image, record.input_size)",
                             "pixels = torch.tensor(np.asarray(image)).float().reshape(3, record.input_size, record.input_size) / 255",
                             "return TF.normalize(pixels, record.mean, record.std)"),
                 why="reshape instead of permute to put the channels first", message="wrong places"),
        Mutation(_preprocess(f"image = {_RESIZE}", "image = TF.center_crop(image, record.input_size)",
                             f"return TF.normalize({_TO_TENSOR}, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])"),
                 why="ImageNet statistics typed in instead of the record's (right only for the torchvision models)",
                 message="different values"),
        Mutation(_preprocess("image = TF.resize(image, 256, interpolation=TF.InterpolationMode.BICUBIC)",
                             "image = TF.center_crop(image, 224)",
                             f"return TF.normalize({_TO_TENSOR}, [0.5] * 3, [0.5] * 3)"),
                 why="EfficientNet-Lite0's numbers typed in: ignores the record", message="Expected shape"),
        Mutation("_public = preprocess_image(load_image(sample_images()['chelsea']), get_record('efficientnet_lite0'))\n"
                 + _preprocess("return _public.clone()"),
                 why="hard-codes the public answer (ignores its input)", message="Expected shape"),
        Mutation(_preprocess("return torch.zeros(3, record.input_size, record.input_size)"),
                 why="ignores the photo", message="different values"),
        Mutation(_preprocess("from transfer_course.pretrained import preprocess", "return preprocess(image, record, draft=False)"),
                 why="delegates to the forbidden library call", message="transfer_course.pretrained.preprocess"),
        Mutation("from transfer_course import pretrained as helpers\n"
                 + _preprocess("return helpers.preprocess(image, record, draft=False)"),
                 why="the forbidden call through a module alias", message="transfer_course.pretrained.preprocess"),
        Mutation("import importlib\n"
                 "def _prepare(image, record):\n"
                 "    module = importlib.import_module('transfer_course.pretrained')\n"
                 "    return getattr(module, 'pre' + 'process')(image, record, draft=False)\n"
                 + _preprocess("return _prepare(image, record)"),
                 why="the forbidden call through importlib, getattr and a helper", message="transfer_course.pretrained.preprocess"),
        Mutation("from transfer_course.augment import valid_transform\n"
                 + _preprocess("return valid_transform(record)(image)"),
                 why="delegates to the forbidden valid_transform", message="transfer_course.augment.valid_transform"),
    ],
    "top_k_labels": [
        Mutation("def top_k_labels(logits, labels, k=5):\n"
                 "    return [[labels[i] for i in row] for row in logits.topk(k, dim=-1, largest=False).indices.tolist()]\n",
                 why="the k least probable classes", message="Not quite"),
        Mutation("def top_k_labels(logits, labels, k=5):\n"
                 "    return [[labels[i] for i in row] for row in logits.argsort(dim=-1)[:, :k].tolist()]\n",
                 why="sorted ascending: worst first", message="Not quite"),
        Mutation("def top_k_labels(logits, labels, k=5):\n"
                 "    return [[labels[i] for i in row] for row in logits.topk(k, dim=0).indices.tolist()]\n",
                 why="ranks along the wrong axis (over the photos)", message="raised"),
        Mutation("def top_k_labels(logits, labels, k=5):\n"
                 "    probabilities = logits.softmax(dim=0)\n"
                 "    return [[labels[i] for i in row] for row in probabilities.topk(k, dim=-1).indices.tolist()]\n",
                 why="softmax over the wrong axis", message="Not quite"),
        Mutation("def top_k_labels(logits, labels, k=5):\n"
                 "    return [[labels[i] for i in row] for row in logits.topk(k - 1, dim=-1).indices.tolist()]\n",
                 why="off by one: k - 1 labels", message="Not quite"),
        Mutation("def top_k_labels(logits, labels, k=5):\n"
                 "    return [[labels[i] for i in row][:k + 1] for row in logits.argsort(dim=-1, descending=True).tolist()]\n",
                 why="off by one: k + 1 labels (right only when k is every class)", message="Not quite"),
        Mutation("def top_k_labels(logits, labels, k=5):\n"
                 "    return logits.topk(k, dim=-1).indices.tolist()\n",
                 why="class indices instead of labels", message="Not quite"),
        Mutation("def top_k_labels(logits, labels, k=5):\n"
                 "    return [sorted(labels[i] for i in row) for row in logits.topk(k, dim=-1).indices.tolist()]\n",
                 why="the right labels in alphabetical order (unsorted by probability)", message="Not quite"),
        Mutation("def top_k_labels(logits, labels, k=5):\n"
                 "    return [[labels[i] for i in logits[0].topk(k).indices.tolist()]]\n",
                 why="only the first row", message="Not quite"),
        Mutation("def top_k_labels(logits, labels, k=5):\n"
                 "    return [['dog', 'bee']]\n",
                 why="hard-codes the public answer", message="Not quite"),
        Mutation("from transfer_course.pretrained import top_k\n"
                 "def top_k_labels(logits, labels, k=5):\n"
                 "    return [[entry['label'] for entry in row] for row in top_k(logits, labels, k)]\n",
                 why="delegates to the forbidden top_k", message="transfer_course.pretrained.top_k"),
        Mutation("import importlib\n"
                 "def top_k_labels(logits, labels, k=5):\n"
                 "    ranked = getattr(importlib.import_module('transfer_course.pretrained'), 'top_' + 'k')(logits, labels, k)\n"
                 "    return [[entry['label'] for entry in row] for row in ranked]\n",
                 why="the forbidden top_k through importlib and getattr", message="transfer_course.pretrained.top_k"),
    ],
    "misclassified": [
        Mutation("def misclassified(predictions, acceptable):\n"
                 "    return sorted(n for n, labels in predictions.items() if not set(labels) & set(acceptable[n]))\n",
                 why="a photo counts as right when any of its top-3 labels is acceptable", message="Not quite"),
        Mutation("def misclassified(predictions, acceptable):\n"
                 "    return [n for n, labels in predictions.items() if labels[0] not in acceptable[n]]\n",
                 why="unsorted (dictionary order)", message="Not quite"),
        Mutation("def misclassified(predictions, acceptable):\n"
                 "    return sorted(n for n, labels in predictions.items() if labels[0] in acceptable[n])\n",
                 why="the photos the model gets right", message="Not quite"),
        Mutation("def misclassified(predictions, acceptable):\n"
                 "    return sorted(n for n, labels in predictions.items() if labels[-1] not in acceptable[n])\n",
                 why="the last label instead of the first", message="Not quite"),
        Mutation("def misclassified(predictions, acceptable):\n"
                 "    return ['astronaut', 'grace_hopper']\n",
                 why="hard-codes the answer for the photos shown (ignores its input)", message="Not quite"),
        Mutation("def misclassified(predictions, acceptable):\n"
                 "    return ['a']\n",
                 why="hard-codes the public answer", message="Not quite"),
    ],
    "why_astronaut": [
        Mutation("why_astronaut = 'A'", why="wrong option A (preprocessing)", message="confident, correct answers"),
        Mutation("why_astronaut = 'C'", why="wrong option C (photo size)", message="its size does not matter"),
        Mutation("why_astronaut = 'D'", why="not an option", message="not one of the options"),
    ],
}
