"Wrong answers to the learning-rate capstone (nbs/exercises/09_capstone_lr.ipynb), each with the feedback it must get."
from tests.mutations import Mutation

MUTATIONS = {
    "capstone_lr": [
        Mutation("chosen_lr = 1e-3", why="the habitual rate, hard-coded: too cautious for this head", message="too cautious"),
        Mutation("chosen_lr = 1e-5", why="a rate on the flat start of the curve", message="too cautious"),
        Mutation("chosen_lr = finder.lrs[min(range(len(finder.losses) - 3), key=finder.losses.__getitem__)]",
                 why="the rate of the lowest loss itself (the loss explodes just after it)", message="explosion"),
        Mutation("chosen_lr = 5.0", why="a rate past the explosion", message="explosion"),
        Mutation("chosen_lr = 100.0", why="a rate outside the sweep", message="outside the rates the finder swept"),
        Mutation("chosen_lr = '1e-2'", why="a string instead of a number", message="as a number"),
        Mutation("from transfer_course import capstone\nchosen_lr = getattr(capstone, 'lr_range')(finder)[0] * 2",
                 why="asking the grader's own range function (through getattr)", message="lr_range"),
    ],
}
