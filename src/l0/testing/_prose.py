"""Realistic prose as stream tokens: test and benchmark text that is not a loop.

A repeating word cycle is what drift detection exists to catch, so benchmarks and
load tests need text that reads like an answer: `prose_chunks` makes it, deterministic
for a seed.
"""

from __future__ import annotations

import random

__all__ = ["prose_chunks"]

_WORDS = """
the a an this that these those each every some many several most other such any
data system model process result value method function service request response user
client server network cache queue table index record field file stream buffer token
output input error retry timeout signal event metric trace log report query schema
design pattern approach strategy option setting feature change update version release
team project plan goal task step stage phase cycle loop layer module package library
component interface boundary contract rule policy check test case example sample
question answer problem solution reason cause effect impact risk cost benefit trade
time latency throughput memory storage capacity limit budget resource thread worker
developer engineer operator reader writer customer partner vendor provider platform
document section chapter paragraph sentence word phrase note comment summary overview
run build deploy measure monitor observe analyse compare reduce increase improve keep
handle support provide require include describe explain define create remove replace
send receive store load parse validate transform filter merge split sort group count
start stop continue finish return accept reject allow prevent ensure avoid detect
is are was were be been has have had does do did can could should would will may
often usually rarely always never sometimes typically generally clearly simply
quickly slowly carefully directly easily safely fully partly mostly nearly
new old large small fast slow simple complex stable reliable robust careful clear
common rare early late first last next previous final main central local remote
important useful necessary possible difficult obvious specific general recent
in on at by for with from into over under between through during after before
and or but so because while although unless since when where which who how why
of to as than then also only even still just already again once
more less fewer much very quite rather enough too both either neither
their its our your his her them they we you he she it one two three four ten
"""
_VOCABULARY = _WORDS.split()

_CONNECTORS = ["However", "In practice", "For example", "As a rule", "In short", "Later"]


def prose_chunks(count: int, seed: int = 0) -> list[str]:
    """`count` stream tokens of realistic English-like prose, deterministic for a seed.

    Seeded random sentences (8 to 24 words from a few hundred-word vocabulary) with commas,
    the odd parenthesis or quoted word, paragraphs of 3 to 7 sentences, and now and then a
    short bullet list or a heading, as chat answers have. Tokens look like a BPE
    tokenizer's: a word with its leading space (long words in two pieces), punctuation on
    its own, newlines as tokens; about 5 to 6 characters on average. No sentence repeats.
    """
    rng = random.Random(seed)
    chunks: list[str] = []
    while len(chunks) < count:
        roll = rng.random()
        if roll < 0.06:
            chunks.extend(["##", *_words(rng, rng.randint(2, 5)), "\n\n"])
        elif roll < 0.16:
            for _ in range(rng.randint(2, 4)):
                chunks.extend(["-", *_sentence(rng)[:-1], "\n"])
            chunks.append("\n")
        else:
            for _ in range(rng.randint(3, 7)):
                chunks.extend(_sentence(rng))
            chunks.append("\n\n")
    # A line starts without the space a token carries inside a line.
    for i, chunk in enumerate(chunks):
        if chunk.startswith(" ") and (i == 0 or chunks[i - 1].endswith("\n")):
            chunks[i] = chunk[1:]
    return chunks[:count]


def _sentence(rng: random.Random) -> list[str]:
    tokens = _words(rng, rng.randint(8, 24))
    if rng.random() < 0.15:
        tokens[0] = tokens[0].lower()
        tokens[:0] = [f" {_CONNECTORS[rng.randrange(len(_CONNECTORS))]}", ","]
    tokens.append(rng.choice([".", ".", ".", ".", ".", "?", "!", ":"]))
    return tokens


def _words(rng: random.Random, count: int) -> list[str]:
    words = rng.choices(_VOCABULARY, k=count)
    words[0] = words[0].capitalize()
    tokens: list[str] = []
    for position, word in enumerate(words):
        if 1 < position < count - 1 and rng.random() < 0.03:
            tokens.extend([' "', word, '"'])
            continue
        tokens.extend(_pieces(" " + word, rng))
        if 2 < position < count - 2 and rng.random() < 0.08:
            tokens.append(rng.choice([",", ",", ",", ";", " (" + rng.choice(words) + ")"]))
    return tokens


def _pieces(word: str, rng: random.Random) -> list[str]:
    if len(word) <= 10:
        return [word]
    cut = rng.randint(4, len(word) - 3)
    return [word[:cut], word[cut:]]
