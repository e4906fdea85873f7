"""The grounding guard, its support judge and the stated evidence: pure, on text a model could write."""

from pipeline.generation.cite import NOT_FOUND, citation, model_part, support_for
from pipeline.generation.guard import AnswerGuard
from pipeline.generation.support import Support, content_terms, numbers
from pipeline.messages import EvidenceBundle, EvidenceItem, Plan, UserTurn

MIC = [
    EvidenceItem("review", "it picks up a lot of handling noise when held in the hand", 0.9, "B0MIC00001", "r1"),
    EvidenceItem("qa", "question: does it need phantom power? answer: yes, it runs on 48v phantom power", 0.8,
                 "B0MIC00001", "q1"),
    EvidenceItem("bullet", "supercardioid polar pattern for film and video", 0.7, "B0MIC00001", "b1"),
]


def bundle(items: list[EvidenceItem], text: str = "is this microphone good for outdoor video?",
           intent: str = "product_question") -> EvidenceBundle:
    request = UserTurn("c1", 1, 0, "u1", text, page_product_id="B0MIC00001")
    return EvidenceBundle("c1", 1, 0, Plan("c1", 1, 0, request, intent, []), items)


def run(guard: AnswerGuard, pieces: list[str]) -> str:
    out: list[str] = []
    for piece in pieces:
        out += guard.feed(piece)
    return "".join(out + guard.finish())


def test_terms_and_numbers_ignore_framing_and_normalise() -> None:
    assert content_terms("Customers say the batteries hold a charge.") == ["battery", "hold", "charge"]
    assert numbers("It costs $4.50, weighs 1,200 g") == {"4.5", "1200"}


def test_supported_sentence_passes_and_invented_one_is_dropped() -> None:
    support = support_for(bundle(MIC))
    assert support.judge("Reviewers say it picks up handling noise.").supported
    assert not support.judge("Most like how fast it boils; some say the lid gets loose.").supported
    # A number the evidence does not hold fails whatever the words.
    verdict = support.judge("It runs on 12v phantom power.")
    assert not verdict.supported and verdict.unsupported_numbers == ("12",)
    assert support.judge("It runs on 48v phantom power.").supported


def test_abstaining_and_empty_sentences_make_no_claim_but_a_bare_verdict_is_unsupported() -> None:
    support = Support.from_texts(["nothing relevant here, no"])
    assert not support.judge("The answer is no.").supported
    assert not support.judge("Yes.").supported
    assert support.judge("I'm not sure: the page does not say.").supported
    assert support.judge("Sure!").supported


def test_guard_streams_whole_sentences_and_directives_in_place() -> None:
    guard = AnswerGuard(support_for(bundle(MIC)))
    text = run(guard, ['<product id="B0MIC00001"/> Review', "ers say it picks up handling", " noise. The answer",
                       " is that it boils water fast. <suggest>Does it need phantom power?</suggest>"])
    assert text == ('<product id="B0MIC00001"/> Reviewers say it picks up handling noise. '
                    "<suggest>Does it need phantom power?</suggest>")
    assert guard.counts == {"kept": 1, "unsupported": 1}
    assert not guard.stopped


def test_after_a_lead_the_model_repeats_no_directive_and_no_second_block_of_its_kind() -> None:
    guard = AnswerGuard(support_for(bundle(MIC)))
    guard.after_lead('<compare ids="B0MIC00001,B0MIC00002"/> ')
    shown = run(guard, ['<compare ids="B0MIC00002,B0MIC00001"/> <product id="B0MIC00001"/> '
                        '<product id="B0MIC00009"/> It picks up handling noise.'])
    # The table was the lead's: the model's own, ids in another order, is dropped, and so is the card of a
    # product the table shows; a card of another product is not.
    assert shown == '<product id="B0MIC00009"/> It picks up handling noise.'
    assert guard.counts["repeated_directive"] == 2
    guard = AnswerGuard(support_for(bundle(MIC)))
    guard.after_lead('<product id="B0MIC00001"/> ')
    assert run(guard, ['<product id="B0MIC00001"/>It picks up handling noise.']) == "It picks up handling noise."
    guard = AnswerGuard(support_for(bundle(MIC)))
    guard.after_lead('<reviews id="B0MIC00001"/> ')
    assert run(guard, ['<product id="B0MIC00001"/> It picks up handling noise.']) == "It picks up handling noise."


def test_not_sure_under_the_products_a_search_found_is_dropped_but_stands_elsewhere() -> None:
    # pair1513 answered "I need a mat for my office chair" with "I'm not sure" under the carousel.
    search = bundle(MIC, text="I need a microphone for film", intent="product_search")
    guard = AnswerGuard(support_for(search))
    guard.after_lead('<carousel ids="B0MIC00001,B0MIC00002"/> ')
    assert run(guard, ["I'm not sure. It is made for film and video."]) == "It is made for film and video."
    assert guard.counts["abstained_under_found"] == 1
    guard = AnswerGuard(support_for(search))
    guard.after_lead('<reviews id="B0MIC00001"/> ')
    assert run(guard, ["I'm not sure."]) == "I'm not sure."


