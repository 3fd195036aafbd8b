"Wrong answers to the exercises of lesson 5 (nbs/exercises/05_unfreeze.ipynb), each with the feedback it must get."
from tests.mutations import Mutation


def _spread(line: str) -> str:
    return f"def spread(low, high, n):\n    return {line}\n"


def _optimizer(*body: str) -> str:
    return "def make_optimizer(model, low, high):\n" + "".join(f"    {line}\n" for line in body)


def _unfreeze(*body: str) -> str:
    return "def unfreeze_last_group(model):\n" + "".join(f"    {line}\n" for line in body)


_GROUPS = "groups = layer_groups(model)"

MUTATIONS = {
    "spread": [
        Mutation(_spread("[low + (high - low)*i/(n - 1) for i in range(n)]"), why="linear, not geometric",
                 message="different values"),
        Mutation(_spread("[high*(low/high)**(i/(n - 1)) for i in range(n)]"), why="reversed: the head gets the lowest",
                 message="different values"),
        Mutation(_spread("[high/10]*(n - 1) + [high]"), why="slice(high) semantics", message="different values"),
        Mutation(_spread("[low*(high/low)**(i/n) for i in range(n)]"), why="ratio from n instead of n - 1 steps",
                 message="different values"),
        Mutation(_spread("[low*(high/low)**(i/(n - 1)) for i in range(n)]"), why="forgets the single group (n = 1)",
                 message="ZeroDivisionError"),
        Mutation(_spread("[1e-5, 1e-4, 1e-3]"), why="hard-codes the public answer", message="Expected shape"),
        Mutation("from transfer_course.train import discriminative_lrs\n"
                 + _spread("discriminative_lrs(slice(low, high), n)"),
                 why="delegates to the course's discriminative_lrs", message="which this exercise asks you not to use"),
        Mutation("import importlib\n"
                 + _spread("getattr(importlib.import_module('transfer_course.train'), 'discriminative_lrs')(slice(low, high), n)"),
                 why="discriminative_lrs through importlib and getattr", message="which this exercise asks you not to use"),
    ],
    "make_optimizer": [
        Mutation(_optimizer("return torch.optim.AdamW(model.parameters(), lr=high)"), why="one group for everything",
                 message="parameter groups"),
        Mutation(_optimizer(_GROUPS, "rates = spread(low, high, len(groups))[::-1]",
                            "return torch.optim.AdamW([{'params': [p for _, p in g], 'lr': r} for g, r in zip(groups, rates)])"),
                 why="rates in the wrong order (head slowest)", message="learning rate of each layer group"),
        Mutation(_optimizer("return torch.optim.AdamW([{'params': list(model.body.parameters()), 'lr': low},",
                            "                          {'params': list(model.head.parameters()), 'lr': high}])"),
                 why="body and head only", message="parameter groups"),
        Mutation(_optimizer(_GROUPS, "rates = spread(low, high, len(groups))",
                            "return torch.optim.AdamW([{'params': [p for _, p in g[:1]], 'lr': r} for g, r in zip(groups, rates)])"),
                 why="only the first tensor of each layer group", message="left out of every group"),
        Mutation(_optimizer(_GROUPS, "rates = spread(low, high, len(groups))",
                            "kept = [(g, r) for g, r in zip(groups, rates) if g is not groups[-2]]",
                            "return torch.optim.AdamW([{'params': [p for _, p in g], 'lr': r} for g, r in kept])"),
                 why="a whole layer group (the late body) left out of every parameter group",
                 message="left out of every group"),
        Mutation(_optimizer(_GROUPS,
                            "return torch.optim.AdamW([{'params': [p for _, p in g], 'lr': r} for g, r in zip(groups, [1e-5, 1e-4, 1e-3])])"),
                 why="hard-codes the public rates", message="learning rate of each layer group"),
        Mutation(_optimizer(_GROUPS, "rates = spread(low, high, 3)",
                            "return torch.optim.AdamW([{'params': [p for _, p in g], 'lr': r} for g, r in zip(groups, rates)])"),
                 why="assumes three layer groups", message="left out of every group"),
        Mutation(_optimizer(_GROUPS, "rates = spread(low, high, len(groups))",
                            "return torch.optim.SGD([{'params': [p for _, p in g], 'lr': r} for g, r in zip(groups, rates)])"),
                 why="SGD instead of AdamW", message="optimizer'] is 'SGD'"),
        Mutation("from transfer_course.train import parameter_groups\n"
                 + _optimizer("return torch.optim.AdamW(parameter_groups(model, slice(low, high)))"),
                 why="delegates to the course's parameter_groups", message="which this exercise asks you not to use"),
        Mutation("import transfer_course.train as training\n"
                 + _optimizer("groups = getattr(training, 'parameter_groups')(model, slice(low, high))",
                              "return torch.optim.AdamW(groups)"),
                 why="parameter_groups through a module alias and getattr", message="which this exercise asks you not to use"),
    ],
    "unfreeze_last_group": [
        Mutation(_unfreeze("for _, parameter in layer_groups(model)[0]: parameter.requires_grad_(True)"),
                 why="the earliest group instead of the last body group", message="are frozen"),
        Mutation(_unfreeze("model.requires_grad_(True)"), why="unfreezes everything", message="still require gradients"),
        Mutation(_unfreeze("pass"), why="does nothing", message="are frozen"),
        Mutation(_unfreeze("for _, parameter in layer_groups(model)[1]: parameter.requires_grad_(True)"),
                 why="index 1 hard-coded (right only with three groups)", message="are frozen"),
        Mutation(_unfreeze("for _, parameter in layer_groups(model)[-2]: parameter.requires_grad_(not parameter.requires_grad)"),
                 why="toggles instead of setting (a second call freezes again)", message="are frozen"),
        Mutation("from transfer_course.train import freeze_to\n"
                 + _unfreeze("freeze_to(model, len(layer_groups(model)) - 2)"),
                 why="delegates to the course's freeze_to", message="which this exercise asks you not to use"),
        Mutation("import importlib\n"
                 + _unfreeze("training = importlib.import_module('transfer_course.train')",
                             "getattr(training, 'freeze_to')(model, len(layer_groups(model)) - 2)"),
                 why="freeze_to through importlib and getattr", message="which this exercise asks you not to use"),
    ],
    "read_lr_finder": [
        Mutation("head_lr = lowest_loss_lr", why="trains at the bottom of the curve",
                 message="at least three times below the bottom", max_score=1.0),
        Mutation("head_lr = 1e-6", why="a rate on the flat start", message="started to fall", max_score=1.0),
        Mutation("head_lr = 5.0", why="a rate where the loss explodes", message="at least three times below the bottom",
                 max_score=1.0),
        Mutation("head_lr = '3e-3'", why="a string", message="head_lr is a positive number", max_score=1.0),
        Mutation("lowest_loss_lr = head_finder.lrs[0]", why="the flat start taken for the bottom",
                 message="within a factor of 3", max_score=2.0),
        Mutation("lowest_loss_lr = head_finder.suggestion", why="the valley suggestion taken for the bottom",
                 message="within a factor of 3", max_score=2.0),
    ],
}
