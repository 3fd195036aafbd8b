"Wrong answers to the end-to-end capstone (nbs/exercises/08_capstone_end_to_end.ipynb), each with the feedback it must get."
from tests.mutations import Mutation

_EXPORT = ('exported = {"arch": model.record.name, "size": model.record.input_size, '
           '"class_names": list(model.class_names), "head_state": dict(model.head.state_dict())}')

MUTATIONS = {
    "capstone_dataset": [
        Mutation("import pandas\nsplit_table = pandas.concat([split_table, split_table.iloc[:3]])",
                 why="three photos counted twice (e.g. a copy scraped from another URL kept)", message="served 70 different"),
        Mutation("split_table = split_table.iloc[5:]", why="good photos lost (an over-eager filter)",
                 message="Some good photos were lost"),
        Mutation("moved = split_table.copy()\nmoved.loc[moved.index[0], 'split'] = 'valid' if moved.iloc[0]['split'] == 'train' else 'train'\n"
                 "import pandas\nsplit_table = pandas.concat([split_table, moved.iloc[:1]])",
                 why="a photo on both sides of the split (split by file, not by picture)", message="as a copy, in valid"),
        Mutation("split_table = split_table.assign(split='train')", why="no validation set at all",
                 message="No valid images"),
        Mutation("import pandas\nsplit_table = pandas.DataFrame([['train', 'hat', '0' * 16]] * 70, columns=['split', 'label', 'phash'])",
                 why="a hard-coded table that ignores the web",
                 message="every class needs photos on both sides"),
    ],
    "capstone_classifier": [
        Mutation(_EXPORT + '\nexported["head_state"] = {"fc.weight": torch.zeros(5, 1280), "fc.bias": torch.tensor([1., 0, 0, 0, 0])}',
                 why="a classifier that ignores the photo (always the first class)", message="no better than always guessing",
                 max_score=0.0),
        Mutation("model = create_transfer_model('efficientnet_lite0', split.classes, head='linear', size=160, device='cpu')\n" + _EXPORT,
                 why="an untrained head (the export of a fresh model)", message="this check needs"),
        Mutation(_EXPORT + '\nexported["class_names"] = exported["class_names"][::-1]',
                 why="class names not in the order of the head's outputs", message="this check needs"),
        Mutation(_EXPORT + '\nexported["head_state"] = dict(model.state_dict())',
                 why="the whole model's state dict (body included, wrong keys)", message="exactly ['fc.weight', 'fc.bias']"),
        Mutation(_EXPORT + '\nexported["head_state"] = {"head.fc.weight": model.head.fc.weight, "head.fc.bias": model.head.fc.bias}',
                 why="keys prefixed as in the whole model", message="exactly ['fc.weight', 'fc.bias']"),
        Mutation(_EXPORT + '\nexported["labels"] = list(range(5))', why="an extra key", message="unexpected: ['labels']"),
        Mutation(_EXPORT + '\nexported["size"] = 2000', why="a size the body cannot take", message="from 64 to 256"),
        Mutation("exported = model", why="the model object itself (it would need pickle)", message="plain data"),
        Mutation("import io, pickle\nexported = {'arch': 'efficientnet_lite0', 'size': 160, 'class_names': list(model.class_names), "
                 "'head_state': pickle.dumps(model.head)}",
                 why="a pickled head inside the export", message="plain data"),
        Mutation("from transfer_course.capstone import export_classifier as ship\nexported = ship(model)",
                 why="delegating the export to the forbidden capstone helper (through an alias)", message="export_classifier"),
    ],
}
