"""LoRA fine-tuning of the agent model on the user's accepted proposals plus ProactiveBench.

Why LoRA: the 135M agent is small enough to fine-tune on a laptop CPU, but a full copy per user
is 540 MB; an r=8 adapter on the attention's q/v projections is under 2 MB, trains in minutes,
and can be switched off (rollback) without touching the base weights.

Examples are chat messages in the agent's own prompt format (training/dataset.py); the loss is
taken on the assistant's JSON reply only. Base examples come from ProactiveBench's reward data:
a judgement that a proposed task was right (Correct-Detection) becomes a reply with that task,
one that staying silent was right (Correct-Rejection) becomes a "no task" reply. The coding
traces are left out: they are what `companion eval agent` measures.

Like nanoGPT's train.py: a config dataclass, `main(cfg)`, fixed seeds, a progress bar, and
checkpoints that carry the config, the step, the optimizer and the metrics, so an interrupted
run resumes where it stopped. A new adapter becomes active only when its held-out figures are
not worse than the current agent's (companion/agent/adapters.py keeps the history for rollback).

    python -m training.agent_lora --steps 200 --base-only
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from tqdm import tqdm

from companion.agent.prompt import STOCK_REASONS
from companion.agent import adapters
from training.dataset import chat_example, read_jsonl

MIN_USER_EXAMPLES = 10  # accepted proposals needed before a personal fine-tune is worth it


@dataclass
class AgentLoraConfig:
    data: str | None = None  # an exported agent.jsonl; None = export the user's outcomes from the store now
    workspace: str | None = None
    base_only: bool = False  # train on ProactiveBench examples only (the shipped default adapter)
    base_examples: int = 240  # half with a task, half "no task"
    eval_examples: int = 24  # held out from the base examples (and 20% of the user's, at least 2)
    generate_eval: int = 12  # held-out prompts answered greedily to compare JSON and task decisions
    steps: int = 200
    batch_size: int = 4
    lr: float = 1e-3
    warmup: int = 10
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    targets: tuple[str, ...] = ("q_proj", "v_proj")
    max_len: int = 640
    observation_tokens: int = 160  # budget of the observations in each prompt (the agent's own cut)
    seed: int = 0
    out: str | None = None  # the run folder; default models_dir()/agent/run-<time>
    checkpoint_every: int = 25
    activate: bool = True  # make the adapter active when it is not worse
    model_dir: str | None = None
    device: str = "auto"  # auto | cpu | cuda
    seed_data: int = 0


class NotEnoughData(ValueError):
    """Too few accepted proposals for a personal fine-tune; says how many are needed."""


def base_examples(count: int, seed: int, observation_tokens: int = 160) -> list[dict[str, Any]]:
    """Chat examples from ProactiveBench reward rows judged right: task (CD) or silence (CR)."""
    from companion.gate.icl_gate import proactivebench_rows

    rows = proactivebench_rows()
    if not rows:
        raise NotEnoughData("no ProactiveBench data found for the base examples (set COMPANION_PROACTIVEBENCH)")
    rng = random.Random(seed)
    with_task = [r for r in rows if r["valid"] and r.get("pred_task")]
    silent = [r for r in rows if r["valid"] and not r.get("pred_task")]
    rng.shuffle(with_task)
    rng.shuffle(silent)
    chosen = with_task[: count - min(len(silent), count // 2)] + silent[: count // 2]
    rng.shuffle(chosen)
    examples = []
    for row in chosen:
        task = row.get("pred_task")
        reply = {**STOCK_REASONS[bool(task)],  # ProactiveBench rows have tasks but no reasons "proactive_task": task, "response": "", "operation": None,
                 "path": None, "line": None}
        examples.append({**chat_example(row["obs"], reply, observation_tokens=observation_tokens),
                         "source": "proactivebench"})
    return examples


def user_examples(cfg: AgentLoraConfig) -> list[dict[str, Any]]:
    if cfg.data:
        return [{**row, "source": "user"} for row in read_jsonl(Path(cfg.data))]
    from companion.store import Store
    from companion.gate.user_rows import answered, redactor_from_config
    from training.dataset import agent_examples

    with Store() as store:
        redactor = redactor_from_config(cfg.workspace)
        return [{**e, "source": "user"} for e in agent_examples(answered(store, cfg.workspace, redactor), redactor)]


def encode(example: dict[str, Any], tokenizer: Any, max_len: int) -> tuple[list[int], list[int]] | None:
    """Token ids and labels (-100 outside the assistant reply); None when the prompt alone is too long."""
    messages = example["messages"]
    prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    ids = tokenizer(full, add_special_tokens=False)["input_ids"]
    if len(prompt_ids) >= max_len - 8 or ids[: len(prompt_ids)] != prompt_ids:
        return None
    ids = ids[:max_len]
    return ids, [-100] * len(prompt_ids) + ids[len(prompt_ids):]


def shared_prefix(encoded: Sequence[tuple[list[int], list[int]]]) -> int:
    """Length of the token prefix every example starts with (the system rules), which is run
    once per step without gradients and reused through the key/value cache: on a CPU that
    makes a step about 2.5 times cheaper. Its forward pass is exact (current adapter weights);
    only the adapter's gradient through the system prompt's keys and values is left out."""
    if not encoded:
        return 0
    first = encoded[0][0]
    length = min(len(ids) for ids, _ in encoded) - 1
    for ids, _ in encoded[1:]:
        while length > 0 and ids[:length] != first[:length]:
            length -= 1
    # never cut into a reply
    return min([length] + [next((i for i, t in enumerate(labels) if t != -100), len(labels)) for _, labels in encoded])


def prefix_cache(model: Any, prefix: list[int], device: str) -> Any:
    with torch.no_grad():
        return model(input_ids=torch.tensor([prefix], device=device), use_cache=True).past_key_values


def forward_loss(model: Any, prefix: list[int], ids: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor,
                 device: str, cache: Any = None) -> torch.Tensor:
    """The loss of a right-padded batch whose rows all start with `prefix` (stripped from ids);
    `cache` is the prefix's key/value cache when already computed with the current weights."""
    if not prefix:
        return model(input_ids=ids, attention_mask=mask, labels=labels).loss
    cache = copy.deepcopy(cache) if cache is not None else prefix_cache(model, prefix, device)
    if ids.shape[0] > 1:
        cache.batch_repeat_interleave(ids.shape[0])
    full_mask = torch.cat([torch.ones(ids.shape[0], len(prefix), dtype=mask.dtype, device=device), mask], dim=1)
    return model(input_ids=ids, attention_mask=full_mask, past_key_values=cache, labels=labels).loss


