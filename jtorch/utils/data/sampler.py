"""Samplers with torch.utils.data.sampler's semantics. Random ones draw from jtorch Generators, so
sequences differ from torch's (as all jtorch random streams do) while their statistics match."""
__all__ = ["BatchSampler", "RandomSampler", "Sampler", "SequentialSampler", "SubsetRandomSampler",
           "WeightedRandomSampler"]


def _new_seed(generator=None):
    """A fresh int64 seed drawn from `generator` (or the global generator), as torch's
    `torch.empty((), dtype=torch.int64).random_(generator=g).item()`."""
    from ... import _dtype as D
    from ..._creation import randint
    return int(randint(0, 2 ** 62, (), generator=generator, dtype=D.int64).item())


def _seeded_generator(seed):
    from ..._random import Generator
    g = Generator()
    g.manual_seed(seed)
    return g


def _randperm(n, generator):
    """randperm(n, generator=generator).tolist(): one draw from the jtorch generator seeds a host
    permutation, so a new n costs no XLA compile (one kernel serves every size)."""
    import numpy as np
    return np.random.default_rng(_new_seed(generator)).permutation(n).tolist()


def _randint_list(high, size, generator):
    import numpy as np
    return np.random.default_rng(_new_seed(generator)).integers(0, high, size).tolist()


class Sampler:
    """Base class: an iterable over dataset indices (or batches of indices)."""

    def __init__(self, data_source=None):
        if data_source is not None:
            import warnings
            warnings.warn("`data_source` argument is not used and will be removed in 2.2.0."
                          "You may still have custom implementation that utilizes it.")

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation (or, with replacement, uniform draws); num_samples beyond the length
    without replacement concatenates fresh permutations, as torch."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={self.replacement}")
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={self.num_samples}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n = len(self.data_source)
        generator = self.generator
        if generator is None:
            generator = _seeded_generator(_new_seed())
        if self.replacement:
            yield from _randint_list(n, self.num_samples, generator)
        else:
            for _ in range(self.num_samples // n):
                yield from _randperm(n, generator)
            rest = self.num_samples % n
            if rest:
                yield from _randperm(n, generator)[:rest]

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        for i in _randperm(len(self.indices), self.generator):
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """Indices 0..len(weights)-1 drawn with probabilities proportional to weights."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got replacement={replacement}")
        from ... import _dtype as D
        from ..._creation import as_tensor
        weights_tensor = as_tensor(weights, dtype=D.float64)
        if len(weights_tensor.shape) != 1:
            raise ValueError("weights should be a 1d sequence but given weights have "
                             f"shape {tuple(weights_tensor.shape)}")
        self.weights = weights_tensor
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        from ..._creation import multinomial
        yield from iter(multinomial(self.weights, self.num_samples, self.replacement,
                                    generator=self.generator).tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups another sampler's indices into lists of batch_size (the last one shorter unless drop_last)."""

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        it = iter(self.sampler)
        bs = self.batch_size
        if self.drop_last:
            while True:
                batch = []
                try:
                    for _ in range(bs):
                        batch.append(next(it))
                except StopIteration:
                    return
                yield batch
        else:
            batch = []
            for idx in it:
                batch.append(idx)
                if len(batch) == bs:
                    yield batch
                    batch = []
            if batch:
                yield batch

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size