def test_a_number_split_across_chunks_is_not_a_sentence_end() -> None:
    guard = AnswerGuard(Support.from_texts(["it costs 4.99 and weighs 2 pounds"]))
    assert guard.feed("It costs 4.") == []
    assert run(guard, ["99 and weighs 2 pounds."]) == "It costs 4.99 and weighs 2 pounds."


def test_repeated_sentence_stops_the_answer() -> None:
    guard = AnswerGuard(support_for(bundle(MIC)))
    shown = guard.feed("It picks up handling noise. It picks up handling noise. ")
    assert shown == ["It picks up handling noise."]
    assert guard.stopped and guard.counts["loop"] == 1
    assert guard.feed("More text. ") == [] and guard.finish() == []


def test_a_looping_run_on_sentence_stops_before_it_ends() -> None:
    guard = AnswerGuard(support_for(bundle(MIC)))
    for _ in range(5):
        guard.feed("handling noise and handling noise and ")
        if guard.stopped:
            break
    assert guard.stopped


def test_malformed_markup_and_stray_brackets_never_show() -> None:
    guard = AnswerGuard(Support.from_texts(["handling noise is common"]))
    shown = run(guard, ["Handling <noise </product> is > common. <carousel id=x>"])
    assert shown == "Handling noise is common."
    guard = AnswerGuard(Support.from_texts(["handling noise"]))
    # Cut off by the token limit inside a suggest: the complete follow-ups are kept, closed.
    assert run(guard, ["Handling noise. <suggest>Is it loud?|Is it"]) == (
        "Handling noise. <suggest>Is it loud?|Is it</suggest>")


def test_citation_states_the_passage_behind_the_answer() -> None:
    b = bundle(MIC, text="does it need phantom power?")
    guard = AnswerGuard(support_for(b))
    run(guard, ["Yes, it needs phantom power."])
    assert citation(b, guard) == "A customer says that yes, it runs on 48v phantom power."


def test_citation_stands_alone_when_nothing_the_model_said_is_supported() -> None:
    b = bundle(MIC)
    guard = AnswerGuard(support_for(b))
    assert run(guard, ["The answer is that it boils water in two minutes."]) == ""
    # The passage closest to the question stands alone.
    assert citation(b, guard) == "The product page says: supercardioid polar pattern for film and video."


def test_an_answer_that_already_quotes_the_passage_gets_its_source_and_other_intents_nothing() -> None:
    b = bundle(MIC, text="does it pick up handling noise?")
    guard = AnswerGuard(support_for(b))
    run(guard, ["It picks up a lot of handling noise when held in the hand."])
    assert citation(b, guard) == "Source: a customer's review."
    assert model_part("It picks up a lot of handling noise. Source: a customer's review.") == \
        "It picks up a lot of handling noise."
    search = bundle(MIC, intent="product_search")
    assert citation(search, AnswerGuard(support_for(search))) is None


def test_after_an_answer_that_only_abstains_the_passage_is_stated_as_the_closest_found() -> None:
    b = bundle(MIC, text="does it need phantom power?")
    guard = AnswerGuard(support_for(b))
    assert run(guard, ["I'm not sure: the product page and reviews don't say."]).strip()
    stated = citation(b, guard)
    assert stated == "The closest I found is from a customer: yes, it runs on 48v phantom power."
    assert model_part(f"I'm not sure: the product page and reviews don't say. {stated}") == \
        "I'm not sure: the product page and reviews don't say."
    # A supported claim beside the abstention keeps the plain lead: the passage backs the claim.
    guard = AnswerGuard(support_for(b))
    run(guard, ["Yes, it needs phantom power.", " I'm not sure about batteries."])
    assert citation(b, guard) == "A customer says that yes, it runs on 48v phantom power."


# B000ES7I8A's page, as retrieve gives it for a question on the page (shared/data/catalog).
KETTLE = [
    EvidenceItem("qa", "question: can it operate from 220v electrical socket? answer: no, it can only be used in a "
                 "120v socket here in the us.", 0.95, "B000ES7I8A", "q1"),
    EvidenceItem("product", "Hamilton Beach Cool-Touch 8-Cup Cordless Electric Kettle", 1.0, "B000ES7I8A", "p"),
    EvidenceItem("attribute", "warranty description: 1-year warranty", 0.9, "B000ES7I8A", "a1"),
    EvidenceItem("review", "just take the kettle off the base to cool down, unplug the base from the recepticle "
                 "for a moment, then plug it in again to reset it.", 0.8, "B000ES7I8A", "r1"),
    EvidenceItem("review", "fun to watch the blue light and bubbles of water boiling - so say the older gentlemen "
                 "in our family.", 0.7, "B000ES7I8A", "r2"),
    EvidenceItem("description", "hamilton beach kettles feature a stay-cool handle and drip-free spout that makes "
                 "pouring easy.", 0.6, "B000ES7I8A", "d1"),
]


