import dataclasses
import asyncio
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from pipeline.config import Settings
from pipeline.errors import DependencyError
from pipeline.llm.client import ChatMessage, Grammar, StreamChunk
from pipeline.messages import EvidenceBundle, EvidenceItem, Plan, TokenChunk, UserTurn
from pipeline.stages.generate import GenerateStage


class FakeLlm:
    """Streams the given pieces with a delay between them; optionally fails after some."""

    def __init__(self, pieces: list[str], delay_s: float = 0.0, fail_after: int | None = None) -> None:
        self.pieces, self.delay_s, self.fail_after = pieces, delay_s, fail_after
        self.requests: list[dict[str, Any]] = []

    async def stream_chat(self, messages: Sequence[ChatMessage], **options: Any) -> AsyncGenerator[StreamChunk, None]:
        self.requests.append(options)
        for n, piece in enumerate(self.pieces):
            if self.fail_after is not None and n == self.fail_after:
                raise DependencyError("server went away")
            await asyncio.sleep(self.delay_s)
            yield StreamChunk(text=piece)
        if self.fail_after is not None and self.fail_after >= len(self.pieces):
            raise DependencyError("server went away")

    async def aclose(self) -> None: ...


def evidence(text: str = "is it quiet?") -> EvidenceBundle:
    plan = Plan("c1", 0, 0, UserTurn("c1", 0, 0, "u", text), "product_question", [])
    return EvidenceBundle("c1", 0, 0, plan, [EvidenceItem("review", "very quiet", 0.8, "B0AAAAAAAA")])


async def run(stage: GenerateStage, bundle: EvidenceBundle) -> list[TokenChunk]:
    return [output.value async for output in stage.process(bundle)]


async def test_chunks_carry_contiguous_seq_and_offsets_and_a_final_marker() -> None:
    llm = FakeLlm(["It ", "is ", "very ", "quiet. ", '<product id="B0AAAAAAAA"/>'])
    stage = GenerateStage(Settings(), client=llm)  # type: ignore[arg-type]
    chunks = await run(stage, evidence())
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    assert "".join(c.text for c in chunks) == ('It is very quiet. <product id="B0AAAAAAAA"/> '
                                              "Source: a customer's review.")
    assert all(c.offset == sum(len(p.text) for p in chunks[: c.seq]) for c in chunks)
    assert chunks[-1].final and not any(c.final for c in chunks[:-1])
    assert all(c.grounded_product_ids == ["B0AAAAAAAA"] for c in chunks)
    request = llm.requests[0]
    assert request["temperature"] == 0.0 and isinstance(request["constraint"], Grammar)
    assert "B0AAAAAAAA" in request["constraint"].ebnf


class GatedLlm(FakeLlm):
    """Streams one sentence, then waits for the test to have seen it before streaming the rest."""

    def __init__(self) -> None:
        super().__init__([])
        self.gate = asyncio.Event()

    async def stream_chat(self, messages: Sequence[ChatMessage], **options: Any) -> AsyncGenerator[StreamChunk, None]:
        yield StreamChunk(text="Very quiet. ")
        await self.gate.wait()
        yield StreamChunk(text="It is quiet at night.")


async def test_a_finished_sentence_is_sent_while_the_model_is_still_writing() -> None:
    # The model writes no more until the test has received the first sentence: it must go out the
    # moment the guard has judged it, with no batching of tokens in between.
    llm = GatedLlm()
    stage = GenerateStage(Settings(), client=llm)  # type: ignore[arg-type]
    texts: list[str] = []

    async def consume() -> None:
        async for output in stage.process(evidence()):
            texts.append(output.value.text)
            llm.gate.set()

    await asyncio.wait_for(consume(), timeout=10)
    assert texts[:2] == ["Very quiet.", " It is quiet at night."]


async def test_llm_failure_gives_a_degraded_answer_and_an_error() -> None:
    llm = FakeLlm(["Partial ", "answer"], fail_after=1)
    stage = GenerateStage(Settings(), client=llm)  # type: ignore[arg-type]
    chunks = await run(stage, evidence())
    text = "".join(c.text for c in chunks)
    # The unfinished sentence was never judged, so it is not shown.
    assert text.startswith("Sorry, the answer model is not available")
    assert '<product id="B0AAAAAAAA"/>' in text
    assert chunks[-1].final and chunks[-1].error is not None and "server went away" in chunks[-1].error


async def test_an_empty_question_is_answered_without_the_model() -> None:
    llm = FakeLlm(["never"])
    chunks = await run(GenerateStage(Settings(), client=llm), evidence("   "))  # type: ignore[arg-type]
    assert len(chunks) == 1 and chunks[0].final and "Please type a question" in chunks[0].text
    assert llm.requests == []


