"""Texts the drift tests stream: ordinary ones, and a clear case of each drift type."""

from __future__ import annotations

import random
from types import MappingProxyType
from typing import Any

from l0.drift import DriftConfig, DriftDetector
from l0.events import ObservabilityEvent, ObservabilityEventType
from l0.telemetry.facade import Telemetry

T = ObservabilityEventType

PROSE = (
    "The history of the printing press is, in many ways, the history of modern Europe. "
    "Before Johannes Gutenberg introduced movable metal type in the middle of the "
    "fifteenth century, books were copied by hand, usually by monks working in "
    "scriptoria attached to monasteries. A single Bible could take a scribe more than "
    "a year to finish, and the cost of such a volume placed it far beyond the reach of "
    "ordinary people.\n\nGutenberg's innovation was not a single invention but a "
    "combination of several. He developed a hand mould that could cast uniform pieces "
    "of type quickly, an oil-based ink that adhered well to metal, and a press adapted "
    "from the screw presses used to make wine and olive oil. Together these made it "
    "possible to produce hundreds of identical pages in a day. Within fifty years, "
    "printing shops had opened in more than two hundred cities across the continent.\n"
    "\nThe consequences were profound. Scholars could compare identical copies of a "
    "text, which encouraged the careful correction of errors and the growth of a "
    "shared scientific literature. Reformers such as Martin Luther used pamphlets to "
    "spread their arguments far faster than the authorities could suppress them. "
    "Vernacular languages gained prestige as printers discovered that books in German, "
    "French, or English sold better than those in Latin.\n\nHistorians still debate "
    "how much credit the press deserves for these changes. Some argue that literacy "
    "was already rising and that printing merely accelerated existing trends. Others "
    "point out that the new technology also spread misinformation, sensational "
    "stories, and crude propaganda. What is clear is that the way knowledge was "
    "stored, shared, and challenged changed permanently, and that many of the debates "
    "we now have about the internet echo those of the sixteenth century.\n\nIn the "
    "centuries that followed, improvements in paper making, steam power, and "
    "eventually rotary presses lowered costs even further. Newspapers became a daily "
    "habit for millions of readers by the nineteenth century. Each of these steps "
    "built on the basic idea that a text could be reproduced exactly, cheaply, and at "
    "scale, an idea that still shapes how we think about information today.\n"
)

MARKDOWN = (
    "## Installing the tool\n\nFollow these steps to get started:\n\n1. Install the "
    "package:\n\n   ```bash\n   pip install example-tool\n   ```\n\n2. Create a "
    "configuration file:\n\n```yaml\nname: demo\nretries: 3\n```\n\n3. Run the command "
    "below and check the output.\n\n| Option | Default | Description |\n| ------ | "
    "------- | ----------- |\n| `--verbose` | `false` | Print more details |\n| "
    "`--retries` | `3` | How many times to retry \\| or give up |\n\n### Notes\n\n- "
    "The tool reads `$HOME/.config/example` first.\n- Prices are shown in dollars, "
    "e.g. $5 or $10 per month.\n- Inline math like $x^2 + y^2 = z^2$ is rendered by "
    "the docs site.\n\n```python\ndef main() -> None:\n    for i in range(3):\n        "
    'print(f"attempt {i}")\n    if True:\n        print("done { not json")\n```\n\n'
    "That is all you need. The rest of this guide explains each option in detail, "
    "including how the retry logic interacts with the timeout settings, and what "
    "happens when the network is unavailable.\n"
)

JSON_DOC = (
    '{\n  "users": [\n    {"id": 1, "name": "Alice Johnson", "email": '
    '"alice@example.com", "active": true, "bio": "Loves hiking, photography and '
    'long walks on the beach. She writes about {braces} and \\"quotes\\"."},\n    '
    '{"id": 2, "name": "Bob Smith", "email": "bob@example.com", "active": '
    'false, "bio": null},\n    {"id": 3, "name": "Chen Wei \u9648\u4f1f", '
    '"email": "chen@example.com", "active": true, "bio": '
    '"\u6570\u636e\u5de5\u7a0b\u5e08\uff0c\u559c\u6b22\u5f00\u6e90\u3002 '
    '\ud83d\ude80"}\n  ],\n  "meta": {"count": 3, "next": null, "tags": '
    '["a", "b", "c"], "nested": {"deep": [[1, 2], [3, 4]]}}\n}'
)

CODE = (
    "import asyncio\nfrom dataclasses import dataclass\n\n\n@dataclass\nclass Item:\n  "
    "  name: str\n    price: float\n\n\nasync def fetch(items: list[Item]) -> "
    'dict[str, float]:\n    """Return the prices keyed by name."""\n    result: '
    "dict[str, float] = {}\n    for item in items:\n        await asyncio.sleep(0)\n   "
    "     result[item.name] = item.price\n    return result\n\n\nif __name__ == "
    '"__main__":\n    data = [Item("a", 1.0), Item("b", 2.5), Item("c", '
    "3.75)]\n    print(asyncio.run(fetch(data)))\n"
)


GIBBERISH = "".join(
    random.Random(0).choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/=%$#@")
    for _ in range(600)
)

POSITIVES = {
    "repetition": PROSE[:1500] + "I will keep going with this. " * 40,
    "tone_shift": PROSE[:1500]
    + "lol ok so yeah this is gonna be super cool dude!!! totally awesome stuff, kinda wild. " * 12,
    "meta_commentary": PROSE[:600] + " As an AI language model, I cannot say.",
    "hedging": PROSE[:1500]
    + "Perhaps it might be the case, I think, that maybe it is possibly true, probably. " * 12,
    "entropy_spike": PROSE[:1500] + GIBBERISH,
    "markdown_collapse": MARKDOWN[:900]
    + "\n\nNext steps: - **Install** the package and verify it. ## Usage - **Run** the "
    "command. 1. **Check** the logs. ### Notes the output is shown here without breaks " * 8,
    "format_drift": '{"name": "Alice", "tags": ["a", "b"], "active": true}\n\nI hope this '
    "helps! The data above describes the user, and you can extend it with more fields.",
}

NEGATIVES = {
    "prose": PROSE,
    "markdown": MARKDOWN,
    "json": JSON_DOC,
    "code": CODE,
    "mixed": PROSE + MARKDOWN + CODE,
}


class Sink:
    def __init__(self) -> None:
        self.events: list[ObservabilityEvent] = []

    def handle(self, event: ObservabilityEvent) -> None:
        self.events.append(event)


def telemetry(detailed: bool = False) -> tuple[Telemetry, Sink]:
    sink = Sink()
    empty: MappingProxyType[str, Any] = MappingProxyType({})
    return Telemetry("session", empty, empty, [sink], detailed), sink


def run(text: str, step: int = 7, config: DriftConfig | None = None) -> list[str]:
    """Every drift type detected while streaming `text` in `step`-sized deltas."""
    detector = DriftDetector(config)
    found: list[str] = []
    for i in range(0, len(text), step):
        found += detector.check(text[i : i + step]).types
    found += detector.check("", completed=True).types
    return found


def long_sentences(seed: int, *tails: int) -> str:
    """Sentences with the same first 500 characters (all a unit's key keeps), then tails
    of these many words (all different)."""
    rng = random.Random(seed)

    def words(n: int) -> str:
        return " ".join("".join(rng.choices("bcdfghjklmnpqrstvwxz", k=6)) for _ in range(n))

    opening = words(80)
    return PROSE[:700] + "\n" + "".join(f"{opening} {words(n)}.\n" for n in tails) + PROSE[700:1500]
