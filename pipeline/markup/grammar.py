"""The markup v1 as a generation grammar, with the product-id slots limited to the turn's evidence.

`build_gbnf(allowed_ids)` returns a GBNF/EBNF grammar (the dialect xgrammar and llama.cpp read) for
a whole answer: free text without '<', and directives written in their canonical form (fixed attribute
order, single spaces, self-closing). vLLM takes it as a structured-outputs grammar, e.g. the request
body field `"structured_outputs": {"grammar": build_gbnf(ids)}` with the xgrammar backend (see
../shared/notes/vllm-cpu.md for the server flag). A model constrained by it cannot name a product
outside `allowed_ids`; hydrate's grounding guard still checks, since unconstrained models exist.

`build_lark(allowed_ids)` is the same grammar translated to Lark (start rule `root`), for backends
that take Lark and for tests. The parser (parser.py) accepts more than this grammar generates:
attribute order, quoting and spacing are free there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_ID_OK = re.compile(r"[^\s\"'<>,|\\]+")

_TEXT_RULES = r"""
root ::= segment*
segment ::= text | directive
text ::= [^<]+
suggest ::= "<suggest>" question ("|" question)? ("|" question)? "</suggest>"
question ::= [^|<>"\n]+
"""

_ID_RULES = r"""
product ::= "<product id=\"" pid "\"/>"
carousel ::= "<carousel ids=\"" pid ("," pid ("," pid ("," pid ("," pid)?)?)?)? "\"/>"
compare ::= "<compare ids=\"" pid "," pid ("," pid ("," pid)?)? "\"" compare-attrs? "/>"
compare-attrs ::= " attrs=\"" attr-name ("," attr-name)* "\""
attr-name ::= [a-z0-9 ]+
reviews ::= "<reviews id=\"" pid "\"/>"
price-history ::= "<price-history id=\"" pid "\"/>"
action ::= add-to-cart | price-alert
add-to-cart ::= "<action type=\"add_to_cart\" id=\"" pid "\"/>"
price-alert ::= "<action type=\"price_alert\" id=\"" pid "\" below=\"" amount "\"/>"
amount ::= [0-9]+ ("." [0-9] [0-9])?
link ::= "<link id=\"" pid "\">" link-text "</link>"
link-text ::= [^<\n]+
"""
# Id lists are bounded (a carousel 1-5 ids, a comparison 2-4): unbounded, a small model repeats ids
# until the token limit (docs/eval/quality.md), and hydrate shows at most MAX_CAROUSEL and
# MAX_COMPARE_PRODUCTS anyway.


def usable_ids(allowed_ids: Iterable[str]) -> list[str]:
    """The ids that can appear in markup (no spaces, quotes, '<', '>', ',', '|'), sorted, once each."""
    return sorted({pid for pid in allowed_ids if _ID_OK.fullmatch(pid)})


def build_gbnf(allowed_ids: Iterable[str]) -> str:
    """The v1 grammar in GBNF with `pid` limited to `allowed_ids`.

    With no usable id, only text and `<suggest>` remain: the model can still answer, but cannot show
    a product. Ids that cannot be written in markup are left out (see `usable_ids`).
    """
    ids = usable_ids(allowed_ids)
    directives = ["suggest"]
    rules = _TEXT_RULES
    if ids:
        directives = ["product", "carousel", "compare", "reviews", "price-history", "action", "link",
                      "suggest"]
        rules += _ID_RULES + "pid ::= " + " | ".join(_literal(pid) for pid in ids) + "\n"
    rules += "directive ::= " + " | ".join(directives) + "\n"
    return rules.strip() + "\n"


def build_lark(allowed_ids: Iterable[str]) -> str:
    """`build_gbnf` translated to Lark: rule names with '_' for '-', character classes as regexps."""
    return gbnf_to_lark(build_gbnf(allowed_ids))


def gbnf_to_lark(gbnf: str) -> str:
    """Translate the GBNF subset used here (literals, classes, ?, *, +, |, groups) to Lark."""
    out: list[str] = []
    i = 0
    while i < len(gbnf):
        ch = gbnf[i]
        if ch == '"':
            end = i + 1
            while gbnf[end] != '"':
                end += 2 if gbnf[end] == "\\" else 1
            out.append(gbnf[i : end + 1])
            i = end + 1
        elif ch == "[":
            end = gbnf.index("]", i + 2)  # a class is never empty, so ']' right after '[' is literal
            quantifier = gbnf[end + 1] if end + 1 < len(gbnf) and gbnf[end + 1] in "+*" else ""
            out.append("/" + gbnf[i : end + 1].replace("/", "\\/") + quantifier + "/")
            i = end + 1 + len(quantifier)
        elif gbnf.startswith("::=", i):
            out.append(":")
            i += 3
        elif ch.isalpha():
            end = i
            while end < len(gbnf) and (gbnf[end].isalnum() or gbnf[end] == "-"):
                end += 1
            out.append(gbnf[i:end].replace("-", "_"))
            i = end
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
