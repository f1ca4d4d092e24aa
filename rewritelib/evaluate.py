"""Exact match of the greedy output, in one teacher-forced forward pass.

Greedy decoding reproduces the target iff, fed the correct prefix, the model's argmax is
the target token at every output position, EOS included: by induction, each greedy step
then sees exactly the prefix the teacher-forced pass saw. So one forward pass over
prompt + target scores an example exactly as ``generate`` would, without the token-by-
token loop. ``generate_match`` is the slow reference the tests and bench_eval.py compare
against.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from .encoding import RULE_SEP, Encoded
from .programs import program_groups
from .model import split_head


def batch_tensors(enc: Encoded, idx: np.ndarray, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids cut to the longest row, mask of the positions that predict a target token).

    Position p predicts token p+1, so the outputs and EOS are predicted from positions
    target_start-1 .. length-2. Rows are right-padded; with causal attention the padding
    can never influence those positions, so no attention mask is needed.
    """
    width = int(enc.length[idx].max())
    ids = torch.from_numpy(enc.ids[idx, :width]).to(device)
    pos = torch.arange(width - 1, device=device)
    start = torch.from_numpy(enc.target_start[idx] - 1).to(device)[:, None]
    end = torch.from_numpy(enc.length[idx] - 2).to(device)[:, None]
    return ids, (pos >= start) & (pos <= end)


def target_logits(model, ids: torch.Tensor, mask: torch.Tensor):
    """Logits at the target positions only (k, vocab), and their labels (k,)."""
    backbone, head = split_head(model)
    hidden = backbone(input_ids=ids, use_cache=False).last_hidden_state[:, :-1]
    return head(hidden[mask]), ids[:, 1:][mask]


def target_windows(enc: Encoded) -> tuple[np.ndarray, np.ndarray]:
    """(pos, labels), each (n, K), K the longest output + EOS: for every row the positions
    whose logits predict its output and EOS, and those tokens (-100 past the row's end).

    The positions and labels of ``batch_tensors``' mask, in a shape that does not depend on
    the batch: a GPU batch needs no boolean indexing (a device->host sync) and keeps one
    shape (torch.compile, CUDA graphs).
    """
    width = int(enc.length.max())
    start, end = enc.target_start - 1, enc.length - 2  # inclusive
    k = int((end - start).max()) + 1
    pos = start[:, None] + np.arange(k)[None, :]
    valid = pos <= end[:, None]
    pos = np.minimum(pos, width - 2)
    labels = np.where(valid, np.take_along_axis(enc.ids[:, :width], pos + 1, axis=1), -100)
    return pos.astype(np.int64), labels.astype(np.int64)


@torch.no_grad()
def exact_match(model, enc: Encoded, batch_size: int = 256, device="cpu",
                autocast: bool = False) -> np.ndarray:
    """Per example: does greedy decoding reproduce output + EOS exactly?"""
    was_training = model.training
    model.eval()
    correct = np.zeros(len(enc), dtype=bool)
    order = np.argsort(enc.length, kind="stable")  # similar lengths together: less padding
    for i in range(0, len(enc), batch_size):
        idx = order[i:i + batch_size]
        ids, mask = batch_tensors(enc, idx, device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
            logits, labels = target_logits(model, ids, mask)
        wrong = (logits.argmax(-1) != labels).to(torch.int32)
        rows = mask.nonzero()[:, 0]
        n_wrong = torch.zeros(len(idx), dtype=torch.int32, device=ids.device).index_add_(0, rows, wrong)
        correct[idx] = (n_wrong == 0).cpu().numpy()
    model.train(was_training)
    return correct


@torch.no_grad()
def generate_match(model, enc: Encoded, eos_id: int, pad_id: int, batch_size: int = 64,
                   device="cpu") -> np.ndarray:
    """The slow reference: greedy ``generate`` and compare with output + EOS.

    Prompts of equal length are batched together, so no padding enters the prompt.
    """
    was_training = model.training
    model.eval()
    correct = np.zeros(len(enc), dtype=bool)
    for plen in np.unique(enc.target_start):
        rows = np.nonzero(enc.target_start == plen)[0]
        for i in range(0, len(rows), batch_size):
            idx = rows[i:i + batch_size]
            prompt = torch.from_numpy(enc.ids[idx, :plen]).to(device)
            n_new = int((enc.length[idx] - plen).max())
            out = model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt),
                                 max_new_tokens=n_new, do_sample=False, eos_token_id=eos_id,
                                 pad_token_id=pad_id).cpu().numpy()[:, plen:]
            for j, r in enumerate(idx):
                want = enc.ids[r, plen:enc.length[r]]
                got = out[j, :len(want)]
                correct[r] = len(got) == len(want) and (got == want).all()
    model.train(was_training)
    return correct


def _score(correct: np.ndarray) -> dict:
    return {"exact_match": float(correct.mean()) if len(correct) else None, "n": int(len(correct))}


def summarize(results: dict[str, tuple[np.ndarray, dict]]) -> dict:
    """Metrics from per-example verdicts. ``results[split] = (correct, columns)`` with
    columns ``is_noop``, ``occurrences``, ``rule_id`` (numpy arrays); splits are
    ``seen`` (training rules, fresh inputs) and ``unseen`` (test rules).

    no-op / has-op and by-occurrence scores are on the unseen split: that is the question.
    """
    metrics = {name: _score(c) for name, (c, _) in results.items()}
    if "unseen" in results:
        c, cols = results["unseen"]
        metrics["noop"] = _score(c[cols["is_noop"]])
        metrics["has_op"] = _score(c[~cols["is_noop"]])
        metrics["by_occurrences"] = {str(k): _score(c[cols["occurrences"] == k])
                                     for k in np.unique(cols["occurrences"]).tolist()}
        if any(RULE_SEP in x for x in cols["pattern"]):  # E7: which rule fired, conflicts
            metrics.update({key: {str(k): _score(c[mask]) for k, mask in groups.items()}
                            for key, groups in program_groups(cols).items()})
    metrics["per_rule"] = {}
    for name, (c, cols) in results.items():
        ids, inv = np.unique(cols["rule_id"], return_inverse=True)
        right = np.bincount(inv, weights=c, minlength=len(ids)).astype(int)
        total = np.bincount(inv, minlength=len(ids))
        metrics["per_rule"][name] = {str(r): [int(a), int(b)] for r, a, b in zip(ids, right, total)}
    return metrics


@torch.no_grad()
def greedy_outputs(model, encoder, patterns, replacements, inputs, extra_tokens: int = 8) -> list[str]:
    """What the model writes after each prompt, greedy, as text: for looking at, not scoring
    (``exact_match`` scores). Generation stops at EOS or ``extra_tokens`` past the input's
    length in tokens."""
    was_training = model.training
    model.eval()
    enc = encoder.encode_examples(patterns, replacements, inputs, [""] * len(inputs))
    texts = []
    for row in range(len(enc)):
        plen = int(enc.target_start[row])
        prompt = torch.from_numpy(enc.ids[row:row + 1, :plen])
        with warnings.catch_warnings():  # transformers' deprecation notes on PEFT models
            warnings.simplefilter("ignore", FutureWarning)
            out = model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt),
                                 max_new_tokens=plen + extra_tokens, do_sample=False,
                                 eos_token_id=encoder.eos_id, pad_token_id=encoder.pad_id)
        out = out[0, plen:].tolist()
        if encoder.eos_id in out:
            out = out[:out.index(encoder.eos_id)]
        texts.append(encoder.decode(out))
    model.train(was_training)
    return texts
