"Wrong answers to the exercises of lesson 3 (nbs/exercises/03_augment.ipynb), each with the feedback it must get."
from tests.mutations import Mutation

_RESIZE = "v2.Resize(record.resize_size, interpolation=v2.InterpolationMode(record.interpolation))"
_TAIL = "v2.PILToTensor(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(record.mean), list(record.std))"
_CROP = "v2.RandomResizedCrop(record.input_size, scale=(min_scale, 1.0), interpolation=v2.InterpolationMode(record.interpolation))"


def _valid(steps: str) -> str:
    return f"def make_valid_transform(record):\n    return v2.Compose([{steps}])\n"


def _train(steps: str) -> str:
    return f"def make_train_transform(record, min_scale):\n    return v2.Compose([{steps}])\n"


MUTATIONS = {
    "make_valid_transform": [
        Mutation(_valid(f"{_RESIZE}, v2.CenterCrop(record.input_size), v2.PILToTensor(), v2.ToDtype(torch.float32, scale=True), "
                        "v2.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])"),
                 why="ImageNet statistics typed in (right only for the torchvision models)", message="different values"),
        Mutation(_valid(f"{_RESIZE}, v2.CenterCrop(record.input_size), v2.PILToTensor(), v2.ToDtype(torch.float32), "
                        "v2.Normalize(list(record.mean), list(record.std))"),
                 why="converted to float without scaling to [0, 1]", message="255 times too large"),
        Mutation(_valid("v2.Resize((record.resize_size, record.resize_size), interpolation=v2.InterpolationMode(record.interpolation)), "
                        f"v2.CenterCrop(record.input_size), {_TAIL}"),
                 why="resize to a square pair (squashes the photo)", message="different values"),
        Mutation(_valid(f"{_RESIZE}, v2.CenterCrop(record.input_size), v2.PILToTensor(), v2.ToDtype(torch.float32, scale=True)"),
                 why="not normalised", message="not normalised"),
        Mutation(_valid("v2.Resize(record.resize_size, interpolation=v2.InterpolationMode.BILINEAR), "
                        f"v2.CenterCrop(record.input_size), {_TAIL}"),
                 why="bilinear resize whatever the record says", message="different values"),
        Mutation(_valid(f"v2.CenterCrop(record.input_size), {_RESIZE}, v2.CenterCrop(record.input_size), {_TAIL}"),
                 why="wrong order: crop before resizing", message="different values"),
        Mutation(_valid(f"v2.RandomResizedCrop(record.input_size), {_TAIL}"),
                 why="the training crop in the validation transform", message="different values"),
        Mutation(_valid("v2.Resize(256, interpolation=v2.InterpolationMode.BICUBIC), v2.CenterCrop(224), v2.PILToTensor(), "
                        "v2.ToDtype(torch.float32, scale=True), v2.Normalize([0.5] * 3, [0.5] * 3)"),
                 why="EfficientNet-Lite0's numbers typed in: ignores the record", message="Expected shape"),
        Mutation("from transfer_course.augment import valid_transform\n"
                 "def make_valid_transform(record):\n    return valid_transform(record)\n",
                 why="delegates to the forbidden valid_transform", message="transfer_course.augment.valid_transform"),
        Mutation("import transfer_course.augment as augmentation\n"
                 "def make_valid_transform(record):\n"
                 "    return v2.Compose([v2.Resize(record.resize_size, interpolation=v2.InterpolationMode(record.interpolation)), "
                 "v2.CenterCrop(record.input_size), augmentation.input_transform(record)])\n",
                 why="the forbidden input_transform through a module alias", message="transfer_course.augment.input_transform"),
        Mutation("_public = make_valid_transform(get_record('efficientnet_lite0'))(load_image(sample_images()['chelsea']))\n"
                 "def make_valid_transform(record):\n    return lambda image: _public.clone()\n",
                 why="hard-codes the public answer (chelsea's tensor, whatever the photo and record)", message="different values"),
    ],
    "denormalise": [
        Mutation("def denormalise(batch, record):\n"
                 "    return (batch * torch.tensor(record.mean).view(1, 3, 1, 1) + torch.tensor(record.std).view(1, 3, 1, 1)).clamp(0, 1)\n",
                 why="mean and std swapped", message="different values"),
        Mutation("def denormalise(batch, record):\n"
                 "    return batch * torch.tensor(record.std).view(1, 3, 1, 1) + torch.tensor(record.mean).view(1, 3, 1, 1)\n",
                 why="not clamped", message="Not quite"),
        Mutation("def denormalise(batch, record):\n    return (batch * 0.5 + 0.5).clamp(0, 1)\n",
                 why="hard-coded 0.5 statistics (right only for EfficientNet-Lite)", message="different values"),
        Mutation("def denormalise(batch, record):\n"
                 "    return ((batch - torch.tensor(record.mean).view(1, 3, 1, 1)) / torch.tensor(record.std).view(1, 3, 1, 1)).clamp(0, 1)\n",
                 why="normalises again instead of undoing", message="different values"),
        Mutation("def denormalise(batch, record):\n"
                 "    return (batch * torch.tensor(record.std) + torch.tensor(record.mean)).clamp(0, 1)\n",
                 why="statistics broadcast along the wrong axis (the width)", message="raised"),
        Mutation("def denormalise(batch, record):\n"
                 "    return (batch * torch.tensor(record.std).view(1, 3, 1, 1)[:, [2, 1, 0]] + torch.tensor(record.mean).view(1, 3, 1, 1)[:, [2, 1, 0]]).clamp(0, 1)\n",
                 why="statistics in reverse channel order", message="different values"),
        Mutation("from transfer_course.records import denormalize\n"
                 "def denormalise(batch, record):\n    return denormalize(batch, record, clip=True)\n",
                 why="delegates to the forbidden denormalize", message="transfer_course.records.denormalize"),
        Mutation("_pixels = torch.rand(2, 3, 5, 5, generator=torch.Generator().manual_seed(0))\n"
                 "def denormalise(batch, record):\n    return _pixels.clone()\n",
                 why="hard-codes the public answer (the public batch's pixels)", message="different values"),
        Mutation("import importlib\n"
                 "def denormalise(batch, record):\n"
                 "    return getattr(importlib.import_module('transfer_course.records'), 'denormalize')(batch, record, clip=True)\n",
                 why="the forbidden denormalize through importlib and getattr", message="transfer_course.records.denormalize"),
    ],
    "presize_side": [
        Mutation("def presize_side(input_size, min_scale):\n    return math.ceil(input_size / min_scale)\n",
                 why="divides by the area fraction, not its square root", message="square root"),
        Mutation("def presize_side(input_size, min_scale):\n    return int(input_size / math.sqrt(min_scale))\n",
                 why="rounds down", message="Round up"),
        Mutation("def presize_side(input_size, min_scale):\n    return round(input_size / math.sqrt(min_scale))\n",
                 why="rounds to the nearest", message="Round up"),
        Mutation("def presize_side(input_size, min_scale):\n    return math.ceil(input_size * math.sqrt(min_scale))\n",
                 why="multiplies instead of dividing", message="square root"),
        Mutation("def presize_side(input_size, min_scale):\n    return 379\n",
                 why="hard-codes the public answer", message="Not quite"),
        Mutation("from transfer_course.augment import presize_size, AugmentConfig\n"
                 "from types import SimpleNamespace\n"
                 "def presize_side(input_size, min_scale):\n"
                 "    return presize_size(SimpleNamespace(input_size=input_size, resize_size=0), AugmentConfig(min_scale=min_scale))\n",
                 why="delegates to the forbidden presize_size", message="transfer_course.augment.presize_size"),
        Mutation("import transfer_course.augment as aug\nfrom types import SimpleNamespace\n"
                 "def presize_side(input_size, min_scale):\n"
                 "    return getattr(aug, 'presize_size')(SimpleNamespace(input_size=input_size, resize_size=0), aug.AugmentConfig(min_scale=min_scale))\n",
                 why="the forbidden presize_size through a module alias and getattr", message="transfer_course.augment.presize_size"),
    ],
    "make_train_transform": [
        Mutation(_train(f"v2.RandomResizedCrop(record.input_size), v2.RandomHorizontalFlip(), {_TAIL}"),
                 why="RandomResizedCrop's default scale: crops far smaller than min_scale", message="below min_scale"),
        Mutation(_train(f"v2.Resize(record.input_size), v2.RandomCrop(record.input_size), v2.RandomHorizontalFlip(), {_TAIL}"),
                 why="resize then a fixed-size random crop: the crop area never varies", message="never as small as min_scale"),
        Mutation(_train(f"{_CROP}, {_TAIL}"), why="no flip", message="never"),
        Mutation(_train(f"{_CROP}, v2.RandomHorizontalFlip(p=1.0), {_TAIL}"), why="always flips", message="always"),
        Mutation(_train(f"{_CROP}, v2.RandomHorizontalFlip(), v2.RandomVerticalFlip(), {_TAIL}"), why="the wrong axis: upside-down flips",
                 message="upside-down flips"),
        Mutation(_train(f"{_CROP}, v2.RandomHorizontalFlip(), v2.ColorJitter(0.2, 0.2, 0.2), {_TAIL}"),
                 why="colour jitter", message="colours unchanged"),
        Mutation(_train(f"{_CROP}, v2.RandomHorizontalFlip(), v2.PILToTensor(), v2.ToDtype(torch.float32, scale=True)"),
                 why="not normalised", message="normalised"),
        Mutation(_train(f"{_CROP}, v2.RandomHorizontalFlip(), v2.PILToTensor(), v2.ToDtype(torch.float32), "
                        "v2.Normalize(list(record.mean), list(record.std))"),
                 why="not scaled to [0, 1]", message="normalised"),
        Mutation(_train("v2.RandomResizedCrop(record.input_size, scale=(min_scale, 1.0), ratio=(0.5, 2.0)), "
                        f"v2.RandomHorizontalFlip(), {_TAIL}"),
                 why="aspect ratios up to 2", message="aspect ratios"),
        Mutation(_train(f"v2.RandomResizedCrop(record.input_size, scale=(0.25, 1.0)), v2.RandomHorizontalFlip(), {_TAIL}"),
                 why="min_scale typed in (ignores the argument)", message="below min_scale"),
        Mutation(_train("v2.RandomResizedCrop(224, scale=(min_scale, 1.0)), v2.RandomHorizontalFlip(), v2.PILToTensor(), "
                        "v2.ToDtype(torch.float32, scale=True), v2.Normalize([0.5] * 3, [0.5] * 3)"),
                 why="EfficientNet-Lite0's size and statistics typed in (ignores the record)", message="Not quite"),
        Mutation(_train(f"{_CROP}, v2.RandomHorizontalFlip(), v2.RandomRotation(10), {_TAIL}"),
                 why="adds a rotation", message="Not quite"),
        Mutation("from transfer_course.augment import train_transform, AugmentConfig\n"
                 "def make_train_transform(record, min_scale):\n"
                 "    return train_transform(record, AugmentConfig(min_scale=min_scale, rotation=0, brightness=0, contrast=0, saturation=0))\n",
                 why="delegates to the forbidden train_transform", message="transfer_course.augment.train_transform"),
        Mutation("_public = make_train_transform(get_record('efficientnet_lite0'), 0.25)\n"
                 "def make_train_transform(record, min_scale):\n    return _public\n",
                 why="hard-codes the public answer (the public model's transform, whatever the record and min_scale)",
                 message="Not quite"),
        Mutation("import importlib\n"
                 "def make_train_transform(record, min_scale):\n"
                 "    augment = importlib.import_module('transfer_course.augment')\n"
                 "    config = augment.AugmentConfig(min_scale=min_scale, rotation=0, brightness=0, contrast=0, saturation=0)\n"
                 "    return getattr(augment, 'train_transform')(record, config)\n",
                 why="the forbidden train_transform through importlib and getattr", message="transfer_course.augment.train_transform"),
    ],
    "validation_transform": [
        Mutation("validation_transform = 'A'", why="wrong option A (the training transform)", message="Augment only the training set"),
        Mutation("validation_transform = 'C'", why="wrong option C (raw photos)", message="raw photos"),
        Mutation("validation_transform = 'b'", why="not an option (lower case)", message="not one of the options"),
    ],
}