def test_a_passage_off_the_questions_topic_is_never_stated() -> None:
    # The model's sentence is backed by the title; no passage is about cups, so no review is stated (the
    # reset review shares "kettle" with the sentence, which named the product, not the topic): the
    # title is.
    b = bundle(KETTLE, text="how many cups does this kettle hold?")
    guard = AnswerGuard(support_for(b))
    assert run(guard, ["The Hamilton Beach kettle holds 8 cups."]) == "The Hamilton Beach kettle holds 8 cups."
    assert citation(b, guard) == "The product page says: Hamilton Beach Cool-Touch 8-Cup Cordless Electric Kettle."
    # Nothing the model said stands and nothing is on the topic: not sure, not the warranty.
    b = bundle(KETTLE, text="does it have an auto shut off?")
    guard = AnswerGuard(support_for(b))
    assert run(guard, ["Yes, it has an automatic shut-off after 30 seconds."]) == ""
    assert citation(b, guard) == NOT_FOUND
    # A passage on the topic is still stated, whatever its rank.
    b = bundle(KETTLE, text="is the handle hot when it boils?")
    guard = AnswerGuard(support_for(b))
    run(guard, ["No, the handle stays cool."])
    assert citation(b, guard) == ("The product page says: hamilton beach kettles feature a stay-cool handle and "
                                  "drip-free spout that makes pouring easy.")


def test_a_measure_in_the_title_answers_when_nothing_else_does() -> None:
    # Base model, B000ES7I8A: its sentence was dropped and the shopper read "not sure" under a title
    # that says 8-Cup.
    b = bundle(KETTLE, text="how many cups does this kettle hold?")
    guard = AnswerGuard(support_for(b))
    assert run(guard, ["It holds 12 cups of water."]) == ""
    assert citation(b, guard) == "The product page says: Hamilton Beach Cool-Touch 8-Cup Cordless Electric Kettle."
    guard = AnswerGuard(support_for(b))
    assert run(guard, ["I'm not sure how many cups it holds."]).strip()
    assert citation(b, guard) == ("The closest I found is on the product page: Hamilton Beach Cool-Touch 8-Cup "
                                  "Cordless Electric Kettle.")
    # The product's name alone answers nothing: "how loud" shares "electric kettle" with the title.
    b = bundle(KETTLE, text="how loud is this electric kettle?")
    guard = AnswerGuard(support_for(b))
    run(guard, ["It is very quiet."])
    assert citation(b, guard) == NOT_FOUND


def test_a_yes_or_no_that_turns_a_community_answer_around_is_dropped() -> None:
    b = bundle(KETTLE, text="can I use it in the UK on 220v?")
    guard = AnswerGuard(support_for(b))
    # Every word and number is in the evidence; the community answer says the opposite.
    assert run(guard, ["Yes, it can operate from a 220v socket."]) == ""
    assert guard.counts == {"contradicted": 1}
    assert guard.judged[0].verdict.contradicts == 0
    guard = AnswerGuard(support_for(b))
    assert run(guard, ["No, it only works on a 120v socket."]) == "No, it only works on a 120v socket."
    # A sentence without a verdict, or a verdict on what no community answer is about, is judged as before.
    assert support_for(b).judge("It works on a 120v socket.").supported
    assert support_for(b).judge("Yes, the handle stays cool.").contradicts is None


def test_a_yes_or_no_that_a_negated_clause_of_the_evidence_turns_around_is_dropped() -> None:
    # Real pair1513 answers on ePQA: the review says the opposite in a clause of its own.
    support = Support.from_texts([
        "love the sound. it does not have a hands-free mode like the spotbot, but it cleans well.",
        "question: can you make omelettes with it? answer: obviously, you can't make omelets with it, "
        "but pancakes come out great.",
    ])
    verdict = support.judge("Yes, it has a hands-free mode.")
    assert not verdict.supported and verdict.contradicts == 0
    assert support.judge("Yes, you can make omelets with it.").contradicts == 1
    # The clause that agrees settles it, even where another clause of the passage is negated.
    assert support.judge("Yes, pancakes come out great.").supported
    assert support.judge("No, it does not have a hands-free mode.").supported
    # "No, ..." naming an alternative states no negation to compare; one shared word is not the same claim.
    assert Support.from_texts(["it comes in a small bottle, not a tube"]).judge(
        "No, it comes in a small bottle.").contradicts is None
    assert Support.from_texts(["the mode is loud", "it does not clean corners"]).judge(
        "Yes, it has a quiet mode.").contradicts is None