async def test_an_action_outcome_is_stated_without_the_model() -> None:
    llm = FakeLlm(["never"])
    plan = Plan("c1", 0, 0, UserTurn("c1", 0, 0, "u", "add it to my cart"), "cart_action", [])
    outcome = EvidenceItem("action", "Added 1 × Kettle to your cart. <b>", 1.0, "B0AAAAAAAA")
    chunks = await run(GenerateStage(Settings(), client=llm), EvidenceBundle("c1", 0, 0, plan, [outcome]))  # type: ignore[arg-type]
    text = "".join(c.text for c in chunks)
    assert text == 'Added 1 × Kettle to your cart. b <product id="B0AAAAAAAA"/>', "evidence brackets never become markup"
    assert llm.requests == [] and chunks[-1].final and chunks[0].model == "direct"
    assert "prompt_version" not in chunks[-1].context


async def test_a_price_history_answer_leads_with_the_chart_and_the_stored_lows() -> None:
    llm = FakeLlm(["The lowest price in 90 days was $30.00."])
    plan = Plan("c1", 0, 0, UserTurn("c1", 0, 0, "u", "has this been cheaper?"), "price_history", [])
    history = EvidenceItem("price_history", "price history (simulated): now $40.00; lowest in 30 days $35.00 on "
                           "2025-06-01; lowest in 90 days $30.00 on 2025-04-01", 1.0, "B0AAAAAAAA")
    chunks = await run(GenerateStage(Settings(), client=llm), EvidenceBundle("c1", 0, 0, plan, [history]))  # type: ignore[arg-type]
    text = "".join(c.text for c in chunks)
    assert text.startswith('<price-history id="B0AAAAAAAA"/> Price history (simulated): now $40.00; lowest in 30 days $35.00')
    assert text.endswith("The lowest price in 90 days was $30.00.") and chunks[-1].context["prompt_version"]
    assert chunks[0].model == "direct" and chunks[1].model != "direct", "the system's words are told from the model's"


async def test_an_answer_of_only_markup_is_followed_by_the_evidence() -> None:
    llm = FakeLlm(['<suggest>Is it big?|Is it red?</suggest>', " "])
    chunks = await run(GenerateStage(Settings(), client=llm), evidence())  # type: ignore[arg-type]
    assert "".join(c.text for c in chunks) == "<suggest>Is it big?|Is it red?</suggest> A customer says that very quiet."
    assert chunks[-1].final and chunks[-1].error is None and chunks[-2].model == "direct"
    # A turn that states no evidence (a search) falls back to the degraded answer instead.
    search = dataclasses.replace(evidence(), plan=dataclasses.replace(evidence().plan, intent="product_search"))
    chunks = await run(GenerateStage(Settings(), client=FakeLlm(['<suggest>Is it big?</suggest>'])), search)  # type: ignore[arg-type]
    assert "I could not put an answer into words" in "".join(c.text for c in chunks)
    llm = FakeLlm(["It is quiet."])
    assert "could not" not in "".join(c.text for c in await run(GenerateStage(Settings(), client=llm), evidence()))  # type: ignore[arg-type]


async def test_an_answer_cut_inside_a_directive_is_closed_before_the_evidence() -> None:
    llm = FakeLlm(["<suggest>Is it big?|Is it"])  # the token limit struck mid-directive
    chunks = await run(GenerateStage(Settings(), client=llm), evidence())  # type: ignore[arg-type]
    text = "".join(c.text for c in chunks)
    assert text == "<suggest>Is it big?|Is it</suggest> A customer says that very quiet."


async def test_unsupported_sentences_are_dropped_loops_stopped_and_counted() -> None:
    llm = FakeLlm(["It boils water in two minutes. ", "It is very quiet. ", "It is very quiet. ", "Never shown."])
    chunks = await run(GenerateStage(Settings(), client=llm), evidence())  # type: ignore[arg-type]
    assert "".join(c.text for c in chunks) == "It is very quiet. Source: a customer's review."
    context = chunks[-1].context
    assert (context["guard_kept"], context["guard_unsupported"], context["guard_loop"]) == ("1", "1", "1")


async def test_a_review_summary_opens_with_the_reviews_block_of_the_product_asked_about() -> None:
    llm = FakeLlm(["Customers like it."])
    plan = Plan("c1", 0, 0, UserTurn("c1", 0, 0, "u", "what do people say?"), "review_summary", [],
                resolved_product_ids=["B0BBBBBBBB"])
    reviews = [EvidenceItem("review", "great", 1.0, "B0AAAAAAAA"), EvidenceItem("review", "fine", 0.9, "B0BBBBBBBB")]
    chunks = await run(GenerateStage(Settings(), client=llm), EvidenceBundle("c1", 0, 0, plan, reviews))  # type: ignore[arg-type]
    assert "".join(c.text for c in chunks) == '<reviews id="B0BBBBBBBB"/> Customers like it.'