def batches(encoded: Sequence[tuple[list[int], list[int]]], size: int, pad: int, rng: random.Random):
    """Endless shuffled right-padded batches."""
    order: list[int] = []
    while True:
        if len(order) < size:
            fresh = list(range(len(encoded)))
            rng.shuffle(fresh)
            order += fresh
        picked, order = order[:size], order[size:]
        width = max(len(encoded[i][0]) for i in picked)
        ids = torch.full((len(picked), width), pad, dtype=torch.long)
        labels = torch.full((len(picked), width), -100, dtype=torch.long)
        mask = torch.zeros((len(picked), width), dtype=torch.long)
        for row, index in enumerate(picked):
            tokens, targets = encoded[index]
            ids[row, : len(tokens)] = torch.tensor(tokens)
            labels[row, : len(targets)] = torch.tensor(targets)
            mask[row, : len(tokens)] = 1
        yield ids, labels, mask


@torch.no_grad()
def mean_loss(model: Any, encoded: Sequence[tuple[list[int], list[int]]], prefix: list[int], device: str) -> float:
    """Token-weighted loss on the replies of held-out examples (all starting with `prefix`)."""
    model.eval()
    total, tokens = 0.0, 0
    cache = prefix_cache(model, prefix, device) if prefix else None
    for tokens_, targets in encoded:
        ids = torch.tensor([tokens_[len(prefix):]], device=device)
        labels = torch.tensor([targets[len(prefix):]], device=device)
        count = int((labels[:, 1:] != -100).sum())
        total += float(forward_loss(model, prefix, ids, labels, torch.ones_like(ids), device, cache)) * count
        tokens += count
    return total / max(1, tokens)


