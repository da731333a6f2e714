"""The page's words for the CLI's: messages are shared with the CLI, which names its flags
(`--model`); where they reach the browser page they name its fields ("Model") instead."""

from __future__ import annotations

import re

from ..features import OVERWRITE_FIX

# Whole phrases first (where a field reads differently from its flag), then any flag the page
# has a field for; flags it has none for (--root: how the server was started) stay.
PAGE_PHRASES = (
    (re.compile(r"drop --model or pass --model (\S+)"), r"choose Model \1 (or none)"),
    (re.compile(r", e\.g\. --model \S+ \(see 'samscape models list'\)"),
     ": choose Live Encoding and a Model"),
    (re.compile(r"a larger --stride"), "a smaller Overlap %"),
    (re.compile(r"give --range MIN,MAX with MIN < MAX"), "give a Range min below Range max"),
    (re.compile(re.escape(OVERWRITE_FIX)), "choose another Output folder"),
    (re.compile(r", or pass --out-crs \S+"), ""),
    (re.compile(r", and the CRS of their coordinates if it is another \(--crs\)"), ""),  # the page's own
    (re.compile(r" \(Load, or POST /api/sessions\)"), " (Load)"),
)
PAGE_FIELDS = {"model": "Model", "range": "Range min and max", "bands": "Bands",
               "resolution": "Resolution ×", "stride": "stride (Overlap %)",
               "extent": "extent (Draw extent)", "out": "Output folder"}
BODY_FIELDS = {"value_range": "Range min and max", "resolution_scale": "Resolution ×",
               "overlap": "Overlap %"}
FLAG = re.compile(r"(?<![\w/.-])--([a-z][a-z-]*)")


def page_words(message: str) -> str:
    """An error message on one line, in the page's words: its fields, not the CLI's flags."""
    text = " ".join(message.splitlines())
    for pattern, words in PAGE_PHRASES:
        text = pattern.sub(words, text)
    return FLAG.sub(lambda m: PAGE_FIELDS.get(m[1], m[0]), text)


def page_field(name: str) -> str | None:
    """The page's field for a request body's field `name` (None where the page has none)."""
    return BODY_FIELDS.get(name) or PAGE_FIELDS.get(name)


def shortened(text: str, keep: int = 100) -> str:
    """`text` for a one-line message: control characters escaped, cut after `keep` characters."""
    shown = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text[:keep])
    return shown if len(text) <= keep else f"{shown}… ({len(text)} characters)"
