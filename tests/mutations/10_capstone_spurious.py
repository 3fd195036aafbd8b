"Wrong answers to the spurious-cue capstone (nbs/exercises/10_capstone_spurious.ipynb), each with the feedback it must get."
from tests.mutations import Mutation


def _clean(*body: str) -> str:
    "A `clean` whose body is `body` (one statement per line)."
    return "def clean(images):\n" + "\n".join("    " + line for line in body) + "\n"


MUTATIONS = {
    "capstone_cue": [
        Mutation('cue_answer = "A"', why="trusting that the model looks at the insect", message="not on the insect"),
        Mutation('cue_answer = "C"', why="the plausible story (bees on flowers) instead of the evidence", message="coffee cup"),
        Mutation('cue_answer = "D"', why="the edges", message="top-left corner"),
        Mutation('cue_answer = "E"', why="not an option", message="not one of the options"),
    ],
    "capstone_clean": [
        Mutation(_clean("return images"), why="cleaning nothing", message="still in the top-left corner"),
        Mutation(_clean("return images[..., 52:, 52:]"), why="cropping the cue away without resizing back",
                 message="keep the photos' shape"),
        Mutation(_clean("return torch.zeros_like(images)"), why="removing the photo with the cue", message="blank"),
        Mutation(_clean("return images.float() / 255"), why="returning floats", message="uint8"),
        Mutation(_clean("cleaned = images.clone()", "cleaned[..., :20, :20] = 128", "return cleaned"),
                 why="painting over only a small part of the cue", message="still in the top-left corner"),
        Mutation("_public = clean(cue_dataset(per_class=3, skip=0).images)\n" + _clean("return _public.clone()"),
                 why="hard-codes the public answer (the six public photos, cleaned, whatever the input)",
                 message="keep the photos' shape"),
    ],
    "capstone_retrain": [
        Mutation("cleaned_export = export_classifier(model)", why="handing in the model that learned the cue",
                 message="this check needs"),
        Mutation("cleaned_model = fit_linear_head(cue_data.images, cue_data.labels, cue_data.class_names)\n"
                 "cleaned_export = export_classifier(cleaned_model)",
                 why="retraining on the un-cleaned photos", message="this check needs"),
        Mutation('cleaned_export = {**export_classifier(cleaned_model), "class_names": ["bees", "ants"]}',
                 why="class names swapped", message="this check needs"),
        Mutation('cleaned_export = {**export_classifier(cleaned_model), "head_state": dict(cleaned_model.state_dict())}',
                 why="the whole model's state dict (wrong keys)", message="exactly ['fc.weight', 'fc.bias']"),
        Mutation("cleaned_export = cleaned_model", why="the model object itself (it would need pickle)", message="plain data"),
        Mutation("from transfer_course.capstone import cue_dataset as photos_without_cue\n"
                 "plain = photos_without_cue(cue=False)\n"
                 "cleaned_export = export_classifier(fit_linear_head(plain.images, plain.labels, plain.class_names))",
                 why="training on a copy of the photos without the cue instead of cleaning the given ones",
                 message="cue_dataset"),
    ],
}
