"""torch.utils._pytree on jax.tree_util, with jtorch Tensors as leaves."""
import jax


def tree_flatten(tree, is_leaf=None):
    leaves, spec = jax.tree_util.tree_flatten(tree, is_leaf=is_leaf)
    return leaves, spec


def tree_unflatten(leaves, treespec):
    return jax.tree_util.tree_unflatten(treespec, leaves)


def tree_map(fn, tree, *rest, is_leaf=None):
    return jax.tree_util.tree_map(fn, tree, *rest, is_leaf=is_leaf)


def tree_leaves(tree, is_leaf=None):
    return jax.tree_util.tree_leaves(tree, is_leaf=is_leaf)


def tree_map_only(cls, fn, tree, is_leaf=None):
    return jax.tree_util.tree_map(lambda x: fn(x) if isinstance(x, cls) else x, tree, is_leaf=is_leaf)


def tree_structure(tree):
    return jax.tree_util.tree_structure(tree)
