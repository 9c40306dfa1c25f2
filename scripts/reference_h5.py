"""HDF5 files for the tests' reference values (activation_reference.py, norm_reference.py,
optim_reference.py): written so that every run of a script gives the same bytes, and small
(datasets kept in their object headers); and the data sets they train on."""
import h5py
import numpy as np


def put(group, name, data):
    """A dataset in compact layout (its bytes in its header): a few KB per file, not 2 KB each."""
    data = np.ascontiguousarray(data)
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    dcpl.set_obj_track_times(False)  # the same bytes from every run of a script
    kind = {np.dtype(np.float32): h5py.h5t.IEEE_F32LE, np.dtype(np.float64): h5py.h5t.IEEE_F64LE,
            np.dtype(np.int32): h5py.h5t.STD_I32LE}[data.dtype]
    d = h5py.h5d.create(group.id, name.encode(), kind, h5py.h5s.create_simple(data.shape),
                        dcpl=dcpl)
    d.write(h5py.h5s.ALL, h5py.h5s.ALL, data)


def new_file(path):
    """An HDF5 file (latest format) whose objects record no times: the same bytes every run."""
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
    return h5py.File(h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl))


def group(parent, name):
    """A group that records no times."""
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)
    return h5py.Group(h5py.h5g.create(parent.id, name.encode(), gcpl=gcpl))


def blobs(seed, n, d, k, spread, noise):
    """n samples in d features round k centres drawn from U(-spread, spread), sample i of class
    i mod k, with Gaussian noise of standard deviation noise: (X float32, y int32)."""
    rng = np.random.RandomState(seed)
    centres = rng.uniform(-spread, spread, size=(k, d))
    y = np.arange(n) % k
    x = centres[y] + noise * rng.standard_normal((n, d))
    return x.astype(np.float32), y.astype(np.int32)
