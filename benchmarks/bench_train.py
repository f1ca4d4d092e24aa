"""Training throughput: our loop vs Hugging Face `Trainer`, same model, data, batch size.

Both train a fresh `cpu`-preset GPT-2 (same seed) for the same number of steps on the same
char-level examples (paper-shaped: input 50, pattern 20, 26 letters), AdamW, same lr and
schedule, loss on the output tokens only. Trainer gets the usual set-up: labels with -100
on the prompt, a padding collator, no evaluation, no checkpoints, no logging integrations.
Prints tokens/s of each and `ratio: X` (ours / Trainer) last.

    python benchmarks/bench_train.py [--steps 60] [--batch-size 64] [--preset cpu]
"""

import argparse
import time

import numpy as np
import torch

from common import encoded_splits
from rewritelib.model import build_scratch
from rewritelib.train import TrainConfig, train


def hf_trainer_tokens_per_s(model, enc, steps, batch_size, lr, device):
    from transformers import Trainer, TrainingArguments

    class Rows(torch.utils.data.Dataset):
        def __len__(self):
            return len(enc)

        def __getitem__(self, i):
            n, start = int(enc.length[i]), int(enc.target_start[i])
            ids = torch.from_numpy(enc.ids[i, :n])
            labels = ids.clone()
            labels[:start] = -100  # loss on output + EOS only, as in our loop
            return {"input_ids": ids, "labels": labels}

    def collate(rows):
        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        labels = torch.full((len(rows), width), -100, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for i, r in enumerate(rows):
            n = len(r["input_ids"])
            ids[i, :n], labels[i, :n], mask[i, :n] = r["input_ids"], r["labels"], 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}

    args = TrainingArguments(output_dir="/tmp/bench_trainer", max_steps=steps,
                             per_device_train_batch_size=batch_size, learning_rate=lr,
                             lr_scheduler_type="linear", warmup_steps=int(0.05 * steps),
                             weight_decay=0.01,
                             max_grad_norm=1.0, logging_steps=10**9, save_strategy="no",
                             report_to=[], use_cpu=device == "cpu", seed=0,
                             dataloader_num_workers=0, disable_tqdm=True,
                             bf16=device != "cpu")  # our loop uses bf16 autocast on CUDA too
    trainer = Trainer(model=model, args=args, train_dataset=Rows(), data_collator=collate)
    t = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - t
    tokens = steps * batch_size * float(enc.length.mean())  # every batch is a random draw
    return tokens / seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    tok, enc = encoded_splits(alphabet="abcdefghijklmnopqrstuvwxyz", n_instructions=100,
                              budget=20_000, noop_fraction=0.2, test_instructions=10,
                              test_examples=10, seen_examples=0)
    train_enc, lr, width = enc["train"], 1e-3, int(enc["train"].length.max())

    ours = build_scratch(args.preset, tok.vocab_size, width, seed=0)
    info = train(ours, train_enc, TrainConfig(lr=lr, batch_size=args.batch_size,
                                              max_steps=args.steps, device=args.device),
                 progress=False)
    theirs = build_scratch(args.preset, tok.vocab_size, width, seed=0)
    hf = hf_trainer_tokens_per_s(theirs, train_enc, args.steps, args.batch_size, lr, args.device)

    print(f"model: {args.preset} preset, {sum(p.numel() for p in ours.parameters()):,} parameters; "
          f"{args.steps} steps of {args.batch_size} examples (~{np.mean(train_enc.length):.0f} tokens each)")
    print(f"our loop: {info['tokens_per_s']:,.0f} tokens/s (final loss {info['loss_curve'][-1][1]:.3f})")
    print(f"HF Trainer: {hf:,.0f} tokens/s")
    print(f"ratio: {info['tokens_per_s'] / hf:.2f}")


if __name__ == "__main__":
    main()
