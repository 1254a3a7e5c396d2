"""The hook autocast uses in the dispatcher. ACTIVE[0] is None outside autocast regions (one
list read per op); inside, it is an object with cast_leaves(opdef, leaves, opmask) -> leaves
that casts Tensor operands per the op's `autocast` category (jtorch/amp)."""
ACTIVE = [None]
