import struct

import numpy as np
import pytest
from cassandra.cqltypes import FloatType, Int32Type, VectorType

from killrvideo_reco.store.vector_codec import install_numpy_vector_codec

install_numpy_vector_codec()
FLOAT3 = VectorType.apply_parameters([FloatType, 3], None)
INT2 = VectorType.apply_parameters([Int32Type, 2], None)


def test_float_vectors_use_the_wire_format_of_the_driver():
    wire = struct.pack(">3f", 1.5, -2.0, 0.25)
    assert FLOAT3.serialize(np.array([1.5, -2.0, 0.25], dtype=np.float32), 5) == wire
    assert FLOAT3.serialize([1.5, -2.0, 0.25], 5) == wire  # plain lists: driver path
    decoded = FLOAT3.deserialize(wire, 5)
    assert decoded.dtype == np.float32 and decoded.tolist() == [1.5, -2.0, 0.25]


def test_other_subtypes_and_bad_lengths_keep_the_driver_behaviour():
    assert INT2.deserialize(struct.pack(">2i", 7, -1), 5) == [7, -1]
    with pytest.raises(ValueError):
        FLOAT3.serialize(np.zeros(4, dtype=np.float32), 5)
