"""The deterministic intent rules: keyword and regex patterns over the lower-cased request.

`classify` returns the intent the rules are sure of, or None when they are silent (then embedding
similarity, or the default, decides). Order matters: injection, account memory and price alerts
("cancel my alert" is not an order cancellation), cart, orders, price history, comparison, reviews,
general advice, out of scope.

Actions are guarded here: a cart action (or an alert) is planned only when the shopper's own words ask to add or
remove a product and the product resolves from the page or the conversation (`cart_request`).
Requests that try to steer the assistant ("ignore your instructions ...") never become actions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.alerts.phrases import parse_alert_request
from pipeline.memory.preferences import KEYS, forget_keys, stated
from pipeline.planner import intents as I
from pipeline.planner.history import Context, refers_to_one

MAX_CART_QUANTITY = 5
"""Most units one planned cart action may add; larger requests are capped to this."""

_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass)\b[^.?!]{0,40}\b(?:instructions?|rules|prompt|guidelines|"
    r"previous|above|system)\b|\bsystem prompt\b|\byou are now\b|\bdeveloper mode\b|\bjailbreak\b|"
    r"\bact as (?:an?|the) (?:admin|system|developer)\b|\bnew instructions\b"
)
_CART_WORD = r"(?:cart|basket|bag|trolley)"
_CART_ADD = re.compile(rf"\b(?:add|put|place|throw|drop|stick)\b.{{0,60}}\b(?:to|in|into)\s+(?:my|the)\s+{_CART_WORD}\b|\badd (?:it|this|that|them|these|both)\b|\badd to {_CART_WORD}\b")
_CART_REMOVE = re.compile(rf"\b(?:remove|delete|take)\b.{{0,60}}\b(?:from|out of)\s+(?:my|the)\s+{_CART_WORD}\b")
_CART_VIEW = re.compile(rf"\b(?:what'?s|what is|show|view|see|check|open)\b.{{0,20}}\b(?:in )?my {_CART_WORD}\b|^my {_CART_WORD}\b")
_CART_ANY = re.compile(rf"\bmy {_CART_WORD}\b|\b{_CART_WORD}\b.*\b(?:add|remove)\b")
# "Should I add it to my cart?" asks for advice; only a request or an instruction acts.
# "Can you add it?" is a polite instruction, so only the shopper's or the product's subject counts.
_QUESTION_ONLY = re.compile(r"^\s*(?:should|can|could|would|is|does|do|will)\s+(?:i|it|we)\b")
_ALERT_LIST = re.compile(r"\b(?:list|show|see|view|what are|which|do i have(?: any)?)\b.{0,20}\b(?:price )?alerts\b|^my (?:price )?alerts\b|\bmy auto-?buys?\b")
_ALERT_CANCEL = re.compile(r"\b(?:cancel|delete|remove|stop|turn off|disable)\b.{0,30}\b(?:price )?(?:alerts?|auto-?buys?|watching)\b")
_MEMORY_VIEW = re.compile(
    r"\bwhat (?:do|did|else do) you (?:remember|know|recall|have saved|keep) (?:about|on) me\b|\bwhat have you (?:remembered|saved|stored|learned) about me\b"
    r"|\b(?:show|list|see) (?:me )?(?:my (?:saved )?preferences|what you (?:remember|know) about me)\b|\bwhat do you know about me\b"
)
_MEMORY_FORGET = re.compile(
    r"\b(?:forget|delete|erase|clear|wipe|remove)\b.{0,30}\b(?:about me|everything|my (?:data|memory|preferences|budget|size|brand|pets?|hobbies|household|kids|dog|cat|diet|allerg(?:y|ies)|home))\b"
    r"|\bforget (?:that|my)\b|\bdon'?t remember (?:that|my)\b"
)
_ORDER = re.compile(
    r"\b(?:my|an|the|last|recent)\s+(?:\w+\s+)?(?:order|orders|package|parcel|delivery|shipment|purchase)\b"
    r"|\btrack (?:my|the|an|this) (?:order|package|parcel|delivery|shipment)\b|\btracking (?:number|info|link)\b|\bstatus of my\b"
    r"|\bwhere is my\b|\brefund\b|\bcancel (?:my|the|an) |\breturn (?:my|the|this|it|an?)\b|\border (?:status|#|number)"
    r"|\bhas (?:it|my \w+) shipped\b|\bwhen will (?:it|my \w+) (?:arrive|come|be delivered)\b"
)
_ORDER_ID = re.compile(r"\border\s*(?:#|number|no\.?|id)?\s*#?\s*([a-z0-9-]*\d[a-z0-9-]{3,})\b")
_PRICE_HISTORY = re.compile(
    r"\bprice (?:history|drop|dropped|trend|chart|tracker|changes?|went|go(?:es)? down|fell)\b|\blowest price\b"
    r"|\bgood (?:deal|price)\b|\bgreat deal\b|\bon sale\b|\bdiscounts?\b|\bdeals?\b|\bcoupons?\b|\bhistorical\b"
    r"|\bprice\b.{0,20}\b(?:dropped|drop|went down|gone down|fallen|changed)\b"
    r"|\b(?:was|been) (?:cheaper|more expensive)\b|\bprice (?:ever )?(?:lower|higher)\b|\bwait for (?:a|the) (?:sale|price)"
    r"|\bbest time to buy\b|\bprime day\b|\bblack friday\b"
)
_COMPARISON = re.compile(
    r"\bcompar(?:e|ed|ing|ison)\b|\bversus\b|\bvs\.?\b|\bdifference(?:s)? between\b|\bhow (?:does|do) .{1,60} differ\b"
    r"|\bbetter than\b|\bwhich (?:one|of them|of these|of the two|of those)\b"
)
# "which is ..." and "side by side" compare only when several products are in play.
_COMPARISON_WEAK = re.compile(r"\bwhich (?:is|are|has|would|should)\b|\bside by side\b|\bor the\b")
_REVIEWS = re.compile(
    r"\breviews?\b|\breviewers?\b|\b(?:customers|people|buyers|users|owners) (?:say|think|said|like|complain|report)"
    r"|\b(?:customers|people|buyers|users|owners|reviewers) (?:\w+ )?(?:rate|regret|happy|satisfied|love|hate|recommend)"
    r"|\bcomplain(?:t|ts|ing)?\b|\bpros and cons\b|\bfeedback\b|\bopinions?\b|\bwhat do (?:people|others|folks)\b"
    r"|\bratings?\b|\bstar rating\b|\bsentiment\b|\bhow (?:is|are) (?:it|this|they) rated\b"
)
_ADVICE = re.compile(
    r"^(?:how (?:do|should|can|would) (?:i|you|we|one) (?:choose|pick|select|decide|know|tell|find the right)\b"
    r"|what (?:should|do) i (?:look|consider|know)\b|tips (?:for|on)\b|how to (?:choose|pick|select|decide|buy|shop)\b"
    r"|what(?:'s| is) the difference between (?:a |an )?\w+ and (?:a |an )?\w+ (?:in general|generally)"
    r"|what (?:size|kind|type) of .{1,40} (?:do|should) i\b|is it worth (?:buying|getting) (?:a|an)\b"
    r"|guide to\b|what to look for\b)"
)
_OUT_OF_SCOPE = re.compile(
    r"\bweather\b|\btell me a joke\b|\bjoke\b|\bpoem\b|\belection\b|\bpresident\b|\bpolitic|\bhomework\b"
    r"|\bwrite (?:a|an|some|me a) (?:\w+ )?(?:code|program|script|essay|story|poem|function|song)\b|\bcapital of\b"
    r"|\bmeaning of life\b|\bbitcoin price\b|\bstock price\b|\bsports? scores?\b|\bwho won\b|\bsolve (?:this|for)\b"
    r"|\btranslate\b|\bwhat time is it\b|\bhoroscope\b|\bfootball\b|\bnews\b|\bsing\b"
)
_SEARCH = re.compile(
    r"^(?:show me|find me|find|search(?: for)?|look(?:ing)? for|i(?:'m| am) looking for|i need|i want|recommend"
    r"|suggest|can you (?:recommend|suggest|find)|any good|what are (?:some|the best|good)|best|top \d+|gifts? for)\b"
    r"|\brecommend|\bsuggest|\balternatives?\b|\bsimilar (?:products|items|ones)\b|\bcheaper (?:ones|options|version)\b"
)
_SHOPPING = re.compile(
    r"\b(?:buy|price|cost|cart|order|product|recommend|shop|shopping|deal|gift|brand|model|size|item|sell|store)\b|\$"
)
# Only a number the verb governs counts ("add 2 of these"), not one in the product's name ("32 oz").
_QUANTITY = re.compile(
    r"\b(?:add|put|place|throw|drop|stick|buy)\s+(?:another\s+)?(\d{1,6}|a couple|one|two|three|four|five|six|ten"
    r"|a dozen|dozen)\b|\bquantity (?:of )?(\d{1,6})\b|\b(\d{1,6})\s*(?:x\b|of (?:these|those|them|it|this)|units?\b|pcs\b|pieces\b)"
)
MAX_STATEMENT_REST_WORDS = 2
"""Words besides the statement that a bare preference statement may hold after it ("I always go with
Bosch for tools": "tools"); more, or any before it ("a cage for my hamster"), and the turn is
planned as a request."""
_WORD = re.compile(r"[a-z0-9$']+")
_FILLER = frozenset(
    "a an the and but so also just really very too please thanks thank you fyi btw by way for record reference future "
    "remember note that i i'm me my we we're our us it it's is are am be to of in on at with here now these days lately "
    "usually always mostly generally pretty much lot bit all everything things stuff most time times every day days night "
    "nights week weeks weekend weekends month months year years summer winter ok okay oh hey hi keep mind know".split()
)
_CHUNK = re.compile(r"[,;.!:\n]|\b(?:and|so|but|because|then|also)\b")
_WANTS = re.compile(r"\b(?:need|needs|want|wants|looking|show|find|get|buy|recommend|suggest|help|search|any|ideas?|options?"
                    r"|something)\b")
"""Words that ask for something: beside a statement, they make the turn a request."""
_WORD_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "ten": 10, "dozen": 12, "a dozen": 12,
                 "a couple": 2}


@dataclass(frozen=True)
class CartRequest:
    action: str
    """add | remove | view"""
    product_id: str | None = None
    quantity: int = 1
    capped: bool = False
    """The shopper asked for more than MAX_CART_QUANTITY."""


@dataclass(frozen=True)
class AccountRequest:
    """A price-alert or account-memory request (intents price_alert and account_memory)."""

    action: str
    """alerts: set | list | cancel; memory: view | forget | remember"""
    product_id: str | None = None
    """alerts set/cancel: the product the request points at (None: cancel all, or ask which)."""
    keys: tuple[str, ...] = ()
    """memory forget: the preference keys named; remember: the keys the statement sets
    (pipeline/memory/preferences.py KEYS)."""


@dataclass(frozen=True)
class Verdict:
    intent: str | None
    """None: the rules are silent."""
    reason: str
    cart: CartRequest | None = None
    injection: bool = False
    account: AccountRequest | None = None


def looks_like_injection(lowered: str) -> bool:
    return _INJECTION.search(lowered) is not None


def cart_request(lowered: str, context: Context) -> CartRequest | None:
    """The cart action the shopper's own words ask for, or None.

    Add and remove need exactly one resolved product (the page's, or one the conversation showed and
    the request points at); quantities above MAX_CART_QUANTITY are capped. Viewing the cart changes
    nothing, so it needs no product. Injected text never yields an action.
    """
    if looks_like_injection(lowered):
        return None
    if _QUESTION_ONLY.search(lowered):
        return None
    if _CART_VIEW.search(lowered) and not (_CART_ADD.search(lowered) or _CART_REMOVE.search(lowered)):
        return CartRequest("view")
    action = "remove" if _CART_REMOVE.search(lowered) else "add" if _CART_ADD.search(lowered) else None
    if action is None or len(context.resolved) != 1:
        return None
    quantity = _quantity(lowered) if action == "add" else 1
    return CartRequest(action, context.resolved[0], min(quantity, MAX_CART_QUANTITY), quantity > MAX_CART_QUANTITY)


def classify(lowered: str, context: Context) -> Verdict:
    """The intent of a lower-cased request, or a silent verdict (intent None)."""
    if looks_like_injection(lowered):
        # Whatever else it says, an injected request gets no action; a bare attempt gets no plan.
        wants_action = (_CART_ADD.search(lowered) or _CART_REMOVE.search(lowered) or _CART_ANY.search(lowered)
                        or parse_alert_request(lowered) or _ALERT_CANCEL.search(lowered))
        if wants_action or not _SHOPPING.search(lowered):
            return Verdict(I.OUT_OF_SCOPE, "instructions to the assistant, not a shopping request", injection=True)
        verdict = _classify_plain(lowered, context)
        if verdict.intent in (I.CART_ACTION, I.PRICE_ALERT, I.ACCOUNT_MEMORY):
            return Verdict(I.OUT_OF_SCOPE, "instructions to the assistant, not a shopping request", injection=True)
        return Verdict(verdict.intent, verdict.reason, injection=True)
    return _classify_plain(lowered, context)


def account_request(lowered: str, context: Context) -> Verdict | None:
    """A price-alert or memory verdict, or None. Alerts are set on one resolved product only."""
    if _MEMORY_VIEW.search(lowered):
        return Verdict(I.ACCOUNT_MEMORY, "memory view", account=AccountRequest("view"))
    if _MEMORY_FORGET.search(lowered):
        return Verdict(I.ACCOUNT_MEMORY, "memory forget", account=AccountRequest("forget", keys=forget_keys(lowered)))
    product = context.resolved[0] if len(context.resolved) == 1 else None
    if _ALERT_CANCEL.search(lowered):
        return Verdict(I.PRICE_ALERT, "alert cancel", account=AccountRequest("cancel", product))
    if _ALERT_LIST.search(lowered):
        return Verdict(I.PRICE_ALERT, "alert list", account=AccountRequest("list"))
    if parse_alert_request(lowered) is not None and not _QUESTION_ONLY.search(lowered):
        return Verdict(I.PRICE_ALERT, "alert set", account=AccountRequest("set", product))
    return None


def preference_statement(text: str) -> Verdict | None:
    """An account-memory verdict (action remember) when `text`, in its own case, does nothing but state
    preferences: "my budget is usually under $30", "I'm vegetarian", "I always go with Bosch for
    tools". None when it also asks or searches ("I'm vegetarian, what protein powder do you
    recommend?", "we have a small apartment so I need a compact vacuum", "a cage for my hamster"):
    that turn is planned as usual and the memory still learns from it. The caller checks the rest (no product on the page, no
    action, no instructions)."""
    preferences, spans = stated(text)
    if not preferences:
        return None
    rest = list(text.lower())
    for start, end in spans:
        rest[start:end] = " " * (end - start)
    left = "".join(rest)
    words = [w for w in _WORD.findall(left) if w not in _FILLER]
    lead = [w for w in _WORD.findall(left[:min(start for start, _ in spans)]) if w not in _FILLER]
    chunks = [c.strip() for c in _CHUNK.split(left)]
    if ("?" in left or lead or len(words) > MAX_STATEMENT_REST_WORDS or _WANTS.search(left)
            or any(_SEARCH.search(c) or _QUESTION_ONLY.search(c) for c in chunks)):
        return None
    keys = tuple(key for key in KEYS if key in preferences)
    return Verdict(I.ACCOUNT_MEMORY, "preference statement", account=AccountRequest("remember", keys=keys))


def _classify_plain(lowered: str, context: Context) -> Verdict:
    account = account_request(lowered, context)
    if account is not None:
        return account
    cart = cart_request(lowered, context)
    if cart is not None:
        return Verdict(I.CART_ACTION, f"cart {cart.action}", cart=cart)
    if _CART_ADD.search(lowered) or _CART_REMOVE.search(lowered) or _CART_ANY.search(lowered):
        if context.resolved and _QUESTION_ONLY.search(lowered):
            return Verdict(I.PRODUCT_QUESTION, "a question about buying it, not an instruction")
        # A cart request whose product does not resolve: find the product instead of guessing one.
        return Verdict(I.PRODUCT_SEARCH, "cart request without one resolvable product: search instead")
    if _ORDER.search(lowered):
        return Verdict(I.ORDER_STATUS, "order words")
    if _PRICE_HISTORY.search(lowered):
        return Verdict(I.PRICE_HISTORY, "price-history or deal words")
    several = len(context.resolved) > 1
    strong = _COMPARISON.search(lowered) and (several or not _ADVICE.search(lowered))
    if strong or (several and _COMPARISON_WEAK.search(lowered)):
        return Verdict(I.COMPARISON, "comparison words")
    if _REVIEWS.search(lowered) and not _is_filter_only_rating(lowered, context):
        return Verdict(I.REVIEW_SUMMARY, "review words")
    if _ADVICE.search(lowered):
        return Verdict(I.GENERAL_ADVICE, "advice phrasing")
    if _OUT_OF_SCOPE.search(lowered) and not _SHOPPING.search(lowered) and not context.page_product_id:
        return Verdict(I.OUT_OF_SCOPE, "not a shopping topic")
    if _SEARCH.search(lowered) and (context.how == "none" or (context.how == "page" and not refers_to_one(lowered))):
        return Verdict(I.PRODUCT_SEARCH, "search phrasing")
    return Verdict(None, "no rule matched")


def order_id(lowered: str) -> str | None:
    """An order number the request names ("order #A-12345"), if any."""
    match = _ORDER_ID.search(lowered)
    return match.group(1) if match else None


def _is_filter_only_rating(lowered: str, context: Context) -> bool:
    """"headphones with good reviews" is a search filter, not a request for a review summary."""
    if context.resolved:
        return False
    return re.search(r"\b(?:with|good|great|best|positive|high|top)\s+(?:reviews?|ratings?)\b", lowered) is not None


def _quantity(lowered: str) -> int:
    match = _QUANTITY.search(lowered)
    if match is None:
        return 1
    raw = next(g for g in match.groups() if g)
    return _WORD_NUMBERS[raw] if raw in _WORD_NUMBERS else max(1, int(raw))
