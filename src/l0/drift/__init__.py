"""Drift detection: notice when a model's output stops looking like what it was producing.

The detector is fed the output delta by delta and keeps only a sliding window of recent
text (`DriftConfig.window` characters, default 2000), cut into fixed blocks of
`window / blocks` characters by absolute offset. Deltas wait until three blocks are
complete (or the output is), then the text pending is judged at once: a few C-level
calls over more text cost less than many small ones. A check in between only appends its
delta.

Judging has two levels. The screen (`screen.Screen`) follows every block cheaply (words,
line markers, running totals, a 4-gram history, sentence keys once a 4-gram repeats) and
bounds each detector over the windows ending in the new blocks, running the engine's own
test where that is cheap (the entropy gate, then the entropies of the blocks concerned); on
ordinary text it says no and nothing else runs. Otherwise the engine (`engine.Engine`:
exact per-block statistics, running totals in `window.Window`) is replayed over the last
window, started where the screen says it began (carried word, last words, sentence in
progress: exactly as if it had run all along), judges each block, and stays on for a few
quiet batches. The screen never says no where the engine would detect, so the verdicts are
the engine's; because blocks are fixed by offset they do not depend on the chunking. The
screen costs a third of what the engine would on prose. Per check the cost is O(delta)
amortised; the full output is never touched.

Detectors (all simple, deterministic heuristics; each can be switched off):

- `repetition`: the share of repeated 4-grams of words and numbers in the window (numbers
  count, so "item 1, item 2, ..." is not a loop), or one sentence repeated
  `sentence_repeat_threshold` times (a model looping).
- `tone_shift`: informal words, exclamation marks and emoji per word, or all-caps words per
  word, differ between the older and the newer half of the window.
- `meta_commentary`: "as an AI", "I apologize", "I cannot help"... looked for in all the
  text pending when blocks are judged (bounded tail matcher, phrases split across deltas
  and batches included): found up to a batch after the phrase ends.
- `hedging`: hedges ("perhaps", "might", "I think", "it's possible"...) per word in the window.
- `entropy_spike`: character entropy of the newest block against the mean of the earlier
  blocks; gibberish rises, collapse onto one token falls. Only judged for a block whose
  make-up changed (`measures.make_up_changed`: share of a-z/space/newline bytes, word
  count).
- `markdown_collapse`: the older half had line-start markdown (headings, lists, tables,
  fences), the newer half has none but shows the same markers run into the text.
- `format_drift`: the output started as a JSON document (first character `{` or `[`) and a
  block has prose (letters outside JSON strings).

Each drift type is reported once per attempt; `reset` starts a new attempt.

Modules: `types` (configuration and results), `lexicon` (the words and phrases looked
for), `measures` (what is measured in a text), `units` (sentences as the screen keys them),
`window` (blocks and running totals), `engine`, `screen`, and `detector`, which feeds them.
"""

from __future__ import annotations

from .detector import DriftDetector
from .types import DRIFT_TYPES, DriftConfig, DriftResult

__all__ = ["DRIFT_TYPES", "DriftConfig", "DriftDetector", "DriftResult"]
