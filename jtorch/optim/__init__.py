"""jtorch.optim: torch's optimizers with torch's exact update rules, each step one jitted program per group."""
from .optimizer import Optimizer
from .sgd import SGD
from .adam import Adam
from .adamw import AdamW
from .adagrad import Adagrad
from .adadelta import Adadelta
from .adamax import Adamax
from .asgd import ASGD
from .nadam import NAdam
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from ._adafactor import Adafactor
from ._muon import Muon
from .sparse_adam import SparseAdam
from . import lr_scheduler

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adagrad", "Adadelta", "Adamax", "ASGD", "NAdam", "RAdam",
           "RMSprop", "Rprop", "LBFGS", "Adafactor", "Muon", "SparseAdam", "lr_scheduler", "swa_utils", "from_optax"]


def __getattr__(name):
    if name == "LBFGS":
        from .lbfgs import LBFGS
        return LBFGS
    if name == "swa_utils":
        import importlib
        return importlib.import_module(".swa_utils", __name__)
    if name in ("from_optax", "OptaxOptimizer"):
        from . import _optax
        return getattr(_optax, name)
    raise AttributeError(f"module 'jtorch.optim' has no attribute '{name}'")
