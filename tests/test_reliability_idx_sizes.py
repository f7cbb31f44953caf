"""Reliability, round 3, for IDX headers: sizes that multiply past any float are refused in exact arithmetic.

An IDX header holds up to 255 sizes of up to $2^{32} - 1$ each, so the bytes
it declares reach $2^{8163}$: past ``float64`` (about $2^{1024}$) and past
what ``str`` converts without complaint once several files are summed. The
size check and its message compute in integers only; every header, whatever
the position and size of its large dimension, gets a `DataFormatError` that
names the shape, from ``read_idx``, ``read_idx_header`` callers such as
``load_idx_directory``, and the command line.
"""

from __future__ import annotations

import io
import math
import re
import struct

import numpy as np
import pytest

from minibp.cli import main
from minibp.data import load_idx_directory, read_idx
from minibp.data._common import check_size, describe_bytes
from minibp.data.mnist import IDX_FILES
from minibp.errors import DataFormatError

BIG = 2**32 - 1
CODES = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}


def header(dims: tuple[int, ...], code: int = 0x08) -> bytes:
    return struct.pack(f">HBB{len(dims)}I", 0, code, len(dims), *dims)


def shapes() -> list[tuple[int, ...]]:
    """Huge sizes in every position, products on both sides of 2**63, 2**64, 2**1024 and up to 2**8160."""
    out: list[tuple[int, ...]] = []
    for ndim in (1, 2, 3, 4):
        for pos in range(ndim):  # one huge size among small ones, in each position
            dims = [3] * ndim
            dims[pos] = BIG
            out.append(tuple(dims))
    out += [
        (2**31, 2**32 - 1),  # just under 2**63
        (2**31, 2**32 - 1, 2),  # just under 2**64
        (2**32 - 1, 2**31 + 1),  # just over 2**63
        (2**32 - 1, 2**32 - 1, 2),  # just over 2**64
        (BIG,) * 32,  # about 2**1024: the first products past float64
        (2**32 - 1,) * 31 + (2**31,),  # just under 2**1023 * 2**32 ...
        (BIG,) * 33,  # ... and past it
        (BIG,) * 255,  # the largest a header can declare: 2,457 decimal digits
        (1,) * 254 + (BIG,),
    ]
    return out


@pytest.mark.parametrize("code", sorted(CODES))
@pytest.mark.parametrize("dims", shapes(), ids=lambda d: f"{len(d)}d-{math.prod(d).bit_length()}bits")
def test_any_declared_size_is_refused_with_a_typed_error_naming_the_shape(dims, code):
    data = header(dims, code)
    need = math.prod(dims) * CODES[code]
    with pytest.raises(DataFormatError) as caught:
        read_idx(io.BytesIO(data))  # the default limit, 1 GiB
    assert f"shape {dims} of " in str(caught.value)
    assert f"would take {describe_bytes(need)} of memory" in str(caught.value)
    with pytest.raises(DataFormatError, match=rf"shape {re.escape(str(dims))} of "):
        read_idx(io.BytesIO(data), max_bytes=None)  # no limit: too large to allocate, or truncated


def test_the_size_in_the_message_is_exact_integer_arithmetic():
    """Below 10**21 the exact count with digits grouped and a rounded unit; above, the leading digits, truncated."""
    assert describe_bytes(1_073_741_824) == "1,073,741,824 bytes (1.1 GB)"
    assert describe_bytes(999) == "999 bytes (999 bytes)"
    assert describe_bytes(1_950) == "1,950 bytes (2.0 kB)"
    assert describe_bytes(10**21 - 1) == "999,999,999,999,999,999,999 bytes (1,000,000.0 PB)"
    assert describe_bytes(10**21) == "about 1.0e+21 bytes"
    assert describe_bytes(2**63 * 10**6) == "about 9.2e+24 bytes"  # 9,223,372,036,854,775,808,000,000
    assert describe_bytes(2**1024) == "about 1.7e+308 bytes"  # 1.797...e308: float64's limit, which float() refuses
    assert describe_bytes(BIG**255) == "about 2.5e+2456 bytes"
    assert describe_bytes(10**5000) == "about 1.0e+5000 bytes"  # past str()'s 4,300-digit limit
    assert describe_bytes(10**5000 - 1) == "about 9.9e+4999 bytes"  # truncated, never rounded up a power of ten
    for n in (2**63 - 1, 2**63, 2**64 + 1):
        assert describe_bytes(n).startswith(f"{n:,} bytes (")
    for n in (2**70 - 1, 2**1024 - 1, 2**1024, 2**1024 + 1, 3**2000):
        mantissa, exponent = describe_bytes(n).split()[1].split("e+")
        k = len(str(n)) - 1
        assert int(exponent) == k and mantissa == f"{str(n)[0]}.{str(n)[1]}"
    with pytest.raises(DataFormatError, match=r"would take about 1\.7e\+308 bytes .*max_bytes=1,024 bytes"):
        check_size("x", 2**1024, 1024)


def test_load_idx_directory_sums_the_four_headers_exactly(tmp_path):
    dims = (BIG,) * 40
    for name in IDX_FILES:
        (tmp_path / name).write_bytes(header(dims))
    need = 2 * math.prod(dims) * (8 + 8)  # X as float64 and y as int64, training and test
    with pytest.raises(DataFormatError, match=r"training images \(4294967295, ") as caught:
        load_idx_directory(tmp_path)
    assert describe_bytes(need) in str(caught.value)
    with pytest.raises(DataFormatError, match=r"shape \(4294967295, "):
        load_idx_directory(tmp_path, max_bytes=None)  # the sum is not checked; each file's own size is


def test_the_command_line_reports_the_file_not_an_internal_error(tmp_path, capsys):
    for name in IDX_FILES:
        (tmp_path / name).write_bytes(header((BIG,) * 40))
    assert main(["train", "--data", str(tmp_path), "--epochs", "1", "--quiet"]) != 0
    err = capsys.readouterr().err
    assert "internal error" not in err
    assert str(tmp_path) in err and "would take about 6.6e+386 bytes" in err


def test_a_small_declared_array_still_reads():
    data = header((2, 3)) + bytes(range(6))
    assert read_idx(io.BytesIO(data)).tolist() == np.arange(6).reshape(2, 3).tolist()
