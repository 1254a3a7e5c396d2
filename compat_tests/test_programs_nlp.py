"""Third-party-style NLP / sequence / RL / utility programs (compat_tests/programs/nlp/), each run
as written with real torch and again with its imports swapped for jtorch (programs/_run.py).

Both runs start from the same weights (the torch run saves its freshly initialised state_dict to
--init-state, the jtorch run loads it) and see the same data (numpy RandomState, Python random),
so their losses and metrics must agree to float32 round-off. Where a program samples with torch's
RNG (Categorical.sample, multinomial) it reports only what does not depend on the stream."""
import os

import pytest

from programs._run import assert_metrics_close, run_program

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs", "nlp")

# name -> (extra argv, rtol, atol); `{tmp}` in argv is replaced by a per-run temporary directory
PROGRAMS = {
    "nanogpt": ([], 1e-3, 1e-4),
    "nanogpt-manual-attn-ckpt": (["--no-flash", "--out-dir", "{tmp}", "--max-iters", "6"], 1e-3, 1e-4),
    "bilstm_tagger": ([], 1e-3, 1e-4),
    "bilstm_crf": ([], 1e-3, 1e-4),
    "seq2seq_gru_attention": ([], 1e-3, 1e-4),
    "transformer_classifier": ([], 1e-3, 1e-4),
    "text_classifier_embeddingbag": ([], 1e-3, 1e-4),
    "word_language_model": (["--save", "{tmp}/model.pt"], 1e-3, 1e-4),
    "word_language_model-gru": (["--model", "GRU", "--epochs", "1"], 1e-3, 1e-4),
    "word2vec_sgns": ([], 1e-3, 1e-4),
    "mini_bert_mlm": ([], 1e-3, 1e-4),
    "reinforce_cartpole": ([], 1e-3, 1e-4),
    "actor_critic": ([], 1e-3, 1e-4),
    "dqn_replay": ([], 1e-3, 1e-5),
    "ppo_continuous": ([], 1e-3, 1e-4),
    "training_utils": ([], 1e-3, 1e-4),
}


def _run_both(name, tmp_path):
    argv, rtol, atol = PROGRAMS[name]
    script = os.path.join(HERE, name.split("-")[0] + ".py")
    results = {}
    for backend in ("torch", "jtorch"):
        d = tmp_path / backend
        d.mkdir()
        args = ["--init-state", str(tmp_path / "init.pt")] + [a.replace("{tmp}", str(d)) for a in argv]
        results[backend] = run_program(script, backend, args)
    assert os.path.exists(tmp_path / "init.pt")
    assert_metrics_close(results["torch"], results["jtorch"], rtol=rtol, atol=atol)
    return results


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_matches_torch(name, tmp_path):
    _run_both(name, tmp_path)


def test_swap_rewrites_like_the_tool():
    from programs._run import swap_imports
    src = ("import torch\nimport torch.nn as nn\nfrom torch.nn import functional as F\n"
           "import torch.distributions\n    import torch\nimport torchvision\n")
    assert swap_imports(src) == (
        "import jtorch as torch\nimport jtorch.nn as nn\nfrom jtorch.nn import functional as F\n"
        "import jtorch.distributions; torch = __import__('jtorch')\n    import jtorch as torch\nimport torchvision\n")


@pytest.mark.parametrize("stmt", [
    "from {m}.nn.common_types import _size_2_t, _size_any_t",
    "from {m}.nn.modules.activation import MultiheadAttention, ReLU",
    "from {m}.autograd.profiler import record_function, profile",
    "from {m}.linalg import LinAlgError",
    "from {m}.nn.modules.transformer import _get_clones",
    "from {m}.optim.optimizer import Optimizer, required",
])
def test_import_paths_programs_use(stmt):
    """Import lines seen in third-party code resolve in jtorch as in torch, to the same kind of object."""
    got = {}
    for m in ("torch", "jtorch"):
        ns = {}
        exec(stmt.format(m=m), ns)
        got[m] = {k: v for k, v in ns.items() if k != "__builtins__"}
    assert set(got["torch"]) == set(got["jtorch"])
    for k, t in got["torch"].items():
        j = got["jtorch"][k]
        assert callable(j) == callable(t), k
        if isinstance(t, type):
            assert isinstance(j, type) and j.__name__.lstrip("_") == t.__name__.lstrip("_"), k
            assert [b.__name__ for b in t.__mro__ if b.__module__ == "builtins"] == \
                [b.__name__ for b in j.__mro__ if b.__module__ == "builtins"], k
