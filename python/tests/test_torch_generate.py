"""prefixlab_torch.generate.greedy without a model: a fake next-token function shows the stopping rules the app's
generate.ts has (EOS ends a row and is left out, maxNewTokens caps it, 0 generates nothing), that prompts of
different lengths are never padded together, and that the output keeps the examples' order."""

import pytest

torch = pytest.importorskip("torch")

from prefixlab_torch.generate import generation_inputs, greedy  # noqa: E402
from prefixlab_torch.handoff import Example, HandoffError  # noqa: E402

VOCAB = 8
EOS = 2


def _example(index, prompt, budget):
    return Example(index, f"e{index}", "eval", prompt, [-100] * len(prompt), None, prompt, budget)


def test_greedy_stops_at_eos_or_budget_and_keeps_the_order():
    shapes = []

    def next_logits(ids):
        shapes.append(tuple(ids.shape))
        # Next token: (last + 1) mod VOCAB, so 1 -> 2 (EOS) ends a row.
        logits = torch.zeros(ids.shape[0], VOCAB)
        logits[torch.arange(ids.shape[0]), (ids[:, -1] + 1) % VOCAB] = 1.0
        return logits

    examples = [_example(0, [5, 6], 3), _example(1, [0], 4), _example(2, [7, 3], 10), _example(3, [4], 0)]
    out = greedy(next_logits, examples, [EOS], batch_size=8, device="cpu")
    assert out == [
        {"index": 0, "ids": [7, 0, 1]},  # budget of 3
        {"index": 1, "ids": [1]},  # 1 -> EOS: stopped, EOS left out
        {"index": 2, "ids": [4, 5, 6, 7, 0, 1]},  # ... 1 -> EOS
        {"index": 3, "ids": []},  # no budget
    ]
    # The two length-2 prompts share the first forward pass; the length-1 prompt (with a budget) runs on its own.
    assert shapes[0] == (2, 2) and (1, 1) in shapes


def test_a_hand_off_without_prompt_ids_is_one_line_naming_the_file():
    bare = Example(0, "a", "eval", [1, 2], [-100, 2])
    with pytest.raises(HandoffError, match=r"examples.jsonl: eval example 0 \(a\) has no promptIds/maxNewTokens"):
        generation_inputs([bare], "eval", "/x/examples.jsonl")