def test_only_turns_a_clause_around() -> None:
    support = Support.from_texts(["hooked to an elevated rain barrel, it only lets through a trickle of water"])
    assert not support.judge("Yes, it can be used with a rain barrel.").supported
    assert support.judge("No, it only lets through a trickle from a rain barrel.").supported


def test_a_question_with_no_words_of_its_own_states_the_best_ranked_passage() -> None:
    b = bundle(KETTLE, text="tell me about this kettle")
    guard = AnswerGuard(support_for(b))
    assert run(guard, ["It is a unicorn saddle."]) == ""
    assert citation(b, guard) == "A customer says that no, it can only be used in a 120v socket here in the us."


def test_a_question_in_the_products_own_words_is_backed_by_the_passage_on_them() -> None:
    # "Phantom" and "power" are words of the title: what is left, "need", is no topic, and the model's
    # supported sentence is backed by the passage that shares most of its words.
    items = [EvidenceItem("product", "Rode NTG2 Battery or Phantom Powered Condenser Shotgun Microphone", 1.0,
                          "B0MIC00001"),
             EvidenceItem("review", "it runs fine on 48v phantom power from my mixer", 0.9, "B0MIC00001", "r1"),
             EvidenceItem("review", "it picks up a lot of handling noise when held in the hand", 0.8, "B0MIC00001", "r2")]
    b = bundle(items, text="does it need phantom power?")
    guard = AnswerGuard(support_for(b))
    assert run(guard, ["It runs on 48v phantom power."]) == "It runs on 48v phantom power."
    assert citation(b, guard) == "A customer says that it runs fine on 48v phantom power from my mixer."


def test_a_claim_only_the_product_summary_backs_states_the_part_of_it_that_does() -> None:
    # B00093ESSI, base model: the summary is the only passage naming phantom power.
    items = [EvidenceItem("product", "Rode NTG2 Battery or Phantom Powered Condenser Shotgun Microphone. brand: "
                          "Rode. Ideal for film and video. Runs on an AA battery", 1.0, "B0MIC00001"),
             EvidenceItem("review", "it picks up a lot of handling noise when held in the hand", 0.8, "B0MIC00001", "r2")]
    b = bundle(items, text="does it need phantom power?")
    guard = AnswerGuard(support_for(b))
    assert run(guard, ["Reviewers say it does not need phantom power."]).strip()
    assert citation(b, guard) == ("The product page says: Rode NTG2 Battery or Phantom Powered Condenser Shotgun "
                                  "Microphone.")
    # An abstention is no claim for the summary to back: the question, with no words of its own beside
    # the title's, gets the best-ranked passage as the closest found.
    guard = AnswerGuard(support_for(b))
    run(guard, ["I'm not sure about phantom power."])
    assert citation(b, guard) == ("The closest I found is from a customer: it picks up a lot of handling noise "
                                  "when held in the hand.")


def test_not_sure_when_there_is_no_passage_to_state() -> None:
    b = bundle([EvidenceItem("product", "Rode NTG2 shotgun microphone", 1.0, "B0MIC00001")])
    guard = AnswerGuard(support_for(b))
    run(guard, ["It is waterproof to 30 m."])
    assert citation(b, guard) == NOT_FOUND


def test_near_copies_and_copied_evidence_labels_are_not_shown() -> None:
    guard = AnswerGuard(support_for(bundle(MIC)))
    shown = run(guard, ["It is designed for film and video. It's designed for film and video! ",
                        "[2] review B0MIC00001: it picks up handling noise."])
    assert shown == "It is designed for film and video. it picks up handling noise."
    assert guard.counts["repeated"] == 1 and not guard.stopped


def test_a_long_claim_ending_in_not_sure_is_still_judged() -> None:
    support = support_for(bundle(MIC))
    assert not support.judge("It boils two cups of water in three minutes flat, but I'm not sure it is the "
                             "best choice for every kitchen counter you own.").supported


def test_an_echo_of_the_question_is_judged_by_the_evidence_alone() -> None:
    support = support_for(bundle(MIC, text="does it need a windscreen?"))
    assert not support.judge("Reviewers say it does not need a windscreen.").supported
    assert support.judge("It is a supercardioid microphone for video.").supported


def test_questions_and_circular_sentences_are_dropped_as_such() -> None:
    guard = AnswerGuard(support_for(bundle(MIC)))
    shown = run(guard, ["What do customers say about the noise? It picks up handling noise when held. "
                        "The noise is not noise the way noise is noise when held noise."])
    assert shown == "It picks up handling noise when held."
    assert guard.counts["question"] == 1 and guard.counts["repeated"] == 1