@torch.no_grad()
def generation_figures(model: Any, tokenizer: Any, examples: Sequence[dict[str, Any]], device: str) -> dict[str, float]:
    """Greedy replies to held-out prompts: share of well-formed JSON replies with the expected
    keys, and agreement of the task/no-task decision with the target."""
    from companion.agent.parse import parse_reply

    model.eval()
    well_formed = agree = 0
    for example in examples:
        messages = example["messages"]
        prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
        inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(device)
        output = model.generate(**inputs, max_new_tokens=96, do_sample=False, pad_token_id=tokenizer.eos_token_id)
        text = tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        reply = parse_reply(text)
        try:
            raw = json.loads(text.strip())
            well_formed += int(isinstance(raw, dict) and "proactive_task" in raw)
        except ValueError:
            pass
        target = json.loads(messages[-1]["content"]).get("proactive_task")
        agree += int(reply.is_task == bool(target))
    n = max(1, len(examples))
    return {"json_ok": well_formed / n, "decision_agreement": agree / n, "generated": len(examples)}


def _device(choice: str) -> str:
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return choice


def _split(cfg: AgentLoraConfig) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """(train, held-out, number of user examples)."""
    rng = random.Random(cfg.seed_data)
    user = [] if cfg.base_only else user_examples(cfg)
    if not cfg.base_only and len(user) < MIN_USER_EXAMPLES:
        raise NotEnoughData(f"a personal fine-tune needs at least {MIN_USER_EXAMPLES} accepted proposals; you have "
                            f"{len(user)}: accept {MIN_USER_EXAMPLES - len(user)} more, or train the base adapter "
                            "with --base-only")
    base = base_examples(cfg.base_examples + cfg.eval_examples, cfg.seed_data, cfg.observation_tokens)
    rng.shuffle(user)
    user_held = max(2, len(user) // 5) if user else 0
    held = base[: cfg.eval_examples] + user[:user_held]
    train = base[cfg.eval_examples:] + user[user_held:]
    return train, held, len(user)


def _save_checkpoint(folder: Path, model: Any, optimizer: Any, step: int, cfg: AgentLoraConfig,
                     metrics: dict[str, Any]) -> None:
    tmp = folder.with_name(folder.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(tmp)
    torch.save({"optimizer": optimizer.state_dict(), "step": step, "rng": torch.random.get_rng_state()},
               tmp / "trainer.pt")
    (tmp / "state.json").write_text(json.dumps({"step": step, "config": asdict(cfg), "metrics": metrics}, indent=2))
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    tmp.replace(folder)


def _resumable(config: dict[str, Any]) -> dict[str, Any]:
    """The settings a checkpoint must share with the run that resumes it (more steps may be asked)."""
    return {k: v for k, v in config.items() if k not in ("steps", "activate", "generate_eval")}


def main(cfg: AgentLoraConfig) -> dict[str, Any]:
    """Train, evaluate against the current agent, save, and activate when not worse."""
    from peft import LoraConfig, PeftModel, get_peft_model

    from companion.agent.smollm import load

    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    device = _device(cfg.device)
    run = Path(cfg.out) if cfg.out else adapters.agent_dir() / f"run-{time.strftime('%Y%m%d-%H%M%S')}"
    run.mkdir(parents=True, exist_ok=True)
    train, held, user_count = _split(cfg)
    model, tokenizer = load(cfg.model_dir)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    train_enc = [e for e in (encode(x, tokenizer, cfg.max_len) for x in train) if e]
    held_enc = [e for e in (encode(x, tokenizer, cfg.max_len) for x in held) if e]
    if not train_enc:
        raise NotEnoughData(f"no training example fits in {cfg.max_len} tokens; raise --max-len")
    prefix_len = shared_prefix(train_enc + held_enc)
    prefix = train_enc[0][0][:prefix_len]
    model.to(device)

    # what the agent does now: the active adapter if any, else the untuned model
    current = adapters.active_adapter()
    reference = PeftModel.from_pretrained(model, str(current)) if current else model
    before = {"adapter": str(current) if current else None, "loss": mean_loss(reference, held_enc, prefix, device)}
    gen_examples = held[: cfg.generate_eval]
    if gen_examples:
        before.update(generation_figures(reference, tokenizer, gen_examples, device))
    if current:
        model = reference.unload()  # back to the bare base weights before the new adapter

    checkpoint = run / "checkpoint"
    state = json.loads((checkpoint / "state.json").read_text()) if (checkpoint / "state.json").is_file() else None
    if state and _resumable(state["config"]) != _resumable(json.loads(json.dumps(asdict(cfg)))):
        raise ValueError(f"{checkpoint} was written with another configuration; use another --out or delete it")
    if state:
        model = PeftModel.from_pretrained(model, str(checkpoint), is_trainable=True)
    else:
        lora = LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=list(cfg.targets),
                          task_type="CAUSAL_LM")
        model = get_peft_model(model, lora)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=0.0)
    start = 0
    metrics: dict[str, Any] = {"losses": [], "before": before, "user_examples": user_count,
                               "train_examples": len(train_enc), "held_out": len(held_enc), "device": device,
                               "shared_prefix_tokens": prefix_len,
                               "mean_tokens": round(sum(len(i) for i, _ in train_enc) / len(train_enc), 1)}
    if state:
        saved = torch.load(checkpoint / "trainer.pt", weights_only=False)
        optimizer.load_state_dict(saved["optimizer"])
        torch.random.set_rng_state(saved["rng"])
        start = saved["step"]
        metrics = {**state["metrics"], "before": before}
    rng = random.Random(cfg.seed + start)
    stream = batches([(i[prefix_len:], t[prefix_len:]) for i, t in train_enc], cfg.batch_size, pad, rng)
    model.train()
    started = time.monotonic()
    progress = tqdm(range(start, cfg.steps), desc="lora", initial=start, total=cfg.steps)
    for step in progress:
        lr = cfg.lr * min(1.0, (step + 1) / max(1, cfg.warmup)) * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        for group in optimizer.param_groups:
            group["lr"] = lr
        ids, labels, mask = (t.to(device) for t in next(stream))
        loss = forward_loss(model, prefix, ids, labels, mask, device)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        metrics["losses"].append(round(loss.item(), 4))
        progress.set_postfix(loss=f"{loss.item():.3f}")
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
            _save_checkpoint(checkpoint, model, optimizer, step + 1, cfg, metrics)
    wall = time.monotonic() - started
    trained_steps = cfg.steps - start
    after = {"loss": mean_loss(model, held_enc, prefix, device)}
    if gen_examples:
        after.update(generation_figures(model, tokenizer, gen_examples, device))
    metrics.update({"after": after, "wall_s": round(wall, 1), "steps_per_s": round(trained_steps / wall, 4) if wall else None,
                    "steps_run": trained_steps})
    adapter_dir = run / "adapter"
    model.save_pretrained(adapter_dir)
    (adapter_dir / "training.json").write_text(json.dumps({"config": asdict(cfg), "metrics": metrics}, indent=2))
    not_worse = after["loss"] <= before["loss"] and after.get("json_ok", 1) >= before.get("json_ok", 0) \
        and after.get("decision_agreement", 1) >= before.get("decision_agreement", 0)
    metrics["not_worse"] = not_worse
    metrics["activated"] = bool(cfg.activate and not_worse)
    if metrics["activated"]:
        adapters.activate(adapter_dir, {"before": before, "after": after})
    (run / "metrics.json").write_text(json.dumps({"config": asdict(cfg), "metrics": metrics}, indent=2))
    metrics["adapter"] = str(adapter_dir)
    return metrics


def _parse(argv: Sequence[str] | None = None) -> AgentLoraConfig:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = AgentLoraConfig()
    for name, value in asdict(defaults).items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            parser.add_argument(flag, type=type(value), default=value)
        elif isinstance(value, tuple):
            parser.add_argument(flag, type=lambda s: tuple(x for x in s.split(",") if x), default=value)
        else:
            parser.add_argument(flag, default=value)
    return AgentLoraConfig(**vars(parser.parse_args(argv)))


if __name__ == "__main__":
    result = main(_parse())
    print(json.dumps({k: v for k, v in result.items() if k != "losses"}, indent=2))
