"""The golden digits: the small model's command, run afresh on the real data,
prints the perplexities of the committed results/small.log.

How exact that can be was measured: the first progress line (after 11
batches) is the same to the last digit on every processor tried; by the
second (243 batches) the rounding of the matrix products has grown into the
third decimal, and rounding depends on the processor's vector instructions,
which choose the product kernels. So the second line is exact against the
digits seen on each kind of processor, and elsewhere within 0.5%, with a
message that says by how much.
"""

import os
import sys

import pytest

from conftest import ROOT
import environment

sys.path.insert(0, os.path.join(ROOT, "scripts"))
import check_digits  # pylint: disable=g-import-not-at-top,wrong-import-position

SMALL_LOG = os.path.join(ROOT, "results", "small.log")
FIRST_LINE = ("0.004", "5482.851")
# The second line by the processor's widest vector instructions, as seen.
SECOND_LINE = {
    # The log's own: AMD EPYC cpu family 25 (Zen 4) and family 26 (Zen 5);
    # also Intel Xeons of cpu family 6, model 167 (2026-11-29) and model 207
    # (2026-12-06).
    "AVX-512": ("0.104", "843.368"),
    # AMD EPYC cpu family 25, model 1 (Zen 3), 2026-11-27.
    "AVX2": ("0.104", "844.492"),
}
ELSEWHERE = 5e-3  # relative, on a processor of another kind


def test_small_prints_the_committed_digits(ptb_path):
  flags, logged = check_digits.read_log(SMALL_LOG, 2)
  assert flags == ["--model", "small"]
  assert logged == [FIRST_LINE, SECOND_LINE["AVX-512"]]
  printed = check_digits.run_until(ROOT, flags, ptb_path, 2)
  assert printed[0] == FIRST_LINE, check_digits.differences(logged, printed)
  kind = environment.vector_instructions()
  if kind in SECOND_LINE:
    assert printed[1] == SECOND_LINE[kind], check_digits.differences(
        [SECOND_LINE[kind]], printed[1:], "an %s processor before" % kind)
  else:
    assert float(printed[1][1]) == pytest.approx(
        float(SECOND_LINE["AVX-512"][1]), rel=ELSEWHERE), (
            check_digits.differences(logged, printed),
            environment.processor())
