def weight_norm(*a, **k):
    raise NotImplementedError

def remove_weight_norm(*a, **k):
    raise NotImplementedError
