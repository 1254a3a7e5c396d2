"""The hook autocast uses in the dispatcher. ACTIVE[0] is None outside autocast regions (one
list read per op); inside, it is an object with cast_dtype(opdef, leaves) -> the dtype float leaves are cast to inside
the op's kernel (or None), per torch's autocast op lists (jtorch/amp).
"""
ACTIVE = [None]
