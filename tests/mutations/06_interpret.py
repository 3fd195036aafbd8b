"Wrong answers to the exercises of lesson 6 (nbs/exercises/06_interpret.ipynb), each with the feedback it must get."
from tests.mutations import Mutation


def _confusion(*body: str) -> str:
    return "def confusion_counts(targets, predictions, n_classes):\n" + "".join(f"    {line}\n" for line in body)


def _losses(line: str) -> str:
    return f"def top_loss_indices(logits, targets, k):\n    return {line}\n"


def _cam(line: str) -> str:
    return f"def gradcam_from(activations, gradients):\n    return {line}\n"


_COUNT = ("matrix = torch.zeros(n_classes, n_classes, dtype=torch.int64)",
          "for actual, predicted in zip(targets.tolist(), predictions.tolist()): matrix[{cell}] += 1")

MUTATIONS = {
    "confusion_counts": [
        Mutation(_confusion(_COUNT[0], _COUNT[1].format(cell="predicted, actual"), "return matrix"),
                 why="transposed matrix (rows: predicted)", message="different values"),
        Mutation(_confusion(_COUNT[0], _COUNT[1].format(cell="actual, actual"), "return matrix"),
                 why="ignores the predictions (counts each example as right)", message="different values"),
        Mutation(_confusion("matrix = torch.zeros(n_classes + 1, n_classes + 1, dtype=torch.int64)",
                            _COUNT[1].format(cell="actual, predicted"), "return matrix"),
                 why="one class too many", message="Expected shape"),
        Mutation(_confusion("size = int(max(targets.max(), predictions.max()))",
                            "matrix = torch.zeros(size, size, dtype=torch.int64)",
                            _COUNT[1].format(cell="actual, predicted"), "return matrix"),
                 why="number of classes read from the data (off by one, and wrong when a class is absent)",
                 message="raised"),
        Mutation(_confusion("matrix = torch.zeros(n_classes, n_classes)", _COUNT[1].format(cell="actual, predicted"),
                            "return matrix"), why="float counts", message="floating point"),
        Mutation(_confusion(_COUNT[0], _COUNT[1].format(cell="actual, predicted"),
                            "return matrix/matrix.sum(dim=1, keepdim=True)"),
                 why="fractions of each row instead of counts", message="floating point"),
        Mutation(_confusion("return torch.tensor([[1, 1, 0], [0, 1, 0], [1, 0, 0]])"),
                 why="hard-codes the public answer", message="Expected shape"),
        Mutation("from transfer_course.metrics import confusion_matrix\n"
                 + _confusion("return confusion_matrix(predictions, targets, n_classes)"),
                 why="delegates to the library's confusion_matrix", message="which this exercise asks you not to use"),
        Mutation("import importlib\n" + _confusion(
                     "metrics = importlib.import_module('transfer_course.metrics')",
                     "return getattr(metrics, 'confusion_matrix')(predictions, targets, n_classes)"),
                 why="the library's confusion_matrix through importlib and getattr",
                 message="which this exercise asks you not to use"),
        Mutation("import sklearn.metrics as skm\n" + _confusion(
                     "return torch.as_tensor(skm.confusion_matrix(targets, predictions, labels=list(range(n_classes))))"),
                 why="delegates to scikit-learn", message="which this exercise asks you not to use"),
    ],
    "top_loss_indices": [
        Mutation(_losses("F.cross_entropy(logits, targets, reduction='none').topk(k, largest=False).indices.tolist()"),
                 why="the smallest losses", message="ACTUAL class"),
        Mutation(_losses("logits.softmax(dim=1).amax(dim=1).topk(k, largest=False).indices.tolist()"),
                 why="least confident predictions (ignores the targets)", message="ACTUAL class"),
        Mutation(_losses("F.cross_entropy(logits, logits.argmax(dim=1), reduction='none').topk(k).indices.tolist()"),
                 why="loss against the predicted class instead of the actual one", message="ACTUAL class"),
        Mutation(_losses("F.cross_entropy(logits, targets, reduction='none').topk(k).indices"),
                 why="a tensor instead of a list", message="should be a list"),
        Mutation(_losses("[1, 2]"), why="hard-codes the public answer", message="ACTUAL class"),
        Mutation("from transfer_course.interpret import top_losses\n"
                 + _losses("top_losses(logits, targets, k)[1].tolist()"),
                 why="delegates to the library's top_losses", message="which this exercise asks you not to use"),
        Mutation("import transfer_course.interpret as interp\n"
                 + _losses("getattr(interp, 'top_losses')(logits, targets, k)[1].tolist()"),
                 why="top_losses through a module alias and getattr", message="which this exercise asks you not to use"),
    ],
    "your_confusion": [
        Mutation("most_confused = (most_confused[1], most_confused[0])",
                 why="reads the matrix transposed (predicted, actual)", message="largest off-diagonal cell",
                 max_score=1.5),
        Mutation("most_confused = ('dress', 'pants')", why="a hard-coded pair that is not this model's mistake",
                 message="largest off-diagonal cell", max_score=1.5),
        Mutation("most_confused = ('dress', 'dress')", why="the largest cell of the diagonal (a right answer, not a mistake)",
                 message="its two classes differ", max_score=1.5),
        Mutation("dress_precision = float(my_matrix[0, 0]/my_matrix[0].sum())",
                 why="recall (a row) instead of precision (a column)", message="a column", max_score=1.5),
        Mutation("dress_precision = 100*dress_precision", why="a percentage instead of a fraction",
                 message="between 0 and 1", max_score=1.5),
        Mutation("most_confused = (most_confused[1], most_confused[0])\n"
                 "dress_precision = float(my_matrix[0, 0]/my_matrix[0].sum())",
                 why="the whole matrix read transposed", message="a column"),
    ],
    "gradcam_from": [
        Mutation(_cam("(gradients.mean(dim=(2, 3), keepdim=True)*activations).sum(dim=1)"),
                 why="forgot the ReLU", message="different values"),
        Mutation(_cam("F.relu((gradients.amax(dim=(2, 3), keepdim=True)*activations).sum(dim=1))"),
                 why="max gradient instead of the average", message="different values"),
        Mutation(_cam("F.relu((gradients*activations).sum(dim=1))"),
                 why="gradient times activation, not averaged per channel", message="different values"),
        Mutation(_cam("F.relu((gradients.mean(dim=1, keepdim=True)*activations).sum(dim=1))"),
                 why="averaged over the wrong axis (channels instead of the grid)", message="different values"),
        Mutation(_cam("F.relu((gradients.mean(dim=(2, 3), keepdim=True)*activations).mean(dim=1))"),
                 why="averaged over channels instead of summed", message="different values"),
        Mutation(_cam("F.relu((gradients.mean(dim=(2, 3), keepdim=True)*activations).sum(dim=1, keepdim=True))"),
                 why="kept the channel dimension", message="Expected shape"),
        Mutation("_generator = torch.Generator().manual_seed(0)\n"
                 "_activations = torch.rand((2, 8, 7, 7), generator=_generator)\n"
                 "_gradients = torch.randn((2, 8, 7, 7), generator=_generator) + 0.3*torch.randn((2, 8, 1, 1), generator=_generator)\n"
                 "_public = gradcam_from(_activations, _gradients)\n" + _cam("_public.clone()"),
                 why="hard-codes the public answer (the maps of the public example)", message="Expected shape"),
        Mutation("from pytorch_grad_cam import GradCAM as _Cam\n"
                 "def gradcam_from(activations, gradients):\n"
                 "    weights = torch.as_tensor(_Cam.get_cam_weights(None, None, None, None, activations.numpy(), gradients.numpy()))\n"
                 "    return F.relu((weights[:, :, None, None]*activations).sum(dim=1))\n",
                 why="delegates the channel weights to pytorch-grad-cam", message="which this exercise asks you not to use"),
        Mutation("import importlib\n"
                 "def gradcam_from(activations, gradients):\n"
                 "    cam = getattr(importlib.import_module('pytorch_grad_cam'), 'GradCAM')\n"
                 "    weights = torch.as_tensor(cam.get_cam_weights(None, None, None, None, activations.numpy(), gradients.numpy()))\n"
                 "    return F.relu((weights[:, :, None, None]*activations).sum(dim=1))\n",
                 why="pytorch-grad-cam through importlib and getattr", message="which this exercise asks you not to use"),
    ],
    "espresso_share_right": [
        Mutation("espresso_share_right = 1 - espresso_share_right", why="the left half (columns before 224)",
                 message="off by"),
        Mutation("espresso_share_right = float(heatmap_mass_inside(gradcam(model, photo, tiger_cat)[0], "
                 "torch.arange(448).expand(224, 448) >= 224))", why="the cat's map instead of the espresso map",
                 message="off by"),
        Mutation("espresso_share_right = 100*espresso_share_right", why="a percentage", message="off by"),
        Mutation("espresso_share_right = str(espresso_share_right)", why="a string", message="Expected a number"),
        Mutation("espresso_share_right = 0.75", why="hard-codes the middle of the public range", message="off by"),
    ],
    "why_espresso": [
        Mutation('why_espresso = "A"', why="the model is broken", message="lies on the cup"),
        Mutation('why_espresso = "C"', why="Grad-CAM of a frozen model is meaningless", message="no trainable parameters"),
        Mutation('why_espresso = "D"', why="not an option", message="not one of the options"),
    ],
}
