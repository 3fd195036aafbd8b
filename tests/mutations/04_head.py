"Wrong answers to the exercises of lesson 4 (nbs/exercises/04_head.ipynb), each with the feedback it must get."
from tests.mutations import Mutation

MUTATIONS = {
    "freeze_body": [
        Mutation("def freeze_body(model):\n"
                 "    for module in model.body.modules():\n"
                 "        is_bn = isinstance(module, nn.modules.batchnorm._BatchNorm)\n"
                 "        for parameter in module.parameters(recurse=False): parameter.requires_grad_(is_bn)\n",
                 why="BatchNorm of the body left trainable (fastai's train_bn=True): cached features would be wrong",
                 message="still require gradients"),
        Mutation("def freeze_body(model):\n"
                 "    for parameter in model.parameters(): parameter.requires_grad_(False)\n",
                 why="freezes everything, the head included", message="head"),
        Mutation("def freeze_body(model):\n"
                 "    for module in model.body.modules():\n"
                 "        if isinstance(module, nn.Conv2d): module.weight.requires_grad_(False)\n",
                 why="freezes only the convolutions", message="body"),
        Mutation("def freeze_body(model):\n    pass\n", why="does nothing (ignores its input)", message="body"),
        Mutation("def freeze_body(model):\n    model.body.eval()\n",
                 why="eval mode instead of requires_grad (eval does not stop gradients)", message="body"),
        Mutation("def freeze_body(model):\n"
                 "    for parameter in model.body.parameters(): parameter.requires_grad_(False)\n",
                 why="forgets to make the head trainable again (fails from a fully frozen model)", message="head"),
        Mutation("def freeze_body(model):\n"
                 "    from transfer_course.train import freeze\n"
                 "    freeze(model)\n",
                 why="delegates to the forbidden freeze", message="transfer_course.train.freeze"),
        Mutation("import transfer_course.train as training\n"
                 "def freeze_body(model):\n"
                 "    training.freeze_to(model, -1)\n",
                 why="the forbidden freeze_to through a module alias", message="transfer_course.train.freeze_to"),
    ],
    "count_trainable": [
        Mutation("def count_trainable(model):\n    return sum(p.numel() for p in model.parameters())\n",
                 why="counts frozen numbers too (right only for an unfrozen model)", message="Your count"),
        Mutation("def count_trainable(model):\n    return sum(1 for p in model.parameters() if p.requires_grad)\n",
                 why="counts tensors, not numbers", message="Your count"),
        Mutation("def count_trainable(model):\n    return sum(p.numel() for p in model.parameters() if not p.requires_grad)\n",
                 why="counts the frozen numbers", message="Your count"),
        Mutation("def count_trainable(model):\n    return sum(p.numel() for p in model.head.parameters())\n",
                 why="counts the head whatever trains (right only for a frozen transfer model)",
                 message="has no attribute 'head'"),
        Mutation("def count_trainable(model):\n"
                 "    return sum(p.numel() for p in list(model.parameters())[:-1] if p.requires_grad)\n",
                 why="off by one: skips the last tensor", message="Your count"),
        Mutation("from transfer_course.train import freeze as _freeze\n"
                 "_model = create_transfer_model('efficientnet_lite0', 5, size=64, device='cpu'); _freeze(_model)\n"
                 "_public = sum(p.numel() for p in _model.parameters() if p.requires_grad)\n"
                 "def count_trainable(model):\n    return _public\n",
                 why="hard-codes the public answer", message="Your count"),
        Mutation("def count_trainable(model):\n"
                 "    from transfer_course.train import parameter_report\n"
                 "    return int(parameter_report(model, depth=1)['trainable'].sum())\n",
                 why="delegates to the forbidden parameter_report", message="transfer_course.train.parameter_report"),
        Mutation("import importlib\n"
                 "def count_trainable(model):\n"
                 "    report = getattr(importlib.import_module('transfer_course.train'), 'parameter_report')(model, depth=1)\n"
                 "    return int(report['trainable'].sum())\n",
                 why="the forbidden parameter_report through importlib and getattr", message="transfer_course.train.parameter_report"),
    ],
    "predict_valid": [
        Mutation("def predict_valid(train_features, train_labels, valid_features):\n"
                 "    torch.manual_seed(0)\n"
                 "    return nn.Linear(train_features.shape[1], 5)(valid_features).argmax(dim=1)\n",
                 why="an untrained head", message="no better than the baseline"),
        Mutation("def predict_valid(train_features, train_labels, valid_features):\n"
                 "    return torch.full((len(valid_features),), int(train_labels.mode().values))\n",
                 why="always the most common class", message="no better than the baseline"),
        Mutation("def predict_valid(train_features, train_labels, valid_features):\n"
                 "    return train_labels[:len(valid_features)]\n",
                 why="ignores the features: the training labels in their order", message="no better than the baseline"),
        Mutation("def predict_valid(train_features, train_labels, valid_features):\n"
                 "    classes = int(train_labels.max()) + 1\n"
                 "    return torch.arange(len(valid_features)) * classes // len(valid_features)\n",
                 why="ignores the features: assumes rows sorted by class", message="no better than the baseline"),
        Mutation("def predict_valid(train_features, train_labels, valid_features):\n"
                 "    generator = torch.Generator().manual_seed(0)\n"
                 "    return torch.randint(0, int(train_labels.max()) + 1, (len(valid_features),), generator=generator)\n",
                 why="random guesses", message="no better than the baseline"),
        Mutation("_public = valid_labels.clone()\n"
                 "def predict_valid(train_features, train_labels, valid_features):\n"
                 "    return _public\n",
                 why="hard-codes the public answer (the labels of the validation rows shown)", message="no better than the baseline"),
    ],
}