async def test_a_comparison_of_known_products_opens_with_their_table() -> None:
    llm = FakeLlm(["The first is made of steel."])
    plan = Plan("c1", 0, 0, UserTurn("c1", 0, 0, "u", "which is lighter?"), "comparison", [],
                resolved_product_ids=["B0AAAAAAAA", "B0BBBBBBBB"])
    items = [EvidenceItem("product", "a, steel", 1.0, "B0AAAAAAAA"), EvidenceItem("product", "b", 1.0, "B0BBBBBBBB")]
    chunks = await run(GenerateStage(Settings(), client=llm), EvidenceBundle("c1", 0, 0, plan, items))  # type: ignore[arg-type]
    assert "".join(c.text for c in chunks) == '<compare ids="B0AAAAAAAA,B0BBBBBBBB"/> The first is made of steel.'
    # "Compare X with other ...": X, then the closest products the search found.
    one = dataclasses.replace(plan, resolved_product_ids=["B0BBBBBBBB"])
    chunks = await run(GenerateStage(Settings(), client=FakeLlm(["x"])), EvidenceBundle("c1", 0, 0, one, items))  # type: ignore[arg-type]
    assert "".join(c.text for c in chunks) == '<compare ids="B0BBBBBBBB,B0AAAAAAAA"/> x'
    alone = [EvidenceItem("review", "fine", 1.0, "B0AAAAAAAA")]
    chunks = await run(GenerateStage(Settings(), client=FakeLlm(["x"])), EvidenceBundle("c1", 0, 0, one, alone))  # type: ignore[arg-type]
    assert "".join(c.text for c in chunks) == "x", "a comparison needs two products"


async def test_which_one_is_cheapest_is_the_stores_pick_stated_with_its_card() -> None:
    llm = FakeLlm(["never"])
    plan = Plan("c1", 0, 0, UserTurn("c1", 0, 0, "u", "which one is the cheapest?"), "comparison", [],
                resolved_product_ids=["B0AAAAAAAA", "B0BBBBBBBB"])
    pick = [EvidenceItem("choice", "The OurPets feeder is the cheapest of the two at $12.99 (simulated price).",
                         1.0, "B0BBBBBBBB")]
    chunks = await run(GenerateStage(Settings(), client=llm), EvidenceBundle("c1", 0, 0, plan, pick))  # type: ignore[arg-type]
    assert "".join(c.text for c in chunks) == (
        'The OurPets feeder is the cheapest of the two at $12.99 (simulated price). <product id="B0BBBBBBBB"/>')
    assert llm.requests == []


async def test_compare_them_is_the_table_with_the_stores_overview_under_it_and_no_model() -> None:
    llm = FakeLlm(["The first product is a 200 blender and 250 blender."])
    ids = ["B0AAAAAAAA", "B0BBBBBBBB"]
    plan = Plan("c1", 0, 0, UserTurn("c1", 0, 0, "u", "compare the first two"), "comparison", [], resolved_product_ids=ids)
    overview = [EvidenceItem("choice", "The A is the cheapest of the two at $9.00; the B is the best rated, 4.0 stars.", 1.0, ids[0]),
                EvidenceItem("choice", "", 1.0, ids[1])]
    chunks = await run(GenerateStage(Settings(), client=llm), EvidenceBundle("c1", 0, 0, plan, overview))  # type: ignore[arg-type]
    assert "".join(c.text for c in chunks) == (
        '<compare ids="B0AAAAAAAA,B0BBBBBBBB"/> The A is the cheapest of the two at $9.00; the B is the best rated, 4.0 stars.')
    assert llm.requests == []


async def test_a_request_outside_shopping_is_declined_by_the_system() -> None:
    llm = FakeLlm(["Sunny, 22 degrees."])
    plan = Plan("c1", 0, 0, UserTurn("c1", 0, 0, "u", "what's the weather in Paris tomorrow?"), "out_of_scope", [])
    chunks = await run(GenerateStage(Settings(), client=llm), EvidenceBundle("c1", 0, 0, plan, []))  # type: ignore[arg-type]
    text = "".join(c.text for c in chunks)
    assert text.startswith("I can only help with shopping") and "22" not in text
    assert llm.requests == [] and chunks[0].model == "direct"


async def test_a_search_opens_with_the_products_found_best_first() -> None:
    plan = Plan("c1", 0, 0, UserTurn("c1", 0, 0, "u", "show me dog feeders"), "product_search", [])
    items = [EvidenceItem("product", "b feeder", 0.5, "B0BBBBBBBB"), EvidenceItem("description", "x", 0.9, "B0CCCCCCCC"),
             EvidenceItem("product", "a feeder", 0.7, "B0AAAAAAAA")]
    chunks = await run(GenerateStage(Settings(), client=FakeLlm(["Two feeders."])), EvidenceBundle("c1", 0, 0, plan, items))  # type: ignore[arg-type]
    assert "".join(c.text for c in chunks).startswith('<carousel ids="B0AAAAAAAA,B0BBBBBBBB"/> ')
    assert chunks[0].model == "direct"


async def test_a_search_whose_words_were_all_dropped_says_the_carousel_is_the_answer() -> None:
    plan = Plan("c1", 0, 0, UserTurn("c1", 0, 0, "u", "show me dog feeders"), "product_search", [])
    items = [EvidenceItem("product", "a feeder", 0.7, "B0AAAAAAAA"), EvidenceItem("product", "b feeder", 0.5, "B0BBBBBBBB")]
    chunks = await run(GenerateStage(Settings(), client=FakeLlm(["It boils water in 3 minutes."])),  # type: ignore[arg-type]
                       EvidenceBundle("c1", 0, 0, plan, items))
    assert "".join(c.text for c in chunks) == (
        '<carousel ids="B0AAAAAAAA,B0BBBBBBBB"/>  These are the closest matches in the catalog.')


async def test_a_comparison_shows_its_table_once_when_the_model_writes_it_again() -> None:
    llm = FakeLlm(['<compare ids="B0BBBBBBBB,B0AAAAAAAA"/>', " The first is quiet."])
    plan = Plan("c1", 0, 0, UserTurn("c1", 0, 0, "u", "compare them"), "comparison", [],
                resolved_product_ids=["B0AAAAAAAA", "B0BBBBBBBB"])
    items = [EvidenceItem("product", "Quiet fan", 1.0, "B0AAAAAAAA"), EvidenceItem("product", "Loud fan", 0.9, "B0BBBBBBBB"),
             EvidenceItem("review", "the first is quiet", 0.8, "B0AAAAAAAA")]
    chunks = await run(GenerateStage(Settings(), client=llm), EvidenceBundle("c1", 0, 0, plan, items))  # type: ignore[arg-type]
    text = "".join(c.text for c in chunks)
    assert text.count("<compare") == 1 and text.startswith('<compare ids="B0AAAAAAAA,B0BBBBBBBB"/>')
    assert chunks[-1].context["guard_repeated_directive"] == "1"


class FakeJudge:
    """The answerability judge's interface, with fixed probabilities and a record of what it read."""

    threshold = 0.5

    def __init__(self, probability: float) -> None:
        self.probability = probability
        self.asked: list[tuple[str, list[str]]] = []

    async def aprobabilities(self, question: str, passages: Sequence[str]) -> list[float]:
        self.asked.append((question, list(passages)))
        return [self.probability for _ in passages]

    def close(self) -> None: ...


async def test_when_the_judge_finds_no_answer_the_system_says_so_with_the_closest_passage() -> None:
    llm = FakeLlm(["It is very quiet. ", "Yes, very quiet."])
    judge = FakeJudge(0.2)
    chunks = await run(GenerateStage(Settings(), client=llm, judge=judge), evidence())  # type: ignore[arg-type]
    text = "".join(c.text for c in chunks)
    # The model's sentence, though the guard would keep it, never shows.
    assert text == "I'm not sure: the product page and its reviews don't say. The closest I found is from a customer: very quiet."
    assert judge.asked == [("is it quiet?", ["very quiet"])]
    assert chunks[0].model == "direct"
    assert chunks[-1].final and chunks[-1].context["guard_judged_unanswered"] == "1"


async def test_when_the_judge_finds_an_answer_the_model_answers_and_other_intents_are_not_judged() -> None:
    judge = FakeJudge(0.9)
    chunks = await run(GenerateStage(Settings(), client=FakeLlm(["It is very quiet. "]), judge=judge), evidence())  # type: ignore[arg-type]
    assert "".join(c.text for c in chunks) == "It is very quiet. Source: a customer's review."
    judge = FakeJudge(0.0)
    search = dataclasses.replace(evidence(), plan=dataclasses.replace(evidence().plan, intent="product_search"))
    chunks = await run(GenerateStage(Settings(), client=FakeLlm(["Very quiet ones. "]), judge=judge), search)  # type: ignore[arg-type]
    assert judge.asked == [] and "Very quiet ones." in "".join(c.text for c in chunks)
